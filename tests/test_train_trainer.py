"""The Trainer on small synthetic tasks: it learns, reports, selects, stops, calls back and refuses NaNs."""

from __future__ import annotations

import csv
import hashlib
import json
import logging

import pytest
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, TensorDataset
from train_helpers import (
    NUM_CLASSES,
    loaders,
    synthetic_dataset,
    synthetic_images,
    tiny_resnet,
)

import resnetzoo as rz
from resnetzoo.data import AugmentConfig
from resnetzoo.errors import NonFiniteLossError, ResnetzooError
from resnetzoo.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LearningCurvePlot,
    ModelCheckpoint,
    ProgressBar,
    TensorBoardLogger,
    TrainConfig,
    Trainer,
)

# Tiny models: a second torch thread only adds barriers (see helpers.pinned_threads).
pytestmark = pytest.mark.usefixtures("single_thread")


def config(**overrides) -> TrainConfig:
    base = {
        "epochs": 3,
        "lr": 0.05,
        "schedule": "cosine",
        "progress": False,
        "device": "cpu",
        "loggers": ("csv",),
    }
    return TrainConfig(**{**base, **overrides})


def test_learns_a_synthetic_task_far_above_chance():
    train, val = loaders()
    trainer = Trainer(tiny_resnet(), config(epochs=4, tta=True))
    history = trainer.fit(train, val)
    assert len(history) == 4
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    assert set(history[0]) == {
        "epoch",
        "lr",
        "train_loss",
        "train_top1",
        "time_s",
        "images_per_s",
        "val_loss",
        "val_top1",
        "val_top5",
        "val_top1_tta",
    }
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    metrics = trainer.test(val)
    assert metrics["top1"] >= 0.9 > 0.25  # chance is 25%
    assert metrics["top1_tta"] >= 0.9  # the classes are mirror-invariant
    assert metrics["top5"] == 1.0  # k = min(5, 4 classes)
    assert metrics == pytest.approx(trainer.validate(val))


def test_make_loader_builds_device_loaders_from_the_config():
    augment = AugmentConfig(cutout=3, crop_padding=2)
    cfg = config(epochs=6, batch_size=32, augment=augment, seed=7, amp="bf16", lr=0.1)
    trainer = Trainer(tiny_resnet(), cfg)
    train = trainer.make_loader(synthetic_dataset(256), train=True, mean=(0.5,) * 3, std=(0.25,) * 3)
    val = trainer.make_loader(synthetic_dataset(128, seed=1), train=False, mean=(0.5,) * 3, std=(0.25,) * 3)
    assert (train.batch_size, train.seed, train.train, train.drop_last) == (32, 7, True, True)
    assert (train.augment.crop_padding, train.augment.flip, train.augment.cutout) == (2, True, 3)
    assert val.augment is None
    assert val.train is False
    images, _ = next(iter(train))
    assert images.dtype == torch.bfloat16  # the autocast dtype: half the bytes, same math
    assert images.is_contiguous(memory_format=torch.channels_last)
    trainer.fit(train, val)
    assert trainer.test(val)["top1"] >= 0.9


def test_selects_the_best_validation_epoch_and_restores_it():
    train, val = loaders()
    trainer = Trainer(tiny_resnet(), config(epochs=4, lr=0.2))
    history = trainer.fit(train, val)
    top1 = [row["val_top1"] for row in history]
    assert trainer.best_epoch == top1.index(max(top1))
    assert trainer.best_metric == max(top1)
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(value, trainer.best_state[key])
    assert trainer.validate(val)["top1"] == pytest.approx(max(top1))


def test_without_validation_it_warns_and_keeps_the_last_weights(caplog):
    train, _ = loaders()
    trainer = Trainer(tiny_resnet(), config(epochs=1))
    with caplog.at_level(logging.WARNING, logger="resnetzoo"):
        history = trainer.fit(train)
    assert "no model selection" in caplog.text
    assert trainer.best_state is None
    assert trainer.best_epoch is None
    assert "val_top1" not in history[0]


def test_predict_returns_logits_or_probabilities_in_order():
    train, val = loaders()
    trainer = Trainer(tiny_resnet(), config(epochs=2))
    trainer.fit(train, val)
    logits = trainer.predict(val)
    assert logits.shape == (128, NUM_CLASSES)
    assert logits.dtype == torch.float32
    assert logits.device.type == "cpu"
    probabilities = trainer.predict(val, probabilities=True)
    assert torch.allclose(probabilities.sum(1), torch.ones(128))
    assert torch.allclose(probabilities, logits.softmax(1))
    targets = torch.cat([y for _, y in val])
    assert (logits.argmax(1) == targets).float().mean().item() == pytest.approx(trainer.validate(val)["top1"])
    images_only = [x for x, _ in val]
    assert torch.equal(trainer.predict(images_only), logits)


def test_callbacks_are_called_in_order_around_the_built_in_ones(tmp_path):
    events = []

    class Recorder(Callback):
        def on_fit_start(self, trainer):
            events.append("fit_start")

        def on_epoch_start(self, trainer):
            events.append(f"epoch_start {trainer.epoch}")

        def on_batch_end(self, trainer):
            events.append(f"batch {trainer.batch_index}")

        def on_validation_end(self, trainer, metrics):
            events.append(f"validation {sorted(metrics)}")

        def on_epoch_end(self, trainer):
            events.append(f"epoch_end {trainer.history[-1]['epoch']}")

        def on_fit_end(self, trainer):
            events.append("fit_end")

    train, val = loaders()
    recorder = Recorder()
    cfg = config(
        epochs=2, limit_train_batches=2, out_dir=str(tmp_path), progress=True, early_stopping_patience=5
    )
    trainer = Trainer(tiny_resnet(), cfg, callbacks=[recorder])
    kinds = [type(cb) for cb in trainer.callbacks]
    assert kinds == [ProgressBar, CSVLogger, type(recorder), EarlyStopping, ModelCheckpoint]
    trainer.fit(train, val)
    per_epoch = ["batch 0", "batch 1", "validation ['loss', 'top1', 'top5']"]
    assert events == [
        "fit_start",
        "epoch_start 0",
        *per_epoch,
        "epoch_end 1",
        "epoch_start 1",
        *per_epoch,
        "epoch_end 2",
        "fit_end",
    ]


def test_a_callback_of_a_built_in_type_replaces_the_default(tmp_path):
    mine = ModelCheckpoint(tmp_path / "elsewhere", every=2, keep=1)
    trainer = Trainer(tiny_resnet(), config(out_dir=str(tmp_path)), callbacks=[mine])
    assert [cb for cb in trainer.callbacks if isinstance(cb, ModelCheckpoint)] == [mine]


def test_metrics_csv_holds_the_history(tmp_path):
    train, val = loaders()
    trainer = Trainer(tiny_resnet(), config(epochs=2, out_dir=str(tmp_path)))
    history = trainer.fit(train, val)
    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        "epoch",
        "lr",
        "train_loss",
        "train_top1",
        "time_s",
        "images_per_s",
        "val_loss",
        "val_top1",
        "val_top5",
    ]
    assert len(rows) == 2
    for row, expected in zip(rows, history, strict=True):
        assert {k: float(v) for k, v in row.items()} == expected
    assert TrainConfig.from_dict(json.loads((tmp_path / "train_config.json").read_text())) == trainer.config
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["epoch_0001.pt", "epoch_0002.pt"]


def test_early_stopping_ends_training_when_val_top1_stops_improving(tmp_path, caplog):
    train, val = loaders()
    # An lr this small leaves the model unchanged, so val top-1 never beats epoch 1.
    cfg = config(epochs=10, lr=1e-12, early_stopping_patience=2, out_dir=str(tmp_path))
    trainer = Trainer(tiny_resnet("group"), cfg)  # no BatchNorm statistics to drift either
    with caplog.at_level(logging.INFO, logger="resnetzoo"):
        history = trainer.fit(train, val)
    assert len(history) == 3
    assert trainer.best_epoch == 0
    assert trainer.should_stop
    assert "early stopping" in caplog.text
    # The run is finished: resuming it does not train further.
    again = Trainer(tiny_resnet("group"), cfg)
    assert len(again.fit(train, val, resume="auto")) == 3


def written(folder) -> dict[str, str]:
    """The checkpoints and selected weights in ``folder`` and the hashes of their contents."""
    files = [*folder.rglob("*.pt"), *folder.rglob("*.safetensors")]
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


class Poison(Callback):
    """Sets the first weight to NaN after batch ``batch`` of epoch ``epoch``; remembers the files then."""

    def __init__(self, epoch: int, batch: int, out_dir=None) -> None:
        self.epoch, self.batch, self.out_dir, self.files = epoch, batch, out_dir, {}

    def on_batch_end(self, trainer):
        if (trainer.epoch, trainer.batch_index) == (self.epoch, self.batch):
            if self.out_dir is not None:
                self.files = written(self.out_dir)
            with torch.no_grad():
                next(trainer.model.parameters()).fill_(float("nan"))


def test_a_nan_loss_stops_training_naming_epoch_and_step_and_keeps_the_checkpoints(tmp_path):
    train, val = loaders()
    poison = Poison(epoch=1, batch=2, out_dir=tmp_path)
    trainer = Trainer(tiny_resnet(), config(out_dir=str(tmp_path)), callbacks=[poison])
    with pytest.raises(NonFiniteLossError, match=r"epoch 2 at batch 4 \(after 12 optimizer steps\)") as info:
        trainer.fit(train, val)
    assert isinstance(info.value, FloatingPointError)
    assert isinstance(info.value, ResnetzooError)
    assert (info.value.epoch, info.value.step) == (1, 12)
    assert set(poison.files) == {"checkpoints/epoch_0001.pt", "best/model.safetensors"}
    assert written(tmp_path) == poison.files  # nothing new, nothing overwritten


def test_nan_weights_at_the_end_of_an_epoch_are_never_checkpointed(tmp_path):
    train, val = loaders()
    last_batch = len(train) - 1
    poison = Poison(epoch=1, batch=last_batch, out_dir=tmp_path)  # after the last loss of epoch 2
    trainer = Trainer(tiny_resnet(), config(out_dir=str(tmp_path)), callbacks=[poison])
    with pytest.raises(NonFiniteLossError, match="after epoch 2 hold NaN or inf; no checkpoint was written"):
        trainer.fit(train, val)
    after = written(tmp_path)
    assert after == poison.files
    assert "checkpoints/epoch_0002.pt" not in after


def test_gradient_accumulation_equals_the_big_batch():
    # GroupNorm, not BatchNorm: BN statistics depend on the micro-batch size by design.
    x, y = synthetic_images(80)
    small = DataLoader(TensorDataset(x, y), batch_size=16)  # 5 batches: groups of 2, 2, 1
    big = DataLoader(TensorDataset(x, y), batch_size=32)  # 3 batches: 32, 32, 16
    cfg = config(epochs=2, lr=0.1, deterministic=True)
    a = Trainer(tiny_resnet("group"), TrainConfig(**{**cfg.to_dict(), "grad_accum_steps": 2}))
    b = Trainer(tiny_resnet("group"), cfg)
    a.fit(small)
    b.fit(big)
    assert a.global_step == b.global_step == 6
    for (name, p), q in zip(a.model.named_parameters(), b.model.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6), name


def test_ema_is_pytorchs_average_and_becomes_the_model():
    train, _ = loaders(n_train=128)

    class Reference(Callback):
        """PyTorch's own AveragedModel, updated after every optimizer step."""

        def on_fit_start(self, trainer):
            self.ema = AveragedModel(trainer.model, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=True)

        def on_batch_end(self, trainer):
            self.ema.update_parameters(trainer.model)

    reference = Reference()
    trainer = Trainer(tiny_resnet(), config(epochs=2, ema_decay=0.9), callbacks=[reference])
    trainer.fit(train)
    assert int(trainer.ema.n_averaged) == trainer.global_step == 8
    expected = reference.ema.module.state_dict()
    for key, value in trainer.model.state_dict().items():
        if value.is_floating_point():
            assert torch.allclose(value, expected[key], atol=1e-6), key


def test_bf16_autocast_runs_on_cpu():
    train, val = loaders(n_train=64)
    trainer = Trainer(tiny_resnet(), config(epochs=1, amp="bf16", channels_last=False))
    assert trainer.amp_dtype == torch.bfloat16
    history = trainer.fit(train, val)
    assert torch.isfinite(torch.tensor(history[0]["train_loss"]))


def test_amp_auto_is_off_on_cpu_and_channels_last_applies_to_the_model():
    trainer = Trainer(tiny_resnet(), config(amp="auto"))
    assert trainer.amp_dtype is None
    assert trainer.device.type == "cpu"
    assert trainer.model.conv1.weight.is_contiguous(memory_format=torch.channels_last)


def test_param_groups_can_be_overridden_and_each_group_keeps_its_own_lr_under_the_schedule():
    class HeadFaster(Trainer):
        def param_groups(self):
            head = list(self.model.fc.parameters())
            body = [p for p in self.model.parameters() if all(p is not h for h in head)]
            return [{"params": head, "lr": 0.1, "name": "head"}, {"params": body, "lr": 0.01}]

    seen = []

    class Probe(Callback):
        def on_batch_end(self, trainer):
            seen.append([group["lr"] for group in trainer.optimizer.param_groups])

    train, _ = loaders(n_train=128)
    trainer = HeadFaster(tiny_resnet(), config(epochs=1, schedule="onecycle"), [Probe()])
    history = trainer.fit(train)
    groups = trainer.optimizer.param_groups
    assert [g.get("name") for g in groups] == ["head", None]
    assert [g["max_lr"] for g in groups] == [0.1, 0.01]  # OneCycleLR peaks at each group's own lr
    assert [g["weight_decay"] for g in groups] == [5e-4, 5e-4]  # options a group leaves out: the config's
    assert len(seen) == 4
    for head_lr, body_lr in seen:
        assert head_lr == pytest.approx(10 * body_lr)
    assert history[0]["lr"] == seen[-2][0]  # the first group's lr in the last step


def test_parts_of_the_model_put_in_eval_mode_on_epoch_start_stay_so_for_the_epoch():
    class FreezeStatistics(Callback):
        def on_epoch_start(self, trainer):
            assert trainer.model.training  # fit put the model in training mode first
            for module in trainer.model.modules():
                if isinstance(module, torch.nn.BatchNorm2d):
                    module.eval()

    model = tiny_resnet()
    before = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    train, val = loaders(n_train=64)
    Trainer(model, config(epochs=2), [FreezeStatistics()]).fit(train, val)
    for key, value in before.items():
        assert torch.equal(model.state_dict()[key], value), key
    assert not torch.equal(model.conv1.weight, tiny_resnet().conv1.weight)  # the weights did train


def test_set_loader_epoch_reseeds_a_dataloader_generator_from_seed_and_epoch():
    from resnetzoo.train.trainer import set_loader_epoch

    def order(epoch, seed):
        loader = DataLoader(
            range(32), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(123)
        )
        set_loader_epoch(loader, epoch, seed)
        return next(iter(loader)).tolist()

    assert order(3, seed=0) == order(3, seed=0)
    assert order(3, seed=0) != order(4, seed=0)
    assert order(3, seed=0) != order(3, seed=1)


def test_user_errors_are_clear():
    with pytest.raises(TypeError, match=r"nn\.Module"):
        Trainer("resnet20_cifar")  # type: ignore[arg-type]
    trainer = Trainer(tiny_resnet(), config())
    with pytest.raises(ValueError, match="has no len"):
        trainer.fit(iter([]))
    with pytest.raises(ValueError, match=r"resume='auto' looks for checkpoints in TrainConfig\.out_dir"):
        trainer.fit(loaders()[0], resume="auto")
    with pytest.raises(ValueError, match="yielded no batches"):
        trainer.validate([])


def test_optional_loggers_are_skipped_or_explained_when_their_package_is_missing(tmp_path, caplog):
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        with pytest.raises(ImportError, match=r"pip install 'resnetzoo\[logging\]'"):
            TensorBoardLogger(tmp_path)
    if importlib.util.find_spec("matplotlib") is None:
        with pytest.raises(ImportError, match="matplotlib"):
            LearningCurvePlot(tmp_path / "curves.png")
    with caplog.at_level(logging.INFO, logger="resnetzoo"):
        trainer = Trainer(
            tiny_resnet(), config(out_dir=str(tmp_path), loggers=("csv", "tensorboard", "plot"))
        )
    for name, kind in (("tensorboard", TensorBoardLogger), ("plot", LearningCurvePlot)):
        present = any(isinstance(cb, kind) for cb in trainer.callbacks)
        assert present or f"{name} logging is off" in caplog.text


def test_the_public_api_is_wired():
    assert rz.Trainer is Trainer
    assert rz.TrainConfig is TrainConfig
    assert rz.Callback is Callback
    for name in ("Trainer", "TrainConfig", "Callback", "recipes"):
        assert name in rz.__all__


def test_tensorboard_and_plot_callbacks_against_stand_ins(tmp_path, monkeypatch):
    """The optional writers' calls, checked against stand-ins for tensorboard and matplotlib.

    Neither package is a dependency (they are the ``logging`` extra), so the suite cannot rely on
    them; these fakes record what the callbacks ask of the real APIs.
    """
    import importlib.util
    import sys
    import types

    scalars, saved, values = [], [], {}

    class SummaryWriter:
        def __init__(self, log_dir):
            self.log_dir = log_dir

        def add_scalar(self, tag, value, step):
            scalars.append((tag, step))
            values[tag, step] = value

        def flush(self):
            pass

        def close(self):
            scalars.append(("closed", None))

    class Axes:  # any attribute, call or item of it is another stand-in (ax.xaxis.set_major_locator(...))
        def __getattr__(self, name):
            return Axes()

        def __call__(self, *args, **kwargs):
            return Axes()

        def __getitem__(self, key):
            return Axes()

    class Figure:
        def __init__(self, **kwargs):
            pass

        def subplots(self, rows, cols):
            return [Axes() for _ in range(rows * cols)]

        def savefig(self, file, format, dpi):  # into memory; the run folder writes the file atomically
            file.write(b"PNG")
            saved.append(format)

    fakes = {
        "torch.utils.tensorboard": types.SimpleNamespace(SummaryWriter=SummaryWriter),
        "matplotlib.figure": types.SimpleNamespace(Figure=Figure),
        "matplotlib.backends.backend_agg": types.SimpleNamespace(FigureCanvasAgg=lambda figure: None),
    }
    for name, module in fakes.items():
        monkeypatch.setitem(sys.modules, name, module)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: object() if name in ("tensorboard", "matplotlib") else real_find_spec(name, *a),
    )
    train, val = loaders(n_train=64)
    trainer = Trainer(tiny_resnet(), config(epochs=2, out_dir=str(tmp_path), loggers=("tensorboard", "plot")))
    assert [type(cb) for cb in trainer.callbacks] == [TensorBoardLogger, LearningCurvePlot, ModelCheckpoint]
    trainer.fit(train, val)
    steps = [(tag, step) for tag, step in scalars if tag.startswith("step/")]
    per_epoch = trainer.batches_per_epoch
    assert steps == [(tag, s) for s in range(1, 2 * per_epoch + 1) for tag in ("step/loss", "step/lr")]
    # On a CPU each point is one batch: epoch 1's points average to its training loss (equal batches).
    epoch1 = [values["step/loss", s] for s in range(1, per_epoch + 1)]
    assert sum(epoch1) / per_epoch == pytest.approx(trainer.history[0]["train_loss"], rel=1e-5)
    assert ("train/loss", 1) in scalars
    assert ("val/top1", 2) in scalars
    assert scalars[-1] == ("closed", None)
    assert saved == ["png", "png"]  # redrawn after each epoch
    assert (tmp_path / "learning_curves.png").read_bytes() == b"PNG"


def _one_hot_loaders(batch_size: int = 32) -> tuple[DataLoader, DataLoader, DataLoader, DataLoader]:
    """The same images with class indices and with one-hot class probabilities as targets."""
    x, y = synthetic_images(192)
    one_hot = torch.nn.functional.one_hot(y, NUM_CLASSES).float()
    hard = [
        DataLoader(TensorDataset(x[:128], y[:128]), batch_size),
        DataLoader(TensorDataset(x[128:], y[128:]), 64),
    ]
    soft = [
        DataLoader(TensorDataset(x[:128], one_hot[:128]), batch_size),
        DataLoader(TensorDataset(x[128:], one_hot[128:]), 64),
    ]
    return (*hard, *soft)


def test_one_hot_targets_train_and_score_as_class_indices_do():
    """Soft targets (mixup, cutmix) are class probabilities: a one-hot row is its class index.

    They used to be compared with the predictions elementwise, which broadcast (B,) against (B, C):
    a train top-1 of 300% and a val top-1 of 100% where the truth was 25%.
    """
    hard_train, hard_val, soft_train, soft_val = _one_hot_loaders()
    hard = Trainer(tiny_resnet(), config(epochs=2)).fit(hard_train, hard_val)
    soft = Trainer(tiny_resnet(), config(epochs=2)).fit(soft_train, soft_val)
    for hard_row, soft_row in zip(hard, soft, strict=True):
        for key in ("train_loss", "train_top1", "val_loss", "val_top1", "val_top5"):
            assert soft_row[key] == pytest.approx(hard_row[key], abs=1e-5), key
        assert 0 <= soft_row["train_top1"] <= 1
    trainer = Trainer(tiny_resnet(), config())
    assert trainer.validate(soft_val) == pytest.approx(trainer.validate(hard_val), abs=1e-6)


def test_mixed_targets_count_their_most_probable_class():
    x, y = synthetic_images(64)
    mixed = 0.7 * torch.nn.functional.one_hot(y, NUM_CLASSES) + 0.3 * torch.nn.functional.one_hot(
        (y + 1) % NUM_CLASSES, NUM_CLASSES
    )
    trainer = Trainer(tiny_resnet(), config())
    soft = trainer.validate(DataLoader(TensorDataset(x, mixed.float()), 32))
    hard = trainer.validate(DataLoader(TensorDataset(x, y), 32))
    assert soft["top1"] == hard["top1"]
    logits = trainer.predict(DataLoader(TensorDataset(x), 32))
    expected = -(mixed * logits.log_softmax(dim=1)).sum(dim=1).mean()  # the cross-entropy against the mixture
    assert soft["loss"] == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        (torch.zeros(32, 1, dtype=torch.int64), r"class indices of shape \(32,\) and an integer dtype"),
        (torch.ones(32, NUM_CLASSES), r"rows sum to 4\.\.4 \(for several labels per image"),
        (torch.zeros(32, NUM_CLASSES + 1), r"class probabilities of shape \(32, 4\)"),
    ],
    ids=["column-of-indices", "multi-hot", "wrong-number-of-classes"],
)
def test_targets_that_are_neither_classes_nor_probabilities_are_refused(targets, message):
    x, _ = synthetic_images(32)
    loader = DataLoader(TensorDataset(x, targets), 32)
    with pytest.raises(ValueError, match=message):
        Trainer(tiny_resnet(), config(epochs=1)).fit(loader)
    with pytest.raises(ValueError, match=message):
        Trainer(tiny_resnet(), config()).validate(loader)


class _AlwaysClassZero(torch.nn.Module):
    """Predicts class 0 for every image: its top-1 on a data set is the share of class 0 in it."""

    num_classes = NUM_CLASSES

    def __init__(self) -> None:
        super().__init__()
        self.logits = torch.nn.Parameter(torch.tensor([5.0, 0.0, 0.0, 0.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(x.shape[0], -1)


def _sorted_by_class(n: int = 256):
    """A validation split stored class by class, as image folders and the bundled sample are."""
    data = synthetic_dataset(n)
    order = torch.argsort(data.targets, stable=True)
    return rz.data.TensorImageDataset(data.data[order], data.targets[order], data.classes)


def test_a_limited_evaluation_sees_a_random_subset_not_the_first_classes(caplog):
    """The first 2 batches of a split sorted by class hold class 0 only: 100% for a model that says 0."""
    data = _sorted_by_class()
    assert data.targets[:32].unique().tolist() == [0]
    trainer = Trainer(_AlwaysClassZero(), config(limit_eval_batches=2, batch_size=16))
    device_loader = rz.data.DeviceLoader(data, 16, train=False, channels_last=False)
    images = torch.stack([image for image, _ in data])  # (N, C, H, W) floats
    data_loader = DataLoader(TensorDataset(images, data.targets), batch_size=16)
    for loader in (device_loader, data_loader):
        with caplog.at_level(logging.INFO, logger="resnetzoo"):
            metrics = trainer.validate(loader)
        assert "evaluating a seeded random 32 of 256" in caplog.text
        assert 0.05 < metrics["top1"] < 0.5  # the share of class 0 in a random 32 of 256 images, not 1.0
        assert trainer.validate(loader) == metrics  # the same subset every time: epochs compare
        caplog.clear()
    # What the subset is: 32 images from every part of the split, drawn from the seed alone.
    subset, limit = rz.train._eval_loaders.limit_evaluation(device_loader, 2, seed=0, world_size=1)
    assert limit is None
    assert len(subset.dataset) == 32
    assert len(subset.dataset.targets.unique()) == NUM_CLASSES
    again, _ = rz.train._eval_loaders.limit_evaluation(device_loader, 2, seed=0, world_size=1)
    assert torch.equal(subset.dataset.data, again.dataset.data)
    assert trainer.test(device_loader)["top1"] == pytest.approx(0.25, abs=0.05)  # test() sees everything


def test_a_limited_evaluation_of_an_unknown_loader_says_it_takes_the_first_batches(caplog):
    batches = [(torch.randn(16, 3, 8, 8), torch.zeros(16, dtype=torch.int64))] * 4
    trainer = Trainer(_AlwaysClassZero(), config(limit_eval_batches=2))
    with caplog.at_level(logging.WARNING, logger="resnetzoo"):
        trainer.validate(batches)
    assert "limit_eval_batches=2 evaluates the first 2 batches of a list in its own order" in caplog.text


def test_evaluation_refuses_a_training_loader():
    """A training loader shuffles, augments and drops the last partial batch: 64 rows for 70 images."""
    data = synthetic_dataset(70)
    trainer = Trainer(tiny_resnet(), config(batch_size=32, channels_last=False))
    training = trainer.make_loader(data, train=True)
    message = (
        r"got a DeviceLoader that shuffles, augments, drops the last partial batch: it would see 64 of its "
        r"70 images, in random order, augmented; build an evaluation loader: "
        r"trainer\.make_loader\(dataset, train=False\)"
    )
    for method in ("predict", "test", "validate"):
        with pytest.raises(ValueError, match=rf"Trainer\.{method}\(\) {message}"):
            getattr(trainer, method)(training)
    with pytest.raises(ValueError, match=rf"Trainer\.fit\(\)'s validation {message}"):
        trainer.fit(training, training)
    evaluation = trainer.make_loader(data, train=False)
    assert trainer.predict(evaluation).shape == (70, NUM_CLASSES)  # every example, in order

    x, y = synthetic_images(70)
    shuffled = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    with pytest.raises(ValueError, match=r"Trainer\.predict\(\) got a DataLoader that shuffles"):
        trainer.predict(shuffled)
    trainer.test(shuffled)  # every example once: the order does not change the metrics
    dropping = DataLoader(TensorDataset(x, y), batch_size=32, drop_last=True)
    with pytest.raises(
        ValueError, match=r"Trainer\.test\(\) got a DataLoader with drop_last=True: it would see 64"
    ):
        trainer.test(dropping)


class _Ticking(TensorDataset):
    """A data set that advances a fake clock by ``seconds`` for each example read."""

    def __init__(self, clock: list[float], seconds: float, *tensors: torch.Tensor) -> None:
        super().__init__(*tensors)
        self.clock, self.seconds = clock, seconds

    def __getitem__(self, index):
        self.clock[0] += self.seconds
        return super().__getitem__(index)


def test_epoch_throughput_counts_training_steps_only_and_prints_validation_and_saving_apart(
    monkeypatch, caplog
):
    """A 3-batch epoch reported "11 img/s": validation and saving were counted as training time."""
    import resnetzoo.train._loop as loop

    clock = [0.0]
    monkeypatch.setattr(loop, "_now", lambda: clock[0])
    x, y = synthetic_images(96 + 128)
    # 3 training batches of 32 images, 1/8 s each to read: 12 s and 8 img/s. 128 validation images at
    # 1 s each: 128 s. The end of each epoch (a checkpoint, say): 10 s.
    train = DataLoader(_Ticking(clock, 0.125, x[:96], y[:96]), batch_size=32)
    val = DataLoader(_Ticking(clock, 1.0, x[96:], y[96:]), batch_size=64)

    class Saving(Callback):
        def on_epoch_end(self, trainer):
            clock[0] += 10.0

    trainer = Trainer(tiny_resnet(), config(epochs=2, loggers=()), callbacks=[Saving()])
    with caplog.at_level(logging.INFO, logger="resnetzoo"):
        history = trainer.fit(train, val)
    assert [(row["time_s"], row["images_per_s"]) for row in history] == [(12.0, 8.0), (12.0, 8.0)]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch ")]
    assert len(lines) == 2
    for line in lines:
        assert line.endswith("| train 12.0 s, 8 img/s | val 128.0 s | saving 10.0 s"), line
    # Without validation there is no val field.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="resnetzoo"):
        Trainer(tiny_resnet(), config(epochs=1, loggers=())).fit(train)
    assert "| train 12.0 s, 8 img/s | saving 0.0 s" in caplog.text
