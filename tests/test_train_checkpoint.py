"""Checkpoints never lose work: atomic files, clear errors, pruning, and bitwise-exact resumes."""

from __future__ import annotations

import logging
import os
import random
import signal
import struct
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset
from train_helpers import (
    SeededBatches,
    loaders,
    run_python,
    synthetic_dataset,
    synthetic_images,
    tiny_resnet,
)
from train_worker import train

import resnetzoo
from resnetzoo.data import AugmentConfig, DeviceLoader
from resnetzoo.errors import CheckpointError
from resnetzoo.train import Callback, RunFolder, TrainConfig, Trainer
from resnetzoo.train.checkpoint import (
    FORMAT,
    capture_rng_state,
    find_latest_checkpoint,
    list_checkpoints,
    read_checkpoint,
    restore_rng_state,
    write_checkpoint,
)

# Tiny models: a second torch thread only adds barriers (see helpers.pinned_threads).
pytestmark = pytest.mark.usefixtures("single_thread")

TESTS = Path(__file__).parent


def test_write_then_read_with_weights_only(tmp_path):
    state = {"model": {"w": torch.arange(3.0)}, "epoch": 2, "step": 7, "nested": [1, (2.5, None), "x"]}
    path = write_checkpoint(tmp_path / "sub" / "a.pt", state)
    loaded = torch.load(path, weights_only=True)  # what read_checkpoint does; nothing to unpickle
    assert loaded["format"] == FORMAT
    assert loaded["kind"] == "train"
    assert loaded["resnetzoo_version"] == resnetzoo.__version__
    assert type(loaded["torch_version"]) is str
    assert torch.equal(loaded["model"]["w"], torch.arange(3.0))
    assert loaded["nested"] == [1, (2.5, None), "x"]
    assert os.listdir(tmp_path / "sub") == ["a.pt"]  # no temporary file left behind


def test_a_failed_write_keeps_the_previous_file_whole(tmp_path, monkeypatch):
    path = write_checkpoint(tmp_path / "a.pt", {"model": {}, "epoch": 1, "metrics": {}})
    before = path.read_bytes()

    def dies_half_way(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(OSError, match="disk full"):
        write_checkpoint(path, {"model": {}, "epoch": 2, "metrics": {}})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["a.pt"]


@pytest.mark.parametrize("value", [object(), np.float64(1.0), {"norm_layer": torch.nn.BatchNorm2d}])
def test_only_plain_values_are_written(tmp_path, value):
    with pytest.raises(TypeError, match="weights_only=True"):
        write_checkpoint(tmp_path / "a.pt", {"model": {}, "epoch": 1, "metrics": {"x": value}})


def good_checkpoint(tmp_path) -> Path:
    train, val = loaders(n_train=64)
    Trainer(tiny_resnet(), TrainConfig(epochs=1, progress=False, device="cpu", out_dir=str(tmp_path))).fit(
        train, val
    )
    return tmp_path / "checkpoints" / "epoch_0001.pt"


def test_corrupted_and_foreign_files_raise_checkpoint_error(tmp_path):
    path = good_checkpoint(tmp_path)
    data = path.read_bytes()
    bad = tmp_path / "bad.pt"
    middle = len(data) // 2
    # One byte in the middle of the largest tensor's data (the file's middle may be zip padding).
    with zipfile.ZipFile(path) as archive:
        info = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    at = info.header_offset + 30 + name_len + extra_len + info.file_size // 2
    flipped = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]  # one byte of tensor data
    for damaged in (data[:middle], b"", b"\x00" * 100, data[:100] + b"garbage" + data[107:], flipped):
        bad.write_bytes(damaged)
        with pytest.raises(CheckpointError, match=r"cannot read checkpoint|is corrupted"):
            read_checkpoint(bad)
    bad.write_bytes(flipped)
    with pytest.raises(CheckpointError, match=r"do not match the CRC-32"):
        read_checkpoint(bad)
    torch.save({"conv1.weight": torch.zeros(1)}, bad)  # a bare state dict
    with pytest.raises(CheckpointError, match=r"not a resnetzoo checkpoint.*load_state_dict"):
        read_checkpoint(bad)
    torch.save({"format": FORMAT, "format_version": 99, "kind": "train"}, bad)
    with pytest.raises(CheckpointError, match=r"format version 99.*upgrade resnetzoo"):
        read_checkpoint(bad)
    torch.save({"format": FORMAT, "format_version": 1, "kind": "train", "model": {}}, bad)
    with pytest.raises(CheckpointError, match="lacks the entries"):
        read_checkpoint(bad)
    torch.save(Path("an arbitrary object"), bad)  # weights_only refuses to unpickle it
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        read_checkpoint(bad)
    torch.save({"format": FORMAT, "format_version": 1, "kind": "best", "model": {}}, bad)  # an old best.pt
    with pytest.raises(CheckpointError, match=r"not a training checkpoint; the selected model of a run is"):
        read_checkpoint(bad)
    with pytest.raises(FileNotFoundError):
        read_checkpoint(tmp_path / "missing.pt")
    assert isinstance(CheckpointError("x"), ValueError)


def test_resume_from_a_corrupted_path_raises_and_auto_falls_back_to_the_previous_one(tmp_path, caplog):
    train, val = loaders(n_train=64)
    cfg = TrainConfig(epochs=2, progress=False, device="cpu", out_dir=str(tmp_path))
    Trainer(tiny_resnet(), cfg).fit(train, val)
    newest = tmp_path / "checkpoints" / "epoch_0002.pt"
    newest.write_bytes(newest.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=r"epoch_0002\.pt"):
        Trainer(tiny_resnet(), cfg).fit(train, val, resume=newest)
    with caplog.at_level(logging.WARNING, logger="resnetzoo"):
        path, ckpt = find_latest_checkpoint(tmp_path / "checkpoints")
    assert path.name == "epoch_0001.pt"
    assert ckpt["epoch"] == 1
    assert "skipping unreadable checkpoint" in caplog.text
    history = Trainer(tiny_resnet(), cfg).fit(train, val, resume="auto")
    assert [row["epoch"] for row in history] == [1, 2]


def test_only_the_newest_checkpoints_are_kept_and_the_selected_model_separately(tmp_path):
    train, val = loaders(n_train=64)
    cfg = TrainConfig(epochs=5, keep_checkpoints=2, progress=False, device="cpu", out_dir=str(tmp_path))
    trainer = Trainer(tiny_resnet(), cfg)
    trainer.fit(train, val)
    assert [p.name for p in list_checkpoints(tmp_path / "checkpoints")] == ["epoch_0004.pt", "epoch_0005.pt"]
    # A model resnetzoo did not build (no record) leaves its selected weights alone in best/.
    assert sorted(p.name for p in (tmp_path / "best").iterdir()) == ["model.safetensors"]
    state, _ = RunFolder(tmp_path).read_best()
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(state[key], value)


def test_resume_refuses_a_checkpoint_that_does_not_fit(tmp_path):
    train, val = loaders(n_train=64)
    cfg = TrainConfig(epochs=2, progress=False, device="cpu", out_dir=str(tmp_path))
    Trainer(tiny_resnet(), cfg).fit(train, val)
    wider = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.LazyLinear(4))
    wider(torch.zeros(1, 3, 8, 8))
    with pytest.raises(CheckpointError, match="does not fit this model"):
        Trainer(wider, cfg).fit(train, val, resume="auto")
    other_batches = DataLoader(train.dataset, batch_size=16, shuffle=True)
    with pytest.raises(CheckpointError, match="optimizer steps per epoch"):
        Trainer(tiny_resnet(), cfg).fit(other_batches, val, resume="auto")


def test_rng_state_round_trips():
    state = capture_rng_state()
    expected = (torch.rand(3), random.random(), np.random.rand())
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    restore_rng_state(state)
    again = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(expected[0], again[0])
    assert expected[1:] == again[1:]


# ---------------------------------------------------------------- bitwise-exact resume


class CrashError(Exception):
    pass


class CrashAtEpoch(Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_start(self, trainer):
        if trainer.epoch == self.epoch:
            raise CrashError


def make_loader(kind: str):
    if kind == "device_loader":  # the real one: order from (seed, epoch), crops, flips and cutout
        augment = AugmentConfig(crop_padding=2, flip=True, cutout=3)
        return DeviceLoader(synthetic_dataset(192), 32, device="cpu", augment=augment, seed=3)
    x, y = synthetic_images(192)
    if kind == "seeded":  # DeviceLoader-like: set_epoch, plus noise from the global generator
        return SeededBatches(x, y, batch_size=32)
    generator = torch.Generator() if kind == "generator" else None
    return DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=generator)


SETTINGS = {
    "sgd-cosine-ema": {"schedule": "cosine", "ema_decay": 0.8, "label_smoothing": 0.1, "warmup": 1},
    "adamw-onecycle-accum": {
        "optimizer": "adamw",
        "lr": 3e-3,
        "schedule": "onecycle",
        "grad_clip": 1.0,
        "grad_accum_steps": 2,
    },
}


def untimed(history):
    return [{k: v for k, v in row.items() if k not in ("time_s", "images_per_s")} for row in history]


@pytest.mark.parametrize(
    ("kind", "setting"),
    [
        ("dataloader", "sgd-cosine-ema"),
        ("generator", "adamw-onecycle-accum"),
        ("seeded", "sgd-cosine-ema"),
        ("device_loader", "adamw-onecycle-accum"),
    ],
)
def test_a_resumed_run_is_bitwise_equal_to_an_uninterrupted_one(tmp_path, kind, setting):
    _, val = loaders()
    cfg = {"epochs": 4, "lr": 0.05, "deterministic": True, "progress": False, "device": "cpu"}
    cfg |= SETTINGS[setting]
    full = Trainer(tiny_resnet(), TrainConfig(**cfg, out_dir=str(tmp_path / "full")))
    full.fit(make_loader(kind), val)

    interrupted = TrainConfig(**cfg, out_dir=str(tmp_path / "resumed"))
    with pytest.raises(CrashError):
        Trainer(tiny_resnet(), interrupted, callbacks=[CrashAtEpoch(2)]).fit(make_loader(kind), val)
    # A new process would build its model from scratch: start from different weights.
    resumed = Trainer(tiny_resnet(seed=1), interrupted)
    resumed.fit(make_loader(kind), val, resume="auto")

    assert resumed.global_step == full.global_step
    assert untimed(resumed.history) == untimed(full.history)
    for key, value in full.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
    for key, value in full.ema.state_dict().items() if full.ema is not None else ():
        assert torch.equal(resumed.ema.state_dict()[key], value), key


def run_worker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run_python(str(TESTS / "train_worker.py"), *args, check=check)


def test_a_run_killed_by_sigkill_mid_epoch_resumes_bitwise_exactly(tmp_path):
    reference = train(str(tmp_path / "full"))  # uninterrupted, in this process (also one thread)
    killed = run_worker(str(tmp_path / "run"), str(tmp_path / "never.pt"), "--kill-at", "2:3", check=False)
    assert killed.returncode == -signal.SIGKILL
    assert not (tmp_path / "never.pt").exists()
    # Epochs 0 and 1 were checkpointed; epoch 2 died after its 4th batch and is redone from its start.
    assert [p.name for p in list_checkpoints(tmp_path / "run" / "checkpoints")] == [
        "epoch_0001.pt",
        "epoch_0002.pt",
    ]
    run_worker(str(tmp_path / "run"), str(tmp_path / "resumed.pt"), "--resume")

    resumed = torch.load(tmp_path / "resumed.pt", weights_only=True)
    assert untimed(resumed["history"]) == untimed(reference.history)
    full = reference.model.state_dict()
    assert full.keys() == resumed["model"].keys()
    for key, value in full.items():
        assert torch.equal(resumed["model"][key], value), key
