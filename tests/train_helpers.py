"""Small synthetic data and models for the training tests (imported by tests and by train_worker.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from helpers import tiny_model
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import resnetzoo
from resnetzoo.data import TensorImageDataset
from resnetzoo.models import CifarResNet

NUM_CLASSES = 4


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment for a child: it imports this checkout of resnetzoo (and finds these
    helpers from a script in tests/), is not part of any torchrun job the tests run in, and has ``extra``."""
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(resnetzoo.__file__).parents[1]), env.get("PYTHONPATH", "")])
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    return env


def run_python(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``python *args`` in a child process with :func:`child_env`, on one OpenMP thread.

    Raises:
        AssertionError: with the end of the child's output, if ``check`` and it exits non-zero.
    """
    env = child_env(OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        output = f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
        raise AssertionError(f"python {' '.join(args)} failed ({proc.returncode}):\n{output}")
    return proc


def synthetic_images(n: int, size: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` noisy images whose class is learnable and mirror-invariant.

    Class ``c`` brightens channel ``c % 2`` in the top (``c < 2``) or bottom half, so a horizontal
    flip keeps the class (flip-TTA applies) and chance accuracy is 25%.
    """
    g = torch.Generator().manual_seed(seed)
    images = 0.5 * torch.randn(n, 3, size, size, generator=g)  # (N, C, H, W)
    labels = torch.randint(0, NUM_CLASSES, (n,), generator=g)
    half = size // 2
    for c in range(NUM_CLASSES):
        rows = slice(0, half) if c < 2 else slice(half, size)
        images[labels == c, c % 2, rows, :] += 1.5
    return images, labels


def synthetic_dataset(n: int, size: int = 8, seed: int = 0) -> TensorImageDataset:
    """:func:`synthetic_images` as uint8 ``(N, H, W, C)`` pixels, the form DeviceLoader reads."""
    images, labels = synthetic_images(n, size, seed)
    pixels = ((images + 2) * 60).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()
    return TensorImageDataset(pixels, labels, [f"class{c}" for c in range(NUM_CLASSES)])


def with_running_stats(model: nn.Module) -> nn.Module:
    """Give every BatchNorm non-trivial running statistics, as a trained model has, then eval mode."""
    torch.manual_seed(0)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(16, 3, 32, 32) * 2)
    return model.eval()


def tiny_resnet(norm: str = "batch", seed: int = 0) -> CifarResNet:
    """A 3-stage CifarResNet of width 4/8/16 (a few thousand parameters), seeded.

    Option-A shortcuts: torch 2.14's oneDNN corrupts the heap in the backward pass of a 1x1
    stride-2 convolution with fewer than 16 channels in channels-last layout on one thread,
    which option-B projections this narrow would hit.
    """
    torch.manual_seed(seed)
    norm_layer = None if norm == "batch" else (lambda channels: nn.GroupNorm(2, channels))
    return tiny_model((4, 8, 16), num_classes=NUM_CLASSES, shortcut="A", norm_layer=norm_layer)


def loaders(
    n_train: int = 256, n_val: int = 128, batch_size: int = 32, shuffle: bool = True, **kwargs
) -> tuple[DataLoader, DataLoader]:
    """Train and validation DataLoaders over :func:`synthetic_images`."""
    x, y = synthetic_images(n_train + n_val)
    train = DataLoader(
        TensorDataset(x[:n_train], y[:n_train]), batch_size=batch_size, shuffle=shuffle, **kwargs
    )
    val = DataLoader(TensorDataset(x[n_train:], y[n_train:]), batch_size=64)
    return train, val


class SeededBatches:
    """A DeviceLoader-like loader: ``set_epoch`` and ``seed``, order and noise drawn from ``(seed, epoch)``.

    It also draws augmentation noise from torch's global generator, so a resume is exact only if
    the trainer restores that generator too.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, seed: int = 0) -> None:
        self.images, self.labels, self.batch_size, self.seed = images, labels, batch_size, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.images) // self.batch_size

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 1000 + self.epoch)
        order = torch.randperm(len(self.images), generator=g)
        for b in range(len(self)):
            index = order[b * self.batch_size : (b + 1) * self.batch_size]
            noise = 0.05 * torch.randn(len(index), *self.images.shape[1:])  # global generator
            yield self.images[index] + noise, self.labels[index]


def training_state(model: dict[str, torch.Tensor], epoch: int = 1) -> dict[str, object]:
    """The smallest dict that write_checkpoint and read_checkpoint take as a training checkpoint."""
    return {
        "model": model,
        "optimizer": {},
        "scheduler": {},
        "epoch": epoch,
        "step": 0,
        "config": {},
        "rng": {},
        "history": [],
    }
