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

Both are drawn by :mod:`resnetzoo.plot` (``plot.augmentations``, ``plot.learning_curves``). Run from the
repository root (matplotlib is needed: ``pip install "resnetzoo[plot]"``)::

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

import resnetzoo as rz
from resnetzoo import plot
from resnetzoo.cli import main as resnetzoo_main
from resnetzoo.data import TensorImageDataset, sample_cifar10

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
    figure = plot.augmentations(one_per_class(sample_cifar10("train")), crop_padding=4, cutout=8, seed=0)
    plot.save_figure(figure, path, what="the augmentation grid")
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

    figure = plot.learning_curves(
        history,
        test_top1=test["top1"],
        title="resnet20_cifar on the bundled CIFAR-10 sample (4,500 train / 500 val / 1,000 test), CPU; "
        "train loss with label smoothing 0.2, train top-1 on augmented images",
    )
    plot.save_figure(figure, png, what="the learning curve")
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
