"""fine_tune: it transfers, freezes what it says, spaces the lrs, resumes, and the CLI and examples run.

The learning test uses a task built to transfer: a noisy 16x16 image holds one 5x5 stroke pattern
of a random colour at a random place, and the class is the pattern. Patterns 0-4 are strokes (a
bar, a diagonal, a square outline...), patterns 5-9 are made of the same strokes (a plus, an X,
an L, a T, five dots), so a network pretrained on classes 0-4 has the features that 5-9 need.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import pinned_threads, tiny_model
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import resnetzoo as rz
from resnetzoo.cli import main
from resnetzoo.data import DeviceLoader, TensorImageDataset
from resnetzoo.models import CifarResNet
from resnetzoo.train import Callback, RunFolder, TrainConfig, Trainer
from resnetzoo.train.finetune import stage_levels

# Tiny models: a second torch thread only adds barriers (see helpers.pinned_threads).
pytestmark = pytest.mark.usefixtures("single_thread")


def _templates() -> torch.Tensor:
    t = torch.zeros(10, 5, 5)
    eye = torch.eye(5)
    t[0, 2, :] = 1  # horizontal bar
    t[1, :, 2] = 1  # vertical bar
    t[2] = eye  # diagonal
    t[3] = eye.flip(1)  # anti-diagonal
    t[4, 0, :] = t[4, 4, :] = t[4, :, 0] = t[4, :, 4] = 1  # square outline
    t[5, 2, :] = t[5, :, 2] = 1  # plus
    t[6] = ((eye + eye.flip(1)) > 0).float()  # X
    t[7, :, 0] = t[7, 4, :] = 1  # L
    t[8, 0, :] = t[8, :, 2] = 1  # T
    t[9, 0, 0] = t[9, 0, 4] = t[9, 4, 0] = t[9, 4, 4] = t[9, 2, 2] = 1  # five dots
    return t


TEMPLATES = _templates()


def patterns(classes: range, n: int, seed: int, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images ``(N, 3, size, size)`` of the pattern task, and labels counted from ``classes[0]``."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.as_tensor(list(classes))[torch.randint(len(classes), (n,), generator=g)]
    images = 0.5 * torch.randn(n, 3, size, size, generator=g)
    colours = 0.5 + torch.rand(n, 3, generator=g)
    offsets = torch.randint(0, size - 4, (n, 2), generator=g)
    for i, ((row, col), label) in enumerate(zip(offsets.tolist(), labels.tolist(), strict=True)):
        images[i, :, row : row + 5, col : col + 5] += colours[i, :, None, None] * TEMPLATES[label]
    return images, labels - classes[0]


def small_resnet(num_classes: int, seed: int = 0, in_chans: int = 3) -> CifarResNet:
    """3 stages of one block, widths 8/16/32 (option-A shortcuts, see train_helpers.tiny_resnet)."""
    torch.manual_seed(seed)
    return tiny_model((8, 16, 32), num_classes=num_classes, in_chans=in_chans, shortcut="A")


def config(**overrides) -> TrainConfig:
    base = {"progress": False, "device": "cpu", "loggers": ("csv",), "seed": 0}
    return TrainConfig(**{**base, **overrides})


def loader(images: torch.Tensor, labels: torch.Tensor, batch_size: int = 16, shuffle: bool = True):
    generator = torch.Generator().manual_seed(0) if shuffle else None
    return DataLoader(
        TensorDataset(images, labels), batch_size=batch_size, shuffle=shuffle, generator=generator
    )


@pytest.fixture(scope="module")
def pretrained() -> CifarResNet:
    """A small network trained on classes 0-4 of the pattern task (about 99% test top-1)."""
    with pinned_threads():  # module-scoped, so not under the single_thread fixture
        model = small_resnet(5)
        images, labels = patterns(range(5), 3000, seed=1)
        Trainer(model, config(epochs=6, lr=0.1, schedule="onecycle", loggers=())).fit(
            loader(images, labels, batch_size=64)
        )
    return model.eval()


@pytest.fixture
def new_task() -> tuple[DataLoader, DataLoader]:
    """Classes 5-9 as labels 0-4: 100 training images (20 per class) and 500 validation images."""
    return loader(*patterns(range(5, 10), 100, seed=3)), loader(*patterns(range(5, 10), 500, seed=4), 250)


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# ------------------------------------------------------------------ it transfers


def test_fine_tuning_beats_training_from_scratch_for_the_same_steps(pretrained, new_task):
    train, val = new_task
    assert (
        Trainer(pretrained, config()).validate(loader(*patterns(range(5), 500, seed=2), 250))["top1"] > 0.95
    )
    tuned = rz.fine_tune(
        copy.deepcopy(pretrained),
        train,
        num_classes=5,
        epochs=8,
        freeze_epochs=2,
        lr=0.1,
        config=config(restore_best=False),  # the last weights, as from scratch: no selection on val
    )
    fine_tuned = Trainer(tuned, config()).validate(val)["top1"]
    scratch = small_resnet(5, seed=1)
    # The same 10 epochs of one-cycle, at the lr that suits training from scratch (0.1 gives 0.33).
    Trainer(scratch, config(epochs=10, lr=0.4, schedule="onecycle")).fit(train)
    from_scratch = Trainer(scratch, config()).validate(val)["top1"]
    # Measured: 0.752 against 0.468 (chance is 0.2).
    assert fine_tuned > 0.6
    assert fine_tuned > from_scratch + 0.15, (fine_tuned, from_scratch)
    history = tuned.fine_tune_history
    assert [(row["phase"], row["epoch"]) for row in history] == [(1, 1), (1, 2)] + [
        (2, e) for e in range(3, 11)
    ]
    assert history[-1]["train_top1"] > 0.8


# ------------------------------------------------------------------ phase 1: what is frozen


def test_phase_one_trains_the_new_head_only_and_keeps_the_batchnorm_statistics(pretrained, new_task):
    model = copy.deepcopy(pretrained)
    before = snapshot(model)
    rz.fine_tune(model, new_task[0], epochs=0, freeze_epochs=2, lr=0.1, config=config())
    after = model.state_dict()
    for key, value in before.items():
        if key.startswith("fc."):
            assert not torch.equal(after[key], value), key
        else:  # weights, BN scales and shifts, running means and variances, batch counters
            assert torch.equal(after[key], value), key
    assert all(p.requires_grad for p in model.parameters())  # unfrozen again afterwards
    assert all(m.training for m in model.modules())  # and in training mode, as the Trainer leaves a model


def test_train_bn_also_trains_the_norm_scales_but_not_their_statistics(pretrained, new_task):
    model = copy.deepcopy(pretrained)
    before = snapshot(model)
    rz.fine_tune(model, new_task[0], epochs=0, freeze_epochs=1, train_bn=True, config=config())
    after = model.state_dict()
    assert not torch.equal(after["layer2.0.bn1.weight"], before["layer2.0.bn1.weight"])
    assert torch.equal(after["layer2.0.bn1.running_mean"], before["layer2.0.bn1.running_mean"])
    assert torch.equal(after["layer2.0.conv1.weight"], before["layer2.0.conv1.weight"])


def test_num_classes_gives_a_new_head_and_none_keeps_the_old_one(pretrained, new_task):
    train, _ = new_task
    model = rz.resnet20_cifar(num_classes=10)
    rz.fine_tune(model, train, num_classes=7, epochs=0, config=config(limit_train_batches=1))
    assert model.fc.out_features == model.num_classes == 7
    assert model.model_kwargs["num_classes"] == 7  # what checkpoints and save_pretrained record
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 7)
    replaced = copy.deepcopy(pretrained)
    head = replaced.fc
    rz.fine_tune(replaced, train, num_classes=5, epochs=0, config=config(limit_train_batches=1))
    assert replaced.fc is not head  # new classes, a new head: also from 5 to 5
    kept = copy.deepcopy(pretrained)
    head = kept.fc
    rz.fine_tune(kept, train, epochs=0, config=config(limit_train_batches=1))  # more of the same classes
    assert kept.fc is head


# ------------------------------------------------------------------ phase 2: discriminative lrs


class OptimizerProbe(Callback):
    """Records each phase's optimizer groups as fit starts."""

    def __init__(self) -> None:
        self.groups: dict[str, list[dict]] = {}

    def on_fit_start(self, trainer):
        self.groups[Path(trainer.config.out_dir).name] = trainer.optimizer.param_groups


def test_each_level_trains_at_lr_mult_times_the_lr_of_the_next(tmp_path, pretrained, new_task):
    model = copy.deepcopy(pretrained)
    probe = OptimizerProbe()
    rz.fine_tune(
        model,
        new_task[0],
        num_classes=5,
        epochs=1,
        lr=0.08,
        lr_mult=0.5,
        config=config(out_dir=str(tmp_path), limit_train_batches=1),
        callbacks=[probe],
    )
    names = {id(p): n for n, p in model.named_parameters()}
    phase1 = probe.groups["phase1"]
    assert {names[id(p)] for g in phase1 for p in g["params"]} == {"fc.weight", "fc.bias"}
    assert {g["max_lr"] for g in phase1} == {0.08}
    phase2 = probe.groups["phase2"]
    peaks = {g["name"]: g["max_lr"] for g in phase2}  # OneCycleLR's peak of each group
    assert peaks == pytest.approx(
        {"head": 0.08, "layer3": 0.04, "layer2": 0.02, "layer1": 0.01, "stem": 0.005}
    )
    assert phase2[0]["name"] == "head"  # first, so trainer.lr and the history's lr are its
    # Every parameter in exactly one group, and no weight decay on norm scales and biases.
    grouped = [names[id(p)] for g in phase2 for p in g["params"]]
    assert sorted(grouped) == sorted(names.values())
    for group in phase2:
        for param in group["params"]:
            assert group["weight_decay"] == (5e-4 if param.ndim >= 2 else 0.0)
    stem = {names[id(p)] for g in phase2 if g["name"] == "stem" for p in g["params"]}
    assert stem == {"conv1.weight", "bn1.weight", "bn1.bias"}


def test_levels_put_what_follows_a_stage_with_that_stage():
    model = rz.preact_resnet18_cifar()
    levels = dict(stage_levels(model))
    assert list(levels) == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    final_norm = set(map(id, model.final_norm.parameters()))
    assert final_norm <= set(map(id, levels["layer4"]))  # the pre-activation network's last norm
    assert [id(p) for p in levels["stem"]] == [id(model.conv1.weight)]
    assert sum(len(ps) for ps in levels.values()) == len(list(model.parameters()))


# ------------------------------------------------------------------ loaders, sizes, channels, sources


def test_64x64_images_from_a_device_loader():
    g = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (48, 64, 64, 3), generator=g, dtype=torch.uint8)
    labels = torch.arange(48) % 3
    pixels[labels == 1, :32, :, 0] = 255  # something to learn
    dataset = TensorImageDataset(pixels, labels, ["a", "b", "c"])
    train = DeviceLoader(dataset, 16, seed=0)
    val = DeviceLoader(dataset, 24, train=False)
    model = rz.fine_tune(
        small_resnet(10), train, num_classes=3, val_loader=val, epochs=1, config=config(loggers=())
    )
    assert model.fc.out_features == 3
    images, _ = next(iter(val))
    assert images.shape == (24, 3, 64, 64)
    assert model(images).shape == (24, 3)
    assert len(model.fine_tune_history) == 2
    assert list(model.fine_tune_history[0])[:3] == ["epoch", "phase", "lr"]
    assert "val_top1" in model.fine_tune_history[0]


def test_a_model_saved_with_save_pretrained_fine_tunes_and_saves_again(tmp_path, new_task):
    rz.save_pretrained(
        rz.resnet20_cifar(), tmp_path / "pretrained", dataset="cifar10", metrics={"top1": 0.91}
    )
    model = rz.from_pretrained(tmp_path / "pretrained")
    rz.fine_tune(model, new_task[0], num_classes=5, epochs=1, config=config(limit_train_batches=2))
    assert dict(model.pretrained_cfg.metrics) == {}  # the pretrained scores no longer apply
    rz.save_pretrained(model, tmp_path / "tuned")
    saved = json.loads((tmp_path / "tuned" / "config.json").read_text())
    assert (saved["num_classes"], saved["metrics"], saved["categories"]) == (5, [], None)
    reloaded = rz.from_pretrained(tmp_path / "tuned")
    for key, value in reloaded.state_dict().items():
        assert torch.equal(value, model.state_dict()[key].cpu()), key


def test_other_channel_counts_load_the_backbone_and_adapt_the_stem(pretrained):
    # A grey-scale model from RGB weights: load all but the stem and head, then sum the stem's RGB
    # filters (a grey image is R = G = B, so the summed filter gives the same response as before).
    state = pretrained.state_dict()
    grey = small_resnet(5, seed=7, in_chans=1)
    report = rz.load_checkpoint(grey, state, strict=False)
    assert [key for key, _, _ in report.mismatched] == ["conv1.weight"]
    with torch.no_grad():
        grey.conv1.weight.copy_(state["conv1.weight"].sum(dim=1, keepdim=True))
    rgb_images, labels = patterns(range(5), 64, seed=5)
    grey_images = rgb_images.mean(dim=1, keepdim=True)
    with torch.no_grad():  # the same network, on grey inputs
        assert torch.allclose(
            grey.eval()(grey_images), pretrained.eval()(grey_images.expand(-1, 3, -1, -1)), atol=1e-4
        )
    conv1 = grey.conv1.weight.detach().clone()
    rz.fine_tune(grey, loader(grey_images, labels), epochs=0, config=config())
    assert torch.equal(grey.conv1.weight, conv1)  # frozen in phase 1 like the rest of the backbone
    rz.fine_tune(grey, loader(grey_images, labels), epochs=1, freeze_epochs=0, config=config())
    assert not torch.equal(grey.conv1.weight, conv1)


# ------------------------------------------------------------------ selection and resuming


def test_the_best_validation_epoch_of_either_phase_is_returned(tmp_path, pretrained, new_task):
    train, val = new_task

    class RuinPhaseTwo(Callback):
        def on_batch_end(self, trainer):
            if trainer.config.out_dir.endswith("phase2"):
                with torch.no_grad():
                    trainer.model.fc.weight.zero_()  # every image gets the same class

    model = rz.fine_tune(
        copy.deepcopy(pretrained),
        train,
        num_classes=5,
        val_loader=val,
        epochs=1,
        freeze_epochs=2,
        lr=0.2,
        config=config(out_dir=str(tmp_path)),
        callbacks=[RuinPhaseTwo()],
    )
    *phase1, phase2 = model.fine_tune_history
    best1 = max(phase1, key=lambda row: row["val_top1"])
    assert phase2["val_top1"] < best1["val_top1"]
    state, val_top1 = RunFolder(tmp_path).read_best()
    assert val_top1 == best1["val_top1"]
    for key, value in model.state_dict().items():
        assert torch.equal(state[key], value), key
    assert Trainer(model, config()).validate(val)["top1"] == pytest.approx(best1["val_top1"])


class CrashError(Exception):
    pass


class CrashAt(Callback):
    """Raises as ``phase`` starts its epoch ``epoch`` (from 0): after the previous one was checkpointed."""

    def __init__(self, phase: str, epoch: int) -> None:
        self.phase, self.epoch = phase, epoch

    def on_epoch_start(self, trainer):
        if trainer.config.out_dir.endswith(self.phase) and trainer.epoch == self.epoch:
            raise CrashError


class EpochLog(Callback):
    def __init__(self) -> None:
        self.epochs: list[tuple[str, int]] = []

    def on_epoch_start(self, trainer):
        self.epochs.append((Path(trainer.config.out_dir).name, trainer.epoch))


def test_resuming_continues_where_it_stopped_and_does_not_redo_a_finished_phase(
    tmp_path, pretrained, new_task
):
    train, val = new_task
    kwargs = {"num_classes": 5, "val_loader": val, "epochs": 3, "freeze_epochs": 1, "lr": 0.1}
    cfg = config(out_dir=str(tmp_path / "run"), deterministic=True)
    with pytest.raises(CrashError):
        rz.fine_tune(copy.deepcopy(pretrained), train, config=cfg, callbacks=[CrashAt("phase2", 2)], **kwargs)
    phase1_checkpoint = tmp_path / "run" / "phase1" / "checkpoints" / "epoch_0001.pt"
    written = phase1_checkpoint.stat().st_mtime_ns
    with pytest.raises(FileExistsError, match="resume='auto'"):
        rz.fine_tune(copy.deepcopy(pretrained), train, config=cfg, **kwargs)

    log = EpochLog()
    resumed = rz.fine_tune(
        copy.deepcopy(pretrained), train, config=cfg, callbacks=[log], resume="auto", **kwargs
    )
    assert log.epochs == [("phase2", 2)]  # phase 1 and the first two epochs of phase 2 were done
    assert phase1_checkpoint.stat().st_mtime_ns == written
    assert [row["phase"] for row in resumed.fine_tune_history] == [1, 2, 2, 2]

    whole = rz.fine_tune(
        copy.deepcopy(pretrained),
        train,
        config=config(out_dir=str(tmp_path / "whole"), deterministic=True),
        **kwargs,
    )
    for key, value in whole.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key
    assert [r["val_top1"] for r in resumed.fine_tune_history] == [
        r["val_top1"] for r in whole.fine_tune_history
    ]


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"num_classes": 0}, ValueError, "num_classes must be None"),
        ({"epochs": 0, "freeze_epochs": 0}, ValueError, "nothing to train"),
        ({"epochs": -1}, ValueError, "epochs must be an integer >= 0"),
        ({"lr": 0.0}, ValueError, "lr must be a finite number > 0"),
        ({"lr_mult": 10}, ValueError, r"lr_mult must be in \(0, 1\]"),
        ({"resume": "last.pt"}, ValueError, "resume must be None or 'auto'"),
        ({"resume": "auto"}, ValueError, "TrainConfig.out_dir, which is None"),
    ],
)
def test_user_errors_are_clear(kwargs, error, message):
    train = loader(*patterns(range(5), 16, seed=0))
    with pytest.raises(error, match=message):
        rz.fine_tune(small_resnet(5), train, **kwargs)


def test_a_model_without_stages_or_head_is_refused():
    train = loader(*patterns(range(5), 16, seed=0))
    with pytest.raises(TypeError, match=r"model.stages and model.get_classifier\(\)"):
        rz.fine_tune(nn.Sequential(nn.Flatten(), nn.Linear(768, 5)), train)
    with pytest.raises(ValueError, match="no classifier head: pass num_classes"):
        rz.fine_tune(small_resnet(0), train)


# ------------------------------------------------------------------ CLI and examples


def write_folder(root: Path, classes=("blue", "red"), per_class=16, size=16):
    rng = np.random.default_rng(0)
    for split, n in (("train", per_class), ("test", per_class // 4)):
        for c, name in enumerate(classes):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 100, (size, size, 3), dtype=np.uint8)
                pixels[..., 2 * c] += 150  # blue or red dominates
                Image.fromarray(pixels).save(root / split / name / f"{i}.png")


def test_cli_fine_tunes_a_saved_model_on_an_image_folder_then_eval_reads_it(tmp_path, capsys):
    write_folder(tmp_path / "images")
    rz.save_pretrained(rz.resnet20_cifar(), tmp_path / "pretrained", dataset="cifar10")
    out = tmp_path / "ft"
    args = [
        "fine-tune",
        "--weights",
        str(tmp_path / "pretrained"),
        "--data",
        str(tmp_path / "images"),
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--out",
        str(out),
        "--device",
        "cpu",
        "--no-progress",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "selected: val top-1 " in printed
    assert "test (8 images): top-1" in printed
    assert sorted(p.name for p in out.iterdir()) == [
        ".resnetzoo.lock",  # held while the command ran, by the process alone
        "best",
        "phase1",
        "phase2",
        "test_metrics.json",
    ]
    saved = rz.from_pretrained(out)  # a run folder reads as its best/
    assert (saved.model_name, saved.model_kwargs["num_classes"]) == ("resnet20_cifar", 2)
    assert saved.pretrained_cfg.categories == ("blue", "red")
    assert saved.pretrained_cfg.base_model == str(tmp_path / "pretrained")
    assert saved.pretrained_cfg.metrics["top1"] == pytest.approx(
        json.loads((out / "test_metrics.json").read_text())["top1"]
    )
    assert (out / "phase2" / "metrics.csv").is_file()

    assert main(["eval", "--weights", str(out), "--data", str(tmp_path / "images")]) == 0
    assert "test (8 images): top-1" in capsys.readouterr().out
    assert main(args) == 2  # a second run would overwrite the first
    assert (
        "pass --resume auto to continue it, or choose another --out" in capsys.readouterr().err
    )  # in CLI words
    assert main([*args, "--resume", "auto"]) == 0  # both phases done: nothing trains again


def test_the_new_head_comes_from_the_seed_so_one_call_gives_one_run():
    """The new head was drawn from whatever state the global generator was in: two calls, two models."""
    images, labels = patterns(range(5, 8), 32, seed=3)
    pretrained = small_resnet(5)
    tuned = []
    for unrelated in (1, 2):
        torch.manual_seed(unrelated)  # what the caller's code drew before: must not matter
        model = rz.fine_tune(
            copy.deepcopy(pretrained), loader(images, labels), num_classes=3, epochs=1, config=config(seed=7)
        )
        tuned.append(model.state_dict())
    for key, value in tuned[0].items():
        assert torch.equal(value, tuned[1][key]), key
    other = rz.fine_tune(
        copy.deepcopy(pretrained), loader(images, labels), num_classes=3, epochs=1, config=config(seed=8)
    )
    assert not torch.equal(other.state_dict()["fc.weight"], tuned[0]["fc.weight"])
