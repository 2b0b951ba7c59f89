"""Draws the two pictures of the documentation from the CIFAR-10 sample bundled with resnetzoo.

* ``docs/_static/augmentation_grid.png`` (``docs/data.md``): ten training images of the sample, one
  per class, as they are stored, then after each augmentation op of ``resnetzoo.data`` on its own,
  then as ``DeviceLoader`` hands them to the model with the ``fast`` recipe's augmentation (crop +
  flip + 8x8 cutout, applied after normalisation, so the square takes the mean colour).
* ``docs/_static/learning_curve_sample.png`` and ``.csv`` (``docs/training.md``): the README's main
  job, ``resnetzoo train --epochs 8 --batch-size 128 --lr 0.1`` (resnet20_cifar, the ``fast``
  recipe shortened to 8 epochs), run on the bundled sample (``--data sample``: 4,500 train, 500
  val, 1,000 test images) on the CPU; the CSV is the run's ``metrics.csv`` with the test result
  appended as a comment line.

Run from the repository root (matplotlib is needed: ``pip install "resnetzoo[logging]"``)::

    python scripts/make_figures.py                    # both; the training takes minutes on a CPU
    python scripts/make_figures.py --only augment     # just the grid (seconds)

The training run prints its wall time and the machine; quote them in the captions. Random draws
are seeded, so the grid is the same on every run on a CPU; the curve varies slightly with the
machine's floating-point kernels.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import platform
import tempfile
import time
from pathlib import Path

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import resnetzoo as rz
from resnetzoo.cli import main as resnetzoo_main
from resnetzoo.data import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    AugmentConfig,
    DeviceLoader,
    TensorImageDataset,
    cutout,
    random_crop,
    random_flip,
    sample_cifar10,
)

STATIC = Path(__file__).resolve().parents[1] / "docs" / "_static"
TRAIN_ARGS = ["--epochs", "8", "--batch-size", "128", "--lr", "0.1"]  # the README's main job

logger = logging.getLogger("make_figures")


def machine() -> str:
    """``"AMD EPYC ..., 2 cores, torch 2.x"``: what to quote next to a timing."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores, torch {torch.__version__}"


def one_per_class(dataset: TensorImageDataset) -> TensorImageDataset:
    """The first training image of each class, in class order."""
    index = torch.stack([(dataset.targets == c).nonzero()[0, 0] for c in range(dataset.num_classes)])
    return TensorImageDataset(dataset.data[index], dataset.targets[index], dataset.classes)


def augmentation_grid(path: Path) -> None:
    images = one_per_class(sample_cifar10("train"))
    batch = images.data.permute(0, 3, 1, 2).contiguous()  # (B, H, W, C) -> (B, C, H, W) uint8
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)

    def seeded(seed: int) -> torch.Generator:
        return torch.Generator().manual_seed(seed)

    def cutout_as_loaded(uint8: torch.Tensor) -> torch.Tensor:
        # As DeviceLoader does it: normalise, zero the square (= the mean colour), then undo the
        # normalisation for display.
        normalised = (uint8.float() / 255 - mean) / std
        return ((cutout(normalised, 8, seeded(3)) * std + mean) * 255).round().clamp(0, 255).byte()

    # The loader's own batch: shuffling is off (train=False) so the columns stay in class order,
    # and augment= is given explicitly so it still augments.
    loader = DeviceLoader(
        images,
        len(images),
        train=False,
        augment=AugmentConfig(crop_padding=4, flip=True, cutout=8),
        seed=4,
        mean=CIFAR10_MEAN,
        std=CIFAR10_STD,
    )
    loaded, _ = next(iter(loader))
    loaded = ((loaded * std + mean) * 255).round().clamp(0, 255).byte()

    rows = [
        ("original", batch),
        ("random_crop\n(padding 4)", random_crop(batch, 4, seeded(1))),
        ("random_flip\n(p = 1/2)", random_flip(batch, seeded(2))),
        ("cutout\n(8 x 8)", cutout_as_loaded(batch)),
        ("DeviceLoader,\nfast recipe", loaded),
    ]
    scale = 2  # each 32x32 image drawn as 64x64 screen pixels, nearest neighbour
    label_width, header = 130, 22
    cols = len(batch)
    width_px = label_width + cols * (32 * scale + 4)
    height_px = header + len(rows) * (32 * scale + 4)
    dpi = 100
    figure = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    FigureCanvasAgg(figure)
    for r, (label, row) in enumerate(rows):
        for c in range(cols):
            left = (label_width + c * (32 * scale + 4)) / width_px
            bottom = 1 - (header + (r + 1) * (32 * scale + 4) - 4) / height_px
            ax = figure.add_axes((left, bottom, 32 * scale / width_px, 32 * scale / height_px))
            ax.imshow(row[c].permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if r == 0:
                ax.set_title(images.classes[c], fontsize=8, pad=3)
        y = 1 - (header + r * (32 * scale + 4) + 16 * scale) / height_px
        figure.text(6 / width_px, y, label, fontsize=8, va="center", ha="left", family="monospace")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    logger.info("wrote %s (%.0f KB)", path, path.stat().st_size / 1e3)


def train_on_sample(out: Path) -> tuple[list[dict[str, float]], dict[str, float], float]:
    """Runs the README's main job on the bundled sample; returns its history, test metrics and time."""
    start = time.perf_counter()
    args = ["train", "--data", "sample", *TRAIN_ARGS, "--device", "cpu", "--out", str(out), "--no-progress"]
    code = resnetzoo_main(args)
    if code != 0:
        raise SystemExit(f"resnetzoo {' '.join(args)} failed with exit code {code}")
    elapsed = time.perf_counter() - start
    with open(out / "metrics.csv", newline="") as f:
        history = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    test = json.loads((out / "test_metrics.json").read_text())
    return history, test, elapsed


def learning_curve(png: Path, csv_copy: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        history, test, elapsed = train_on_sample(Path(tmp) / "run")
        metrics_csv = (Path(tmp) / "run" / "metrics.csv").read_text()
    where = machine()
    logger.info(
        "trained in %.0f s on %s: test top-1 %.2f%% (flip-TTA %.2f%%)",
        elapsed,
        where,
        100 * test["top1"],
        100 * test.get("top1_tta", float("nan")),
    )
    csv_copy.parent.mkdir(parents=True, exist_ok=True)
    csv_copy.write_text(
        metrics_csv
        + f"# resnetzoo train --data sample {' '.join(TRAIN_ARGS)} --device cpu; {elapsed:.0f} s on {where}\n"
        + f"# test (1,000 images, once, after selection): {json.dumps(test)}\n"
    )

    epochs = [row["epoch"] for row in history]
    figure = Figure(figsize=(8, 3.2), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    loss_ax, top1_ax = figure.subplots(1, 2)
    loss_ax.plot(epochs, [r["train_loss"] for r in history], marker=".", label="train (label smoothing 0.2)")
    loss_ax.plot(epochs, [r["val_loss"] for r in history], marker=".", label="val")
    loss_ax.set_ylabel("cross-entropy")
    top1_ax.plot(epochs, [100 * r["train_top1"] for r in history], marker=".", label="train (augmented)")
    top1_ax.plot(epochs, [100 * r["val_top1"] for r in history], marker=".", label="val")
    best = max(range(len(history)), key=lambda i: history[i]["val_top1"])
    top1_ax.plot(
        [epochs[best]], [100 * test["top1"]], marker="*", markersize=11, linestyle="none",
        label=f"test, once: {100 * test['top1']:.1f}%",
    )  # fmt: skip
    top1_ax.set_ylabel("top-1 accuracy (%)")
    for ax in (loss_ax, top1_ax):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle(
        "resnet20_cifar on the bundled CIFAR-10 sample (4,500 train / 500 val / 1,000 test), CPU",
        fontsize=9,
    )
    png.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png, dpi=100)
    logger.info("wrote %s (%.0f KB) and %s", png, png.stat().st_size / 1e3, csv_copy)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=STATIC, help=f"folder for the files (default: {STATIC})")
    parser.add_argument("--only", choices=("augment", "curve"), help="draw one of the two pictures")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logger.info("resnetzoo %s on %s", rz.__version__, machine())
    if args.only in (None, "augment"):
        augmentation_grid(args.out / "augmentation_grid.png")
    if args.only in (None, "curve"):
        learning_curve(args.out / "learning_curve_sample.png", args.out / "learning_curve_sample.csv")


if __name__ == "__main__":
    main()
