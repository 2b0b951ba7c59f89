"""Data loading throughput: DeviceLoader's batched tensor augmentation vs torchvision PIL transforms.

What is compared, on the same images in one run (decoding excluded on both sides: both start from uint8
pixels in memory, as torchvision's ``CIFAR10`` does):

* ``DeviceLoader``: crop (4-pixel padding) + flip [+ cutout 16], normalize, channels_last float32 batches
  of 512, with ``torch.set_num_threads(1)``: one core (on CPU).
* the classic pipeline: a map-style data set that makes a PIL image per item (``Image.fromarray``, as
  ``torchvision.datasets.CIFAR10`` does) and applies ``RandomCrop(32, padding=4)``,
  ``RandomHorizontalFlip()``, ``ToTensor()``, ``Normalize(...)``, batched by a ``DataLoader`` (batch 512,
  shuffled) with ``num_workers=0`` (one core) and ``num_workers=2`` (persistent workers; two cores, so
  per-core figure = images/s / 2).

Each figure is the mean ± std of ``--runs`` timed epochs after one warm-up epoch; the runs of all
pipelines are interleaved so that load from other processes hits them alike. The ratio is per CPU core.

With ``--device cuda`` it times DeviceLoader on the GPU instead (synchronizing before reading the clock),
next to a per-pixel-gather crop+flip+cutout (index grids of B x H x W positions) as the reference, and
skips the CPU pipelines.

Measured on a 2-core CPU VM (``lscpu`` model name "AMD EPYC", KVM, shared with other jobs: load average
3 to 4), torch 2.14.1+cu130, torchvision 0.29.1, Python 3.11, ``--runs 3``: DeviceLoader crop+flip ran at
40,000-49,000 images/s on one core against 2,000-2,200 for the PIL pipeline with ``num_workers=0``, 19.8x
to 22.8x per core (12.3x to 16.2x with cutout too), on the tiled sample and on the 50,000 JPEG training
images alike; docs/benchmarks.md ("Data loading") has the printed output.

How to run, from the repository root::

    PYTHONPATH=. python benchmarks/bench_data.py                # bundled sample, tiled to 50,000 images
    PYTHONPATH=. python benchmarks/bench_data.py --data /work/shared/data/cifar10-jpeg.tar.gz  # real 50k
    PYTHONPATH=. python benchmarks/bench_data.py --device cuda  # GPU throughput of DeviceLoader
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from resnetzoo.data import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    AugmentConfig,
    DeviceLoader,
    TensorImageDataset,
    image_folder,
    sample_cifar10,
)

BATCH_SIZE = 512


class PILDataset(Dataset):
    """What torchvision's CIFAR10 does per item: a PIL image from the uint8 array, then the transform."""

    def __init__(self, data: np.ndarray, targets: list[int], transform: Callable) -> None:
        self.data, self.targets, self.transform = data, targets, transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        return self.transform(Image.fromarray(self.data[index])), self.targets[index]


def load_images(data: str | None, tile: int) -> TensorImageDataset:
    if data is None:
        sample = sample_cifar10("train")
        data, targets = sample.data.repeat(tile, 1, 1, 1), sample.targets.repeat(tile)
        return TensorImageDataset(data, targets, sample.classes)
    path = Path(data)
    if path.is_file():  # the cifar10-jpeg.tar.gz archive: extract it to a temporary folder
        folder = Path(tempfile.mkdtemp(prefix="bench_data_"))
        with tarfile.open(path) as tar:
            tar.extractall(folder, filter="data")
        path = next(p for p in folder.iterdir() if p.is_dir())
    return image_folder(path, split="train")


def time_epoch(loader, device: torch.device) -> float:
    """Images per second of one pass over ``loader``."""
    images = 0
    start = time.perf_counter()
    for x, _ in loader:
        images += len(x)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return images / (time.perf_counter() - start)


def gather_reference(dataset: TensorImageDataset, device: torch.device, cutout: int):
    """Crop+flip+cutout by a per-pixel gather: the straightforward batched version, for comparison."""
    images = dataset.data.to(device).permute(0, 3, 1, 2)  # (N, C, H, W) uint8
    N, _, H, W = images.shape
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4))
    mean = torch.tensor(CIFAR10_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD, device=device).view(1, 3, 1, 1)
    rows, cols = torch.arange(H, device=device), torch.arange(W, device=device)

    def epoch():
        order = torch.randperm(N, device=device)
        for start in range(0, N - BATCH_SIZE + 1, BATCH_SIZE):
            index = order[start : start + BATCH_SIZE]
            B = len(index)
            dy, dx = torch.randint(0, 9, (2, B, 1, 1), device=device)
            flip = torch.rand(B, 1, 1, device=device) < 0.5
            col = torch.where(flip, W - 1 - cols.view(1, 1, W), cols.view(1, 1, W)) + dx  # (B, 1, W)
            x = padded[index[:, None, None], :, rows.view(1, H, 1) + dy, col]  # (B, H, W, C) gather
            x = (x.permute(0, 3, 1, 2).float() / 255 - mean) / std
            cy, cx = torch.randint(0, H, (2, B, 1, 1, 1), device=device)
            in_rows = (rows.view(1, 1, H, 1) - cy).abs() < cutout // 2
            inside = in_rows & ((cols.view(1, 1, 1, W) - cx).abs() < cutout // 2)
            yield x * ~inside, None

    return epoch


def measure(
    pipelines: dict[str, Callable[[], object]], runs: int, device: torch.device
) -> dict[str, list[float]]:
    """``runs`` images/s figures per pipeline, after a warm-up epoch of each, interleaved."""
    for make in pipelines.values():  # warm-up: worker start, allocator, first-call costs
        time_epoch(make(), device)
    results: dict[str, list[float]] = {name: [] for name in pipelines}
    for _ in range(runs):
        for name, make in pipelines.items():
            results[name].append(time_epoch(make(), device))
    return results


def cpu_name() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(
            line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name")
        )
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        help="cifar10-jpeg.tar.gz or an image folder with a train/ split; default: the bundled sample",
    )
    parser.add_argument("--tile", type=int, default=10, help="repeat the bundled sample this many times")
    parser.add_argument("--runs", type=int, default=5, help="timed epochs per pipeline")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)

    torch.set_num_threads(1)
    dataset = load_images(args.data, args.tile)
    print(
        f"machine: {cpu_name()}, {torch.get_num_threads()} torch thread(s); torch {torch.__version__}, "
        f"torchvision {torchvision.__version__}; device {device}"
        + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "")
    )
    print(f"images: {len(dataset):,} of {tuple(dataset.data.shape[1:])}, batch {BATCH_SIZE}")

    def device_loader(cutout: int, dtype: torch.dtype = torch.float32) -> Callable[[], DeviceLoader]:
        augment = AugmentConfig(cutout=cutout)
        loader = DeviceLoader(
            dataset,
            BATCH_SIZE,
            device=device,
            augment=augment,
            mean=CIFAR10_MEAN,
            std=CIFAR10_STD,
            dtype=dtype,
        )
        return lambda: loader  # one loader, a new epoch per pass

    # name -> (a callable giving the iterable of one epoch, CPU cores it uses)
    ours: dict[str, tuple[Callable[[], object], int]] = {
        "DeviceLoader crop+flip": (device_loader(0), 1),
        "DeviceLoader crop+flip+cutout16": (device_loader(16), 1),
    }
    references: dict[str, tuple[Callable[[], object], int]] = {}
    if device.type == "cuda":
        ours["DeviceLoader crop+flip+cutout16, bf16"] = (device_loader(16, torch.bfloat16), 1)
        references["per-pixel gather crop+flip+cutout16"] = (gather_reference(dataset, device, 16), 1)
    else:
        pil = PILDataset(
            dataset.data.numpy(),
            dataset.targets.tolist(),
            transforms.Compose(
                [
                    transforms.RandomCrop(32, padding=4),
                    transforms.RandomHorizontalFlip(),
                    transforms.ToTensor(),
                    transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD),
                ]
            ),
        )
        in_process = DataLoader(pil, BATCH_SIZE, shuffle=True, num_workers=0)
        two_workers = DataLoader(pil, BATCH_SIZE, shuffle=True, num_workers=2, persistent_workers=True)
        references["PIL transforms, DataLoader num_workers=0"] = (lambda: in_process, 1)
        references["PIL transforms, DataLoader num_workers=2"] = (lambda: two_workers, 2)

    pipelines = {**ours, **references}
    results = measure({name: make for name, (make, _) in pipelines.items()}, args.runs, device)
    unit = "per core" if device.type == "cpu" else ""
    print(f"\n{'pipeline':45s} {'images/s (mean ± std)':>24s} {'cores':>5s} {unit:>10s}")
    rate = {}
    for name, rates in results.items():
        mean, std = statistics.mean(rates), statistics.stdev(rates) if len(rates) > 1 else 0.0
        cores = pipelines[name][1]
        rate[name] = mean / cores if device.type == "cpu" else mean
        print(f"{name:45s} {mean:>13,.0f} ± {std:>8,.0f} {cores:>5d} {rate[name]:>10,.0f}")
    print()
    for mine in ours:
        for theirs in references:
            print(f"{mine} vs {theirs}: {rate[mine] / rate[theirs]:.1f}x {unit}".rstrip())


if __name__ == "__main__":
    main()
