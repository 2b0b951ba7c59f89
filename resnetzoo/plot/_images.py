"""Pictures of images and data: grids, the most confident mistakes, augmentations, class balance."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .._validate import check_int
from ._common import _WRONG, _colors, _display_images, _figure, _name, _show

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..evaluation import Evaluation


def image_grid(
    images: Any,
    labels: Sequence[int] | torch.Tensor | None = None,
    *,
    classes: Sequence[str] | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    ncols: int = 8,
    title: str | None = None,
    indices: Sequence[int] | None = None,
    titles: Sequence[str] | None = None,
) -> Figure:
    """Images in a grid, each titled with its class name.

    Args:
        images: A tensor ``(N, C, H, W)`` (uint8, or float pixels in [0, 1] or normalised with
            ``mean``/``std``), or a data set (a :class:`~resnetzoo.data.TensorImageDataset` or any of
            ``(image, label)`` pairs) with ``indices``.
        labels: Class index per image; default the data set's labels.
        classes: Class names; default the data set's.
        mean: The normalisation to undo, per channel.
        std: Per-channel standard deviation of the normalisation.
        ncols: Images per row.
        title: Above the grid.
        indices: Which images of ``images`` (default all).
        titles: One title per image, instead of its class name.
    """
    ncols = check_int("ncols", ncols, minimum=1)
    pixels, own_labels, own_classes = _display_images(images, indices, mean, std)
    classes = classes if classes is not None else own_classes
    if labels is None:
        labels = own_labels
    elif isinstance(labels, torch.Tensor):
        labels = labels.tolist()
    count = len(pixels)
    for name, given in (("labels", labels), ("titles", titles)):
        if given is not None and len(given) != count:
            raise ValueError(f"{name} has {len(given)} entries for {count} images")
    cols = min(ncols, max(count, 1))
    rows = max(1, math.ceil(count / cols))
    figure = _figure(1.25 * cols, 1.35 * rows + (0.3 if title else 0), "image_grid")
    axes = np.atleast_1d(figure.subplots(rows, cols, squeeze=False)).ravel()
    for i, ax in enumerate(axes):
        if i >= count:
            ax.set_axis_off()
            continue
        _show(ax, pixels[i])
        if titles is not None:
            ax.set_title(titles[i], fontsize=7)
        elif labels is not None:
            ax.set_title(_name(int(labels[i]), classes), fontsize=8)
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


def mistakes(
    evaluation: Evaluation,
    images: Any,
    k: int = 16,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    ncols: int = 8,
) -> Figure:
    """The ``k`` images the model got wrong most confidently: true class and prediction (with probability).

    Args:
        evaluation: What :func:`resnetzoo.evaluate` returned for these images.
        images: The evaluated images in the same order: a data set or a tensor ``(N, C, H, W)``.
        k: How many.
        mean: The normalisation to undo, if ``images`` is a normalised tensor.
        std: Its standard deviation.
        ncols: Images per row.
    """
    chosen = evaluation.mistakes(k).tolist()
    if not chosen:
        figure = _figure(4, 1, "mistakes")
        figure.text(0.5, 0.5, "no image is misclassified", ha="center", va="center")
        return figure
    names = evaluation.classes
    titles = [
        f"true {names[int(evaluation.targets[i])]}\npredicted {names[int(evaluation.predictions[i])]} "
        f"{float(evaluation.probabilities[i, evaluation.predictions[i]]):.1%}"
        for i in chosen
    ]
    figure = image_grid(
        images,
        indices=chosen,
        titles=titles,
        mean=mean,
        std=std,
        ncols=ncols,
        title=f"the {len(chosen)} most confident mistakes: true class, prediction and its probability",
    )
    for ax in figure.axes:
        ax.title.set_color(_WRONG)
    return figure


def augmentations(
    images: Any,
    *,
    crop_padding: int = 4,
    cutout: int = 8,
    seed: int = 0,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> Figure:
    """Each augmentation of :mod:`resnetzoo.data` on its own, then as a training ``DeviceLoader`` does them.

    Rows: the images as stored; :func:`~resnetzoo.data.random_crop` (``crop_padding``);
    :func:`~resnetzoo.data.random_flip`; :func:`~resnetzoo.data.cutout` (``cutout`` square, applied after
    normalisation as the loader does, so it takes the mean colour); a ``DeviceLoader`` batch with all of
    them. Random draws come from ``seed``: the same picture on every run.

    Args:
        images: A :class:`~resnetzoo.data.TensorImageDataset`; one column per image, titled by class.
        crop_padding: Pixels of padding of the random crop.
        cutout: Side of the cutout square.
        seed: Seeds every random draw.
        mean: Normalisation of the loader (default CIFAR-10's).
        std: Its standard deviation (default CIFAR-10's).
    """
    from ..data import CIFAR10_MEAN, CIFAR10_STD, AugmentConfig, DeviceLoader, random_crop, random_flip
    from ..data import cutout as cut

    mean = tuple(mean if mean is not None else CIFAR10_MEAN)
    std = tuple(std if std is not None else CIFAR10_STD)
    m, s = torch.tensor(mean).view(1, -1, 1, 1), torch.tensor(std).view(1, -1, 1, 1)
    batch = images.data.permute(0, 3, 1, 2).contiguous()  # (B, H, W, C) -> (B, C, H, W) uint8

    def seeded(offset: int) -> torch.Generator:
        return torch.Generator().manual_seed(seed + offset)

    def to_unit(normalised: torch.Tensor) -> torch.Tensor:
        return (normalised.float() * s + m).clamp(0, 1)

    # The loader's own batch: not shuffled (train=False keeps the columns' order), augment= given.
    config = AugmentConfig(crop_padding=crop_padding, flip=True, cutout=cutout)
    loader = DeviceLoader(images, len(images), train=False, augment=config, seed=seed + 4, mean=mean, std=std)
    loaded, _ = next(iter(loader))
    rows = [
        ("original", batch.float() / 255),
        (f"random_crop\n(padding {crop_padding})", random_crop(batch, crop_padding, seeded(1)).float() / 255),
        ("random_flip\n(p = 1/2)", random_flip(batch, seeded(2)).float() / 255),
        (f"cutout\n({cutout} x {cutout})", to_unit(cut((batch.float() / 255 - m) / s, cutout, seeded(3)))),
        ("DeviceLoader,\nall of them", to_unit(loaded)),
    ]
    cols = len(batch)
    figure = _figure(0.9 * cols + 1.2, 1.0 * len(rows) + 0.3, "augmentations")
    axes = figure.subplots(len(rows), cols, squeeze=False)
    for r, (label, row) in enumerate(rows):
        pixels = row.permute(0, 2, 3, 1).numpy()
        for c in range(cols):
            _show(axes[r][c], pixels[c])
            if r == 0:
                axes[r][c].set_title(_name(int(images.targets[c]), images.classes), fontsize=8)
        # a row's label as the y label of its first image (set_axis_off hid it: show the axis, not ticks)
        first = axes[r][0]
        first.set_axis_on()
        first.set_xticks([])
        first.set_yticks([])
        for spine in first.spines.values():
            spine.set_visible(False)
        first.set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center", family="monospace")
    return figure


def class_balance(
    counts_by_split: Mapping[str, Any], classes: Sequence[str], *, title: str | None = None
) -> Figure:
    """Images per class, one bar per split and class.

    Args:
        counts_by_split: Split name to its count per class (a sequence, a tensor, or a data set with
            ``targets``, whose labels are counted).
        classes: Class names, in label order.
        title: Above the chart.
    """
    counts = {}
    for split, value in counts_by_split.items():
        targets = getattr(value, "targets", None)
        if isinstance(targets, torch.Tensor):
            value = torch.bincount(targets, minlength=len(classes))
        counts[split] = [int(v) for v in (value.tolist() if isinstance(value, torch.Tensor) else value)]
    figure = _figure(max(5.0, 0.55 * len(classes) + 2), 3.4, "class_balance")
    ax = figure.subplots()
    width = 0.8 / max(len(counts), 1)
    x = np.arange(len(classes))
    for i, ((split, values), color) in enumerate(zip(counts.items(), _colors(len(counts)), strict=True)):
        ax.bar(
            x + (i - (len(counts) - 1) / 2) * width,
            values,
            width,
            label=f"{split} ({sum(values):,})",
            color=color,
        )
    ax.set_xticks(x, list(classes), rotation=45, ha="right")
    ax.set_xlabel("class")
    ax.set_ylabel("images")
    ax.grid(axis="y", alpha=0.3)
    # The legend in one row in headroom above the tallest bar: balanced classes fill the whole width, so
    # a legend inside the bars' range would cover one of them.
    tallest = max((max(values, default=0) for values in counts.values()), default=0)
    ax.set_ylim(0, max(tallest, 1) * 1.25)
    ax.legend(fontsize=8, loc="upper center", ncols=max(len(counts), 1), frameon=False)
    ax.set_title(title or "images per class and split", fontsize=10)
    return figure
