"""Pictures of training and evaluation: learning curves, the confusion matrix."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validate import check_bool
from ._common import COLORMAP, _colors, _figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..evaluation import Evaluation


def _history(source: Any) -> list[dict[str, float]]:
    """A run's history: a run folder (its metrics.csv), a metrics.csv, or a list of per-epoch dicts."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        path = path / "metrics.csv" if path.is_dir() else path
        if not path.is_file():
            raise FileNotFoundError(
                f"no metrics.csv at {path}: give a run folder, its metrics.csv or a history"
            )
        with open(path, newline="") as f:
            return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]
    return [dict(row) for row in source]


def learning_curves(
    run_dir_or_metrics: Any,
    *,
    compare: Sequence[Any] | None = None,
    labels: Sequence[str] | None = None,
    test_top1: float | None = None,
    title: str | None = None,
) -> Figure:
    """Loss and top-1 per epoch, train (solid) and validation (dashed), for one run or several.

    Args:
        run_dir_or_metrics: A run folder, a ``metrics.csv``, or a history (``Trainer.fit``'s list of dicts).
        compare: More runs to draw on the same axes (scratch against fine-tuned, say).
        labels: One name per run (the first, then ``compare``'s), shown in the legends.
        test_top1: The first run's test top-1 (a fraction), marked as a star at its best validation epoch.
        title: Above the two charts.

    Raises:
        ValueError: If ``labels`` does not name every run.
        FileNotFoundError: If a run folder has no ``metrics.csv``.
    """
    runs = [_history(run_dir_or_metrics), *(_history(run) for run in compare or ())]
    figure = _figure(10, 4, "learning_curves")
    from matplotlib.ticker import MaxNLocator

    if labels is not None and len(labels) != len(runs):
        raise ValueError(f"labels names {len(labels)} runs, but there are {len(runs)}")
    names = list(labels) if labels is not None else [f"run {i + 1}" for i in range(len(runs))]
    loss_ax, top1_ax = figure.subplots(1, 2)
    for history, name, color in zip(runs, names, _colors(len(runs)), strict=True):
        epochs = [row.get("epoch", i + 1) for i, row in enumerate(history)]
        prefix = f"{name}: " if len(runs) > 1 or labels is not None else ""
        for ax, metric, scale in ((loss_ax, "loss", 1), (top1_ax, "top1", 100)):
            for split, style in (("train", "-"), ("val", "--")):
                key = f"{split}_{metric}"
                if any(key in row for row in history):
                    values = [scale * row.get(key, math.nan) for row in history]
                    ax.plot(epochs, values, style, marker=".", color=color, label=f"{prefix}{split}")
    if test_top1 is not None and runs[0] and any("val_top1" in row for row in runs[0]):
        best = max(runs[0], key=lambda row: row.get("val_top1", -math.inf))
        top1_ax.plot(
            [best.get("epoch")],
            [100 * test_top1],
            marker="*",
            markersize=11,
            linestyle="none",
            color=_colors(1)[0],
            label=f"test, once: {100 * test_top1:.1f}%",
        )
    loss_ax.set_ylabel("cross-entropy loss")
    top1_ax.set_ylabel("top-1 accuracy (%)")
    for ax in (loss_ax, top1_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


def confusion_matrix(evaluation: Evaluation, *, normalize: bool = True, title: str | None = None) -> Figure:
    """The confusion matrix: true class down, predicted class across, each cell annotated.

    Args:
        evaluation: What :func:`resnetzoo.evaluate` returned.
        normalize: Show each row as fractions of its class (per-class recall on the diagonal); else counts.
        title: Above the matrix (default: the top-1 and the number of images).
    """
    normalize = check_bool("normalize", normalize)
    counts = evaluation.confusion.double()
    rows = counts.sum(dim=1, keepdim=True)
    values = (counts / rows.clamp_min(1)) if normalize else counts
    names = list(evaluation.classes)
    C = len(names)
    side = max(4.5, 0.5 * C + 2.5)
    figure = _figure(side + 1.0, side, "confusion_matrix")
    ax = figure.subplots()
    image = ax.imshow(values.numpy(), cmap=COLORMAP, vmin=0, vmax=1 if normalize else None)
    ax.set_xticks(range(C), names, rotation=45, ha="right")
    ax.set_yticks(range(C), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if C <= 20:  # a number per cell while they fit
        peak = 1.0 if normalize else float(values.max()) or 1.0  # the top of the colour scale
        for (i, j), v in np.ndenumerate(values.numpy()):
            text = f"{v:.2f}".lstrip("0") if normalize else f"{int(v)}"
            color = "white" if v < 0.6 * peak else "black"  # viridis: dark low, bright high
            if v:  # empty cells stay empty: the eye finds the confusions
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color=color)
    bar = figure.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label("fraction of the true class" if normalize else "images")
    ax.set_title(
        title
        or f"{evaluation.num_images:,} images, top-1 {evaluation.top1:.1%}"
        + (" (rows normalised)" if normalize else ""),
        fontsize=10,
    )
    return figure
