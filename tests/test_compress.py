"""Compression: pruned networks that save and load back, int8 ONNX files with their record, distillation."""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
import sys
from typing import ClassVar

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
import torch.nn.functional as F
from helpers import tiny_model
from torch import nn
from train_helpers import with_running_stats

import resnetzoo as rz
from resnetzoo.cli import main
from resnetzoo.compress.distill import distillation_loss
from resnetzoo.compress.prune import inner_channels
from resnetzoo.data import CIFAR10_MEAN, CIFAR10_STD, DeviceLoader, TensorImageDataset
from resnetzoo.errors import ConfigError
from resnetzoo.export import ExportCheckError

# `resnetzoo.compress.quantize` is the function; the module is reached through importlib to monkeypatch it.
quantize_module = importlib.import_module("resnetzoo.compress.quantize")

# Small models and batches: a second torch thread only adds barriers (see conftest.single_thread).
pytestmark = pytest.mark.usefixtures("single_thread")

NORM = {"mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25)}
CPU = {"device": "cpu", "progress": False, "channels_last": False, "loggers": ()}


def _normalised(pixels: torch.Tensor) -> torch.Tensor:
    """Pixels in [0, 1] ``(B, 3, H, W)`` normalised with NORM, as a model recording NORM expects them."""
    mean, std = (torch.tensor(NORM[k]).view(1, 3, 1, 1) for k in ("mean", "std"))
    return (pixels - mean) / std


def _images(n: int, seed: int = 0) -> TensorImageDataset:
    generator = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (n, 32, 32, 3), dtype=torch.uint8, generator=generator)
    return TensorImageDataset(
        pixels, torch.randint(0, 10, (n,), generator=generator), [str(i) for i in range(10)]
    )


# --------------------------------------------------------------------------------------------- prune


@pytest.fixture(scope="module")
def pruned_pair() -> tuple[nn.Module, nn.Module]:
    model = with_running_stats(rz.resnet20_cifar())
    model.pretrained_cfg = dataclasses.replace(model.pretrained_cfg, tag="mine", **NORM)
    return model, rz.prune(model, flops_ratio=0.5, epochs=0)


def test_prune_gives_a_smaller_dense_network_within_the_flops_target(pruned_pair):
    model, pruned = pruned_pair
    assert rz.count_flops(pruned) <= 0.5 * rz.count_flops(model)
    assert rz.count_flops(pruned) >= 0.45 * rz.count_flops(model)  # uniform pruning lands close to the target
    assert rz.count_parameters(pruned) < 0.55 * rz.count_parameters(model)
    assert isinstance(pruned, rz.CifarResNet)
    assert pruned.model_name == "resnet20_cifar"
    # Only the inside of each block is narrower; the residual stream keeps 16/32/64 channels.
    widths = inner_channels(pruned)
    assert pruned.model_kwargs["inner_channels"] == widths
    assert [sorted({w for block in stage for w in block}) for stage in widths] == [[7], [15], [31]]
    assert [block.conv2.out_channels for block in pruned.layer3] == [64, 64, 64]
    assert pruned(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    assert inner_channels(model) == [[[16]] * 3, [[32]] * 3, [[64]] * 3]  # the caller's model is unchanged


def test_prune_keeps_whole_channels_of_the_largest_magnitude(pruned_pair):
    # Structured pruning copies whole channels: each kept filter of conv1 is one of the original's, in order,
    # with its input slice of conv2; the kept ones carry more weight (Torch-Pruning's group L2 magnitude).
    model, pruned = pruned_pair
    before, after = model.layer2[1], pruned.layer2[1]
    rows = before.conv1.weight.flatten(1)
    kept = [int((rows == row).all(dim=1).nonzero()) for row in after.conv1.weight.flatten(1)]
    assert kept == sorted(kept)
    assert len(kept) == after.conv1.out_channels
    torch.testing.assert_close(after.conv2.weight, before.conv2.weight[:, kept], rtol=0, atol=0)
    magnitude = rows.pow(2).sum(1) + before.conv2.weight.transpose(0, 1).flatten(1).pow(2).sum(1)
    dropped = [i for i in range(len(rows)) if i not in kept]
    assert magnitude[kept].mean() > magnitude[dropped].mean()


def test_a_pruned_model_saves_and_loads_back_without_torch_pruning(pruned_pair, tmp_path, monkeypatch):
    _model, pruned = pruned_pair
    record = pruned.pretrained_cfg
    assert record.base_model == "resnet20_cifar.mine"
    assert record.tag is None
    assert record.flops == rz.count_flops(pruned)
    assert record.num_params == rz.count_parameters(pruned)
    assert "Torch-Pruning" in record.notes
    assert record.mean == NORM["mean"]
    folder = rz.save_pretrained(pruned.eval(), tmp_path / "pruned", metrics={"top1": 50.0})
    config = json.loads((folder / "config.json").read_text())
    assert config["model_kwargs"]["inner_channels"] == inner_channels(pruned)
    monkeypatch.setitem(sys.modules, "torch_pruning", None)  # loading needs no pruning library
    loaded = rz.from_pretrained(folder).eval()
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), pruned(x), rtol=0, atol=0)
    assert loaded.pretrained_cfg.metrics == {"top1": 50.0}
    assert loaded.pretrained_cfg.base_model == "resnet20_cifar.mine"


def test_inner_channels_of_bottlenecks_round_trip(tmp_path):
    widths = [[[8, 5]] * 18, [[7, 9]] * 18, [[3, 4]] * 18]
    model = rz.preact_resnet164_cifar(inner_channels=widths)
    assert model.layer2[0].conv2.weight.shape == (9, 7, 3, 3)
    assert model.layer2[0].conv3.weight.shape == (128, 9, 1, 1)
    assert (
        rz.from_pretrained(rz.save_pretrained(model, tmp_path / "m")).model_kwargs["inner_channels"] == widths
    )


@pytest.mark.parametrize(
    ("widths", "message"),
    [
        ([[[8]] * 3, [[8]] * 3], "per stage"),
        ([[[8]] * 3, [[8]] * 3, [[0]] * 3], "per stage"),
        ([[[8]] * 3, [[8]] * 3, [[1.5]] * 3], "per stage"),
        ([[[8]] * 3, [[8]] * 3, [[8]] * 2], "one entry per block"),
    ],
)
def test_config_json_rejects_bad_inner_channels(tmp_path, widths, message):
    folder = rz.save_pretrained(rz.resnet20_cifar(), tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    config["model_kwargs"]["inner_channels"] = widths
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises((ConfigError, ValueError), match=message):
        rz.from_pretrained(folder)


def test_prune_fine_tunes_on_the_given_data():
    data = _images(64)
    train = DeviceLoader(data, 32, train=True, **NORM)
    model = rz.resnet20_cifar()
    config = rz.TrainConfig(**CPU)
    pruned = rz.prune(model, train, flops_ratio=0.6, epochs=1, lr=0.05, config=config)
    assert len(pruned.fine_tune_history) == 1
    assert pruned.fine_tune_history[0]["phase"] == 2
    assert rz.count_flops(pruned) <= 0.6 * rz.count_flops(model)


def test_prune_errors():
    model = rz.resnet20_cifar()
    with pytest.raises(ValueError, match=r"flops_ratio must be a number in \(0, 1\)"):
        rz.prune(model, flops_ratio=1.0, epochs=0)
    with pytest.raises(ValueError, match=r"cannot prune resnet20_cifar to 5% .* ask for flops_ratio >= 0\.1"):
        rz.prune(model, flops_ratio=0.05, epochs=0)
    with pytest.raises(ValueError, match="needs a train_loader"):
        rz.prune(model, flops_ratio=0.5, epochs=1)
    with pytest.raises(TypeError, match="built by a registered factory"):
        rz.prune(tiny_model((8, 8, 8)), epochs=0)
    with pytest.raises(ValueError, match="inner_channels must give 1 integer"):
        rz.resnet20_cifar(inner_channels=[[[8, 8]] * 3, [[8]] * 3, [[8]] * 3])


def test_missing_torch_pruning_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_pruning", None)
    with pytest.raises(ImportError, match=r"pip install 'resnetzoo\[compress\]'"):
        rz.prune(rz.resnet20_cifar(), epochs=0)


# --------------------------------------------------------------------------------------------- quantize


@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    model = with_running_stats(rz.resnet20_cifar())
    model.pretrained_cfg = dataclasses.replace(model.pretrained_cfg, tag="mine", **NORM)
    # An untrained model is unsure of most random images, and rounding flips near-ties; these 128 are the
    # ones of 512 it is surest of, so the int8 model must agree on them. Pixels in [0, 1] normalised as
    # the record says (quantize compares them with it), 128 images: at least MIN_CHECK_IMAGES.
    candidates = _normalised(torch.rand(512, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    with torch.no_grad():
        logits = model(candidates)
    top2 = logits.topk(2, dim=1).values
    surest = (top2[:, 0] - top2[:, 1]).argsort(descending=True)[:128]
    images, labels = candidates[surest], logits.argmax(1)[surest]  # the fp32 model is right on every one
    batches = [(images[i : i + 32], labels[i : i + 32]) for i in range(0, 128, 32)]
    path = rz.quantize(
        model,
        batches,
        tmp_path_factory.mktemp("q") / "m.int8.onnx",
        calibration_images=64,
        check_loader=batches,
    )
    return model, path, batches


def test_quantize_writes_an_int8_onnx_file_that_agrees_with_fp32(quantized):
    model, path, batches = quantized
    graph = onnx.load(str(path)).graph
    ops = {node.op_type for node in graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert any(init.data_type == onnx.TensorProto.INT8 for init in graph.initializer)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images = torch.cat([b[0] for b in batches])
    (logits,) = session.run(None, {"input": images.numpy()})
    with torch.no_grad():
        reference = model(images)
    agreement = float((torch.from_numpy(logits).argmax(1) == reference.argmax(1)).float().mean())
    assert agreement >= 0.9
    assert np.abs(logits - reference.numpy()).max() < 0.2 * float(reference.abs().max())


def test_the_int8_file_carries_its_record(quantized):
    _, path, _ = quantized
    metadata = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert metadata["model_name"] == "resnet20_cifar"
    assert json.loads(metadata["mean"]) == list(NORM["mean"])
    assert metadata["weights"].startswith("int8 post-training static quantization (ONNX Runtime")
    assert metadata["weights"].endswith("of resnet20_cifar.mine")
    record = rz.Weights(**{k: v for k, v in json.loads(metadata["record"]).items() if v is not None})
    assert record.base_model == "resnet20_cifar.mine"
    assert record.tag is None
    # Fractions, as in every record, each saying where and on how many images it was measured.
    assert record.metrics["top1_fp32"] == 1.0
    assert record.metrics["top1"] >= 0.99
    for name in ("top1", "top1_fp32"):
        assert record.metrics.metric(name).num_images == 128
        assert record.metrics.metric(name).split == "check"
    assert "calibrated min/max on 64 images" in record.notes


def test_the_recorded_int8_top1_is_measured_from_the_int8_outputs(tmp_path):
    # Near-ties of an untrained model, labelled with its fp32 answers: fp32 scores 100% by
    # construction, and int8 rounding flips some of them, so the two accuracies must differ and the
    # record's int8 figure must be the written file's own on these images.
    model = with_running_stats(rz.resnet20_cifar())
    model.pretrained_cfg = dataclasses.replace(model.pretrained_cfg, tag="mine", **NORM)
    candidates = _normalised(torch.rand(512, 3, 32, 32, generator=torch.Generator().manual_seed(1)))
    with torch.no_grad():
        logits = model(candidates)
    top2 = logits.topk(2, dim=1).values
    closest = (top2[:, 0] - top2[:, 1]).argsort()[:128]
    images, labels = candidates[closest], logits.argmax(1)[closest]
    batches = [(images[i : i + 32], labels[i : i + 32]) for i in range(0, 128, 32)]
    path = rz.quantize(
        model,
        batches,
        tmp_path / "m.int8.onnx",
        calibration_images=64,
        check_loader=batches,
        max_top1_drop=100,
    )

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (int8_logits,) = session.run(None, {"input": images.numpy()})
    int8_top1 = float((torch.from_numpy(int8_logits).argmax(1) == labels).float().mean())
    assert int8_top1 < 0.97  # rounding flips at least four of the 128 near-ties: the data can show a loss
    metadata = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    record = rz.Weights(**{k: v for k, v in json.loads(metadata["record"]).items() if v is not None})
    assert record.metrics["top1_fp32"] == 1.0
    assert record.metrics["top1"] == pytest.approx(int8_top1, abs=1e-9)
    assert record.metrics.metric("top1").num_images == 128


def test_quantize_refuses_a_model_that_loses_too_much(tmp_path, monkeypatch):
    model = with_running_stats(rz.resnet20_cifar())
    batches = [(torch.rand(16, 3, 32, 32), torch.zeros(16, dtype=torch.long))]
    monkeypatch.setattr(quantize_module, "_compare_top1", lambda *args: (90.0, 88.5, 16))
    with pytest.raises(
        ExportCheckError, match=r"88\.50% against 90\.00% .* 1\.50 points lower, more than max_top1_drop=1"
    ):
        rz.quantize(model, batches, tmp_path / "m.onnx")
    assert not any(tmp_path.iterdir())  # nothing written, no temporary file left


def test_quantize_errors(tmp_path, monkeypatch):
    model = rz.resnet20_cifar()
    images = [torch.rand(8, 3, 32, 32)]
    with pytest.raises(ValueError, match="calibration_images must be an integer >= 1"):
        rz.quantize(model, images, tmp_path / "m.onnx", calibration_images=0)
    with pytest.raises(ValueError, match="max_top1_drop must be"):
        rz.quantize(model, images, tmp_path / "m.onnx", max_top1_drop=-1)
    with pytest.raises(ValueError, match="is a directory"):
        rz.quantize(model, images, tmp_path)
    with pytest.raises(ValueError, match="calibration_loader yielded no images"):
        rz.quantize(model, [], tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="the accuracy check needs labelled batches"):
        rz.quantize(with_running_stats(model), images, tmp_path / "m.onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r'pip install "resnetzoo\[export\]"'):
        rz.quantize(model, images, tmp_path / "m.onnx")


def test_cli_export_quantize(tmp_path, capsys):
    torch.manual_seed(0)  # random weights that score at most chance on the sample's test split
    model = with_running_stats(rz.resnet20_cifar())
    folder = rz.save_pretrained(model, tmp_path / "model", dataset="cifar10", **NORM)
    out = tmp_path / "m.int8.onnx"
    args = ["export", "--weights", str(folder), "--output", str(out), "--quantize", "int8"]
    calibrate = ["--calibration-data", "sample", "--calibration-images", "64"]
    # Random weights score chance on the test split: the check cannot show a loss, so no file is written.
    assert main([*args, *calibrate, "--max-top1-drop", "100"]) == 2
    error = capsys.readouterr().err
    assert re.search(
        r"the accuracy check proves nothing: the fp32 model scores (\d\.\d\d)% on 1,000 test images, "
        r"no better than chance for 10 classes \(10\.00%\)",
        error,
    ), error
    assert error.rstrip().endswith("or pass --max-top1-drop none to write it unchecked")
    assert not out.exists()
    # Said explicitly: written, the scores measured and printed with their split, marked unchecked.
    assert main([*args, *calibrate, "--max-top1-drop", "none"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"wrote {out} (int8 ONNX, 0.")
    assert "in fp32 on 1,000 test images, not checked: --max-top1-drop none)" in printed
    record = json.loads({p.key: p.value for p in onnx.load(str(out)).metadata_props}["record"])
    assert {(m["name"], m["split"], m["num_images"]) for m in record["metrics"]} == {
        ("top1", "test", 1000),
        ("top1_fp32", "test", 1000),
    }
    assert record["notes"].endswith("its top-1 was not checked against fp32 (max_top1_drop=None)")
    assert main(args) == 2
    assert "--quantize int8 needs --calibration-data" in capsys.readouterr().err
    assert main([*args, "--format", "torchscript", "--calibration-data", "sample"]) == 2
    assert "writes an ONNX file" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------- distill


def test_distillation_loss_is_hintons():
    torch.manual_seed(0)
    student, teacher = torch.randn(4, 10), torch.randn(4, 10)
    targets = torch.tensor([1, 2, 3, 4])
    hard = F.cross_entropy(student, targets)
    assert torch.allclose(distillation_loss(student, teacher, targets, temperature=4.0, alpha=0.0), hard)
    t = 4.0
    p, q = F.softmax(teacher / t, dim=1), F.log_softmax(student / t, dim=1)
    soft = (p * (p.log() - q)).sum(1).mean() * t**2
    mixed = distillation_loss(student, teacher, targets, temperature=t, alpha=0.7)
    assert torch.allclose(mixed, 0.7 * soft + 0.3 * hard)
    assert float(distillation_loss(teacher, teacher, targets, temperature=2.0, alpha=1.0)) == pytest.approx(
        0, abs=1e-6
    )


class _Recorder(nn.Module):
    """A teacher that logs its mode and grad mode at each call, in a class attribute that copies share."""

    log: ClassVar[list[tuple[bool, bool]]] = []

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.log.append((self.training, torch.is_grad_enabled()))
        return self.net(x)


def test_the_student_learns_the_teachers_function():
    torch.manual_seed(0)
    teacher = with_running_stats(tiny_model((8, 8, 8)))
    data = _images(128)  # the labels are random: only the teacher can say anything about these images
    loader = DeviceLoader(data, 32, train=True, augment=None, **NORM)
    config = rz.TrainConfig(epochs=6, lr=0.05, schedule="onecycle", **CPU)
    images = torch.cat([x for x, _ in DeviceLoader(data, 128, train=False, **NORM)])
    with torch.no_grad():
        wanted = teacher(images).argmax(1)

    def agreement(student: nn.Module) -> float:
        with torch.no_grad():
            return float((student.eval()(images).argmax(1) == wanted).float().mean())

    torch.manual_seed(1)
    distilled = rz.distill(tiny_model((8, 8, 8)), teacher, loader, alpha=1.0, config=config)
    torch.manual_seed(1)
    labels_only = rz.distill(tiny_model((8, 8, 8)), teacher, loader, alpha=0.0, config=config)
    assert agreement(distilled) > 0.5 > agreement(labels_only)


def test_the_teacher_runs_in_eval_mode_without_gradients_and_is_left_alone():
    teacher = _Recorder(with_running_stats(tiny_model((8, 8, 8)))).train()
    teacher.pretrained_cfg = rz.Weights(architecture="resnet20_cifar", tag="teach", **NORM)
    loader = DeviceLoader(_images(64), 32, train=True, **NORM)
    _Recorder.log.clear()
    student = rz.distill(rz.resnet20_cifar(), teacher, loader, config=rz.TrainConfig(epochs=1, **CPU))
    assert _Recorder.log == [(False, False)] * 2  # one call per batch, in eval mode, without gradients
    assert teacher.training  # the caller's teacher keeps its mode and gradients: the trainer used a copy
    assert all(p.requires_grad and p.grad is None for p in teacher.parameters())
    # The student's record: from random weights, fed as the teacher was, the teacher named.
    record = student.pretrained_cfg
    assert record.notes.startswith("distilled from resnet20_cifar.teach (Hinton et al. 2015 soft targets")
    assert record.mean == NORM["mean"]
    assert record.base_model is None


def test_distillation_resumes_exactly(tmp_path):
    teacher = with_running_stats(tiny_model((8, 8, 8)))
    loader = DeviceLoader(_images(64), 32, train=True, **NORM)
    config = rz.TrainConfig(epochs=2, deterministic=True, out_dir=str(tmp_path / "whole"), **CPU)
    torch.manual_seed(0)
    whole = rz.distill(rz.resnet20_cifar(), teacher, loader, config=config)  # a registered student: resumable
    # A run interrupted after its first epoch: only that epoch's checkpoint exists.
    (tmp_path / "cut" / "checkpoints").mkdir(parents=True)
    first = tmp_path / "whole" / "checkpoints" / "epoch_0001.pt"
    (tmp_path / "cut" / "checkpoints" / first.name).write_bytes(first.read_bytes())
    torch.manual_seed(5)  # another initialisation: everything must come from the checkpoint
    cut = dataclasses.replace(config, out_dir=str(tmp_path / "cut"))
    resumed = rz.distill(rz.resnet20_cifar(), teacher, loader, config=cut, resume="auto")
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_distill_errors():
    student, loader = rz.resnet20_cifar(), [(torch.rand(2, 3, 32, 32), torch.zeros(2, dtype=torch.long))]
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        rz.distill(student, rz.resnet20_cifar(), loader, temperature=0)
    with pytest.raises(
        ValueError, match=r"alpha must be a number in \[0, 1\] \(the weight of the teacher's soft targets\)"
    ):
        rz.distill(student, rz.resnet20_cifar(), loader, alpha=1.5)
    with pytest.raises(ValueError, match="the student has 10 classes and the teacher 100"):
        rz.distill(student, rz.resnet20_cifar(num_classes=100), loader)
    with pytest.raises(TypeError, match=r"the teacher must be a torch\.nn\.Module"):
        rz.distill(student, "resnet56_cifar", loader)
    teacher = rz.resnet20_cifar()
    teacher.pretrained_cfg = dataclasses.replace(teacher.pretrained_cfg, **NORM)
    student.pretrained_cfg = dataclasses.replace(student.pretrained_cfg, mean=(0.1,) * 3, std=(0.2,) * 3)
    with pytest.raises(ValueError, match="must expect the same normalisation"):
        rz.distill(student, teacher, loader)


def test_cli_distill(tmp_path, capsys):
    teacher = with_running_stats(rz.resnet20_cifar())
    teacher_folder = rz.save_pretrained(teacher, tmp_path / "teacher", dataset="cifar10", **NORM)
    out = tmp_path / "run"
    args = ["distill", "--teacher", str(teacher_folder), "--student", "resnet20_cifar", "--data", "sample"]
    assert (
        main(
            [
                *args,
                "--epochs",
                "1",
                "--limit-batches",
                "2",
                "--out",
                str(out),
                "--no-progress",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "test (1,000 images): top-1" in printed
    config = json.loads((out / "best" / "config.json").read_text())
    assert config["notes"].startswith(f"distilled from {teacher_folder} (Hinton et al. 2015")
    assert config["mean"] == list(NORM["mean"])
    assert "top1" in {metric["name"] for metric in config["metrics"]}
    assert (
        main(["distill", "--teacher", "resnet20_cifar", "--student", "resnet20_cifar", "--data", "sample"])
        == 2
    )
    assert "has random weights" in capsys.readouterr().err


def test_old_module_paths_still_work_and_warn():
    # quantize.py, prune.py and train/distill.py moved into resnetzoo.compress in 0.2.
    # (`import resnetzoo.compress.prune as m` would give the function, which shadows the module.)
    new_distill = importlib.import_module("resnetzoo.compress.distill")
    new_prune = importlib.import_module("resnetzoo.compress.prune")

    with pytest.warns(
        DeprecationWarning, match=r"^the module path resnetzoo\.prune is deprecated since"
    ) as caught:
        from resnetzoo.prune import inner_channels as old_inner_channels
    assert old_inner_channels is new_prune.inner_channels
    assert "use resnetzoo.compress.prune instead (read inner_channels" in str(caught[0].message)
    assert caught[0].filename == __file__
    with pytest.warns(DeprecationWarning, match=r"resnetzoo\.quantize is deprecated .* removed in 0\.3"):
        from resnetzoo.quantize import DEFAULT_MAX_TOP1_DROP
    assert DEFAULT_MAX_TOP1_DROP == quantize_module.DEFAULT_MAX_TOP1_DROP == 1.0
    with pytest.warns(DeprecationWarning, match=r"resnetzoo\.train\.distill is deprecated"):
        from resnetzoo.train.distill import distillation_loss as old_loss
    assert old_loss is new_distill.distillation_loss
    with pytest.raises(ImportError, match="no_such_name"):
        from resnetzoo.prune import no_such_name  # noqa: F401
    # The public functions keep their names and stay the functions, not the old modules.
    assert rz.quantize is quantize_module.quantize
    assert rz.prune is new_prune.prune
    assert rz.distill is new_distill.distill is rz.compress.distill


def test_train_distill_warns_and_still_distills():
    student, loader = rz.resnet20_cifar(), [(torch.rand(2, 3, 32, 32), torch.zeros(2, dtype=torch.long))]
    old = rz.train.distill
    assert old.__wrapped__ is rz.distill
    assert old is rz.train.distill  # one wrapper, made once
    with (
        pytest.warns(
            DeprecationWarning, match=r"^distill is deprecated since resnetzoo 0\.2 .* use resnetzoo\.distill"
        ),
        pytest.raises(ValueError, match="temperature must be a finite number > 0"),  # reached rz.distill
    ):
        old(student, rz.resnet20_cifar(), loader, temperature=0)
    assert old.__deprecation__.removed_in == "0.3"


# ------------------------------------------ the data a compression step is given, and its gate (issue 21)


def _recorded_model() -> nn.Module:
    """resnet20_cifar with BatchNorm statistics and a record saying its weights were trained on NORM."""
    torch.manual_seed(0)
    model = with_running_stats(rz.resnet20_cifar())
    model.pretrained_cfg = dataclasses.replace(model.pretrained_cfg, tag="mine", **NORM)
    return model


def test_quantize_refuses_calibration_normalised_otherwise_than_the_record(tmp_path, caplog):
    # Issue 21 #6: 0.1.0 calibrated and checked on these images, and the file's record said "no loss".
    model, data = _recorded_model(), _images(64)
    unnormalised = DeviceLoader(data, 32, train=False)  # pixels in [0, 1]
    with pytest.raises(rz.ArgumentError) as refused:
        rz.quantize(model, unnormalised, tmp_path / "m.onnx", max_top1_drop=None)
    assert str(refused.value) == (
        "calibration_loader gives pixels in [0, 1] (not normalised), but the model's weights "
        "(resnet20_cifar.mine) were trained on images normalised with mean (0.5, 0.5, 0.5), std (0.25, 0.25, "
        "0.25): the model would see inputs unlike those it learned from; normalise it as the record says "
        "(e.g. DeviceLoader(..., mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))), or pass "
        "normalisation_mismatch='allow' if this is intended"
    )
    assert refused.value.param == "calibration_loader"
    cifar = {"mean": CIFAR10_MEAN, "std": CIFAR10_STD}
    calibration = DeviceLoader(data, 32, train=False, **NORM)
    with pytest.raises(
        rz.ArgumentError, match=r"^check_loader gives images normalised with mean \(0\.4914, "
    ):
        rz.quantize(model, calibration, tmp_path / "m.onnx", check_loader=DeviceLoader(data, 32, **cifar))
    # A DataLoader tells its normalisation through its data set's transform: Preprocess or Normalize.
    from torch.utils.data import DataLoader
    from torchvision.transforms import v2

    from resnetzoo.data.preprocess import Preprocess

    for transform in (Preprocess((3, 32, 32), **cifar), v2.Compose([v2.Normalize(**cifar)])):
        other = TensorImageDataset(data.data, data.targets, data.classes, transform=transform)
        with pytest.raises(rz.ArgumentError, match=r"^calibration_loader gives images normalised with mean"):
            rz.quantize(model, DataLoader(other, batch_size=32), tmp_path / "m.onnx")
    assert not any(tmp_path.iterdir())
    # Said explicitly, the mismatch is allowed (and the check of this random model is not a gate).
    caplog.set_level("WARNING", logger="resnetzoo")
    path = rz.quantize(
        model,
        unnormalised,
        tmp_path / "m.onnx",
        calibration_images=32,
        max_top1_drop=None,
        normalisation_mismatch="allow",
    )
    assert path.is_file()
    with pytest.raises(rz.ArgumentError, match="normalisation_mismatch must be one of 'refuse', 'allow'"):
        rz.quantize(model, calibration, tmp_path / "n.onnx", normalisation_mismatch="ignore")


def test_quantize_measures_a_plain_loader_of_tensors_against_the_record(tmp_path, caplog):
    model = _recorded_model()
    pixels = torch.rand(32, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    labels = torch.zeros(32, dtype=torch.long)
    # Unnormalised pixels: nothing below 0, where NORM makes every pixel darker than 0.5 negative.
    with pytest.raises(
        rz.ArgumentError, match=r"^calibration_loader's first batch has no value below 0 \(in "
    ):
        rz.quantize(model, [(pixels, labels)], tmp_path / "m.onnx")
    # Normalised with a tenth of the std: values NORM cannot give from pixels in [0, 1].
    squeezed = (pixels - 0.5) / 0.025
    with pytest.raises(
        rz.ArgumentError,
        match=r"^calibration_loader's first batch has values in \[-20(\.0)?, 20(\.0)?\], which pixels in "
        r"\[0, 1\] normalised with mean \(0\.5, 0\.5, 0\.5\), std \(0\.25, 0\.25, 0\.25\) as the model's "
        r"weights \(resnet20_cifar\.mine\) were trained cannot give \(per channel \[-2, 2\], \[-2, 2\], "
        r"\[-2, 2\]\)",
    ):
        rz.quantize(model, [(squeezed, labels)], tmp_path / "m.onnx")
    # The check loader is measured too, on its first batch.
    good = [(_normalised(pixels), labels)]
    with pytest.raises(rz.ArgumentError, match=r"^check_loader's first batch has no value below 0"):
        rz.quantize(model, good, tmp_path / "m.onnx", check_loader=[(pixels, labels)])
    assert not any(tmp_path.iterdir())
    # Images the record's normalisation can give: measured, but unproven, which a warning says.
    caplog.set_level("WARNING", logger="resnetzoo")
    rz.quantize(model, good, tmp_path / "m.onnx", max_top1_drop=None)
    assert "the normalisation of calibration_loader is not known (a plain loader of tensors" in caplog.text
    assert "that does not prove it was normalised so" in caplog.text
    # Images of another size than the model's (and the ONNX file's) input.
    with pytest.raises(
        ValueError, match=r"calibration_loader gives images of size \(3, 16, 16\), the model "
    ):
        rz.quantize(model, [_normalised(torch.rand(4, 3, 16, 16))], tmp_path / "m.onnx")


def test_the_accuracy_gate_refuses_a_check_that_cannot_show_a_loss(tmp_path, caplog):
    # Issue 21: "a quantize check that proves nothing (0% vs 0%, one image) passes without a word".
    torch.manual_seed(0)
    model = with_running_stats(tiny_model((8, 8, 8)))  # no record: nothing to compare normalisation with
    images = torch.randn(128, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        predicted = model(images).argmax(1)
    wrong = [(images[i : i + 64], (predicted[i : i + 64] + 1) % 10) for i in (0, 64)]  # fp32 scores 0%
    with pytest.raises(ExportCheckError) as refused:
        rz.quantize(model, wrong, tmp_path / "m.onnx", calibration_images=64, check_loader=wrong)
    message = str(refused.value)
    assert message.startswith(
        "the accuracy check proves nothing: the fp32 model scores 0.00% on 128 check images, no better than "
        "chance for 10 classes (10.00%): a model that is wrong there anyway cannot show what int8 loses"
    )
    assert message.endswith("or pass max_top1_drop=None to write it unchecked")
    one = [(images[:1], predicted[:1])]  # fp32 100%, int8 100%: one image
    with pytest.raises(
        ExportCheckError, match=r"the check ran on 1 calibration image, fewer than 100: top-1 "
    ):
        rz.quantize(model, one, tmp_path / "m.onnx")
    assert quantize_module.MIN_CHECK_IMAGES == 100
    assert not any(tmp_path.iterdir())
    # Unchecked on request: written, the scores recorded on their split and count, the record says so.
    caplog.set_level("WARNING", logger="resnetzoo")
    path = rz.quantize(model, one, tmp_path / "m.onnx", max_top1_drop=None)
    assert (
        "quantize writes the int8 model unchecked (max_top1_drop=None), and the check ran on 1" in caplog.text
    )
    metadata = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert "record" not in metadata  # a model without a record gets none
    assert metadata["weights"].startswith("int8 post-training static quantization")


def test_prune_and_distill_refuse_loaders_normalised_otherwise_than_the_record():
    model, data = _recorded_model(), _images(64)
    unnormalised = DeviceLoader(data, 32, train=True)
    with pytest.raises(
        rz.ArgumentError,
        match=r"^train_loader gives pixels in \[0, 1\] \(not normalised\), but the model's weights "
        r"\(resnet20_cifar\.mine\) were trained on images normalised with mean \(0\.5, 0\.5, 0\.5\)",
    ):
        rz.prune(model, unnormalised, flops_ratio=0.5, epochs=1, config=rz.TrainConfig(**CPU))
    normalised = DeviceLoader(data, 32, train=True, **NORM)
    with pytest.raises(rz.ArgumentError, match=r"^val_loader gives pixels in \[0, 1\]"):
        rz.prune(model, normalised, DeviceLoader(data, 32, train=False), flops_ratio=0.5, epochs=1)
    with pytest.raises(
        rz.ArgumentError,
        match=r"^train_loader gives pixels in \[0, 1\] \(not normalised\), but the teacher's weights "
        r"\(resnet20_cifar\.mine\) were trained on",
    ):
        rz.distill(rz.resnet20_cifar(), model, unnormalised, config=rz.TrainConfig(epochs=1, **CPU))
    # Allowed explicitly: trained (one epoch of two batches), the record keeping the teacher's.
    student = rz.distill(
        rz.resnet20_cifar(),
        model,
        unnormalised,
        config=rz.TrainConfig(epochs=1, **CPU),
        normalisation_mismatch="allow",
    )
    assert student.pretrained_cfg.mean == NORM["mean"]
