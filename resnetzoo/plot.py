"""Pictures of data, training, evaluation and what a network learned: each function returns a Figure.

Needs matplotlib (``pip install 'resnetzoo[plot]'``); importing this module does not, calling a
function does. Figures are built with matplotlib's object API (``matplotlib.figure.Figure``, never
``pyplot``), so nothing opens a window or changes the process's backend; a notebook shows a returned
figure inline, and :func:`save_figure` writes one atomically. Every figure labels its axes, names classes
rather than numbering them, lays itself out without overlapping text (constrained layout, rotated tick
labels) and draws values and classes with one colour map, :data:`COLORMAP`.

The library's own pictures are drawn here: the run folder's ``learning_curves.png``,
``Explanation.save``, ``resnetzoo eval --confusion``, and the figures of the documentation and the tutorial.

Example:
    >>> from resnetzoo import plot
    >>> counts = {"train": [450, 450], "test": [100, 100]}
    >>> figure = plot.class_balance(counts, ["cat", "dog"])  # doctest: +SKIP
    >>> plot.save_figure(figure, "balance.png")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ._files import atomic_write
from ._validate import check_bool, check_choice, check_int
from .explain import _require

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .evaluation import Evaluation
    from .explain import Explanation

__all__ = [
    "COLORMAP",
    "augmentations",
    "class_balance",
    "confusion_matrix",
    "embedding",
    "explanations",
    "feature_maps",
    "filters",
    "image_grid",
    "learning_curves",
    "mistakes",
    "save_figure",
]

COLORMAP = "viridis"
"""The colour map of every figure: values (confusion, feature maps) and classes or runs (evenly spaced
colours of it). Perceptually uniform and readable in greyscale and by colour-blind readers."""

_WRONG = "#c0392b"  # titles of misclassified images


def _figure(width: float, height: float, what: str) -> Figure:
    """An empty figure with constrained layout (matplotlib imported here: needs the plot extra)."""
    _require("matplotlib", f"resnetzoo.plot.{what}", extra="plot")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _colors(count: int) -> list[Any]:
    """``count`` colours evenly spaced along :data:`COLORMAP` (its bright yellow end left out)."""
    from matplotlib import colormaps

    return [colormaps[COLORMAP](x) for x in np.linspace(0.0, 0.85, max(count, 1))]


def save_figure(
    figure: Figure, path: str | os.PathLike[str], *, what: str = "the figure", dpi: int = 100
) -> Path:
    """Write ``figure`` as a PNG to ``path`` atomically (a link there is replaced, never followed).

    Raises:
        OSError: If the file cannot be written (the message names it).
    """
    image = io.BytesIO()
    figure.savefig(image, format="png", dpi=dpi)
    return atomic_write(Path(path), image.getvalue(), what=what)


# ---------------------------------------------------------------------------------------------- images
def _display_images(
    images: Any, indices: Sequence[int] | None, mean: Sequence[float] | None, std: Sequence[float] | None
) -> tuple[np.ndarray, list[int] | None, list[str] | None]:
    """``(N, H, W, C)`` float pixels in [0, 1], the labels and class names the source knows."""
    labels: list[int] | None = None
    classes = getattr(images, "classes", None)
    if isinstance(images, torch.Tensor):
        batch = images[list(indices)] if indices is not None else images
        if batch.dim() == 3:
            batch = batch[None]
    else:  # a data set: a TensorImageDataset's stored pixels, else its items
        chosen = list(indices) if indices is not None else list(range(len(images)))
        data = getattr(images, "data", None)
        if isinstance(data, torch.Tensor) and data.dtype == torch.uint8 and data.dim() == 4:
            batch = data[chosen].permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
            labels = images.targets[chosen].tolist()
        else:
            items = [images[i] for i in chosen]
            batch = torch.stack([torch.as_tensor(image) for image, _ in items])
            labels = [int(label) for _, label in items]
    batch = batch.detach().cpu()
    if batch.dtype == torch.uint8:
        batch = batch.float() / 255
    batch = batch.float()
    if mean is not None and std is not None:  # undo the normalisation
        batch = batch * torch.tensor(std).view(1, -1, 1, 1) + torch.tensor(mean).view(1, -1, 1, 1)
    pixels = batch.clamp(0, 1).permute(0, 2, 3, 1).numpy()  # (N, H, W, C)
    return pixels, labels, list(classes) if classes is not None else None


def _show(ax: Axes, pixels: np.ndarray) -> None:
    """One image, pixel for pixel, without ticks or frame."""
    if pixels.shape[-1] == 1:
        ax.imshow(pixels[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(pixels, interpolation="nearest")
    ax.set_axis_off()


def _name(index: int, classes: Sequence[str] | None) -> str:
    return classes[index] if classes is not None and 0 <= index < len(classes) else str(index)


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
    from .data import CIFAR10_MEAN, CIFAR10_STD, AugmentConfig, DeviceLoader, random_crop, random_flip
    from .data import cutout as cut

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


# ---------------------------------------------------------------------------------------------- data
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
    ax.legend(fontsize=8)
    ax.set_title(title or "images per class and split", fontsize=10)
    return figure


# ---------------------------------------------------------------------------------------------- training
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


# ---------------------------------------------------------------------------------------------- evaluation
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


# ---------------------------------------------------------------------------------------------- the network
def _first_conv(model: nn.Module) -> nn.Conv2d:
    conv = getattr(model, "conv1", None)
    if isinstance(conv, nn.Conv2d):
        return conv
    found = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if found is None:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer whose filters could be drawn")
    return found


def filters(model: nn.Module, *, ncols: int = 8) -> Figure:
    """The first convolution's filters as tiles: RGB for a colour input, each scaled to its own range.

    Args:
        model: A network; its ``conv1`` (else its first ``Conv2d``) is drawn.
        ncols: Tiles per row.

    Raises:
        ValueError: If the model has no convolution.
    """
    ncols = check_int("ncols", ncols, minimum=1)
    weight = _first_conv(model).weight.detach().float().cpu()  # (O, C, kh, kw)
    out, channels, kh, kw = weight.shape
    low = weight.flatten(1).amin(dim=1).view(-1, 1, 1, 1)
    high = weight.flatten(1).amax(dim=1).view(-1, 1, 1, 1)
    tiles = ((weight - low) / (high - low).clamp_min(1e-12)).permute(0, 2, 3, 1).numpy()  # (O, kh, kw, C)
    if channels not in (1, 3):
        tiles = tiles.mean(axis=-1, keepdims=True)
    cols = min(ncols, out)
    rows = math.ceil(out / cols)
    figure = _figure(0.8 * cols, 0.8 * rows + 0.4, "filters")
    axes = figure.subplots(rows, cols, squeeze=False).ravel()
    for i, ax in enumerate(axes):
        if i < out:
            _show(ax, tiles[i])
        else:
            ax.set_axis_off()
    figure.suptitle(
        f"first-layer filters: {out} of {channels}x{kh}x{kw}, each scaled to its range", fontsize=9
    )
    return figure


def feature_maps(
    model: nn.Module,
    image: Any,
    *,
    channels: int = 6,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> Figure:
    """One image's feature maps at every level (stem, then each stage): its ``channels`` most active ones.

    Args:
        model: A resnetzoo network (it has ``forward_intermediates``).
        image: One image as :func:`resnetzoo.predict` takes it (file, PIL, array, ``(C, H, W)`` pixels in
            [0, 1]); it is preprocessed as the model's weights expect.
        channels: Channels per level, the ones with the highest mean activation.
        mean: Normalisation (default the weights' own), as in :func:`resnetzoo.predict`.
        std: Its standard deviation.

    Raises:
        TypeError: If the model has no ``forward_intermediates``.
    """
    from ._model_info import eval_mode, model_preprocess

    channels = check_int("channels", channels, minimum=1)
    if not callable(getattr(model, "forward_intermediates", None)):
        raise TypeError(
            f"feature_maps needs a model with forward_intermediates; {type(model).__name__} has none"
        )
    preprocess = model_preprocess(model, mean=mean, std=std)
    unit = preprocess.unit_resized(image).clamp(0, 1)  # (C, H, W) in [0, 1]
    parameter = next(model.parameters())
    x = preprocess.normalize(unit)[None].to(parameter.device, parameter.dtype)
    with eval_mode(model), torch.no_grad():
        maps = model.forward_intermediates(x, intermediates_only=True)  # per level (1, c, h, w)
    figure = _figure(1.2 * (channels + 1), 1.25 * len(maps) + 0.4, "feature_maps")
    axes = figure.subplots(len(maps), channels + 1, squeeze=False)
    for level, (row, fmap) in enumerate(zip(axes, maps, strict=True)):
        fmap = fmap[0].float().cpu()  # (c, h, w)
        strongest = fmap.mean(dim=(1, 2)).argsort(descending=True)[:channels]
        _show(row[0], unit.permute(1, 2, 0).numpy())
        row[0].set_axis_on()
        row[0].set_xticks([])
        row[0].set_yticks([])
        name = "stem" if level == 0 else f"stage {level}"
        row[0].set_ylabel(f"{name}\n{fmap.shape[0]}x{fmap.shape[1]}x{fmap.shape[2]}", fontsize=8)
        for ax, c in zip(row[1:], strongest.tolist(), strict=False):
            ax.imshow(fmap[c].numpy(), cmap=COLORMAP, interpolation="nearest")
            ax.set_axis_off()
            ax.set_title(f"channel {c}", fontsize=7)
        for ax in row[1 + len(strongest) :]:
            ax.set_axis_off()
    figure.suptitle("feature maps per level (the most active channels; input at the left)", fontsize=9)
    return figure


def embedding(
    features: Any,
    targets: torch.Tensor | Sequence[int] | None = None,
    classes: Sequence[str] | None = None,
    *,
    method: str = "pca",
    titles: Sequence[str] | None = None,
) -> Figure:
    """A 2-D map of penultimate features, one dot per image coloured by its class.

    Args:
        features: ``(N, D)`` features, an :class:`~resnetzoo.Evaluation` made with ``features=True``, or a
            list of either for panels side by side (scratch against pretrained, say).
        targets: The class of each image (taken from an Evaluation when not given).
        classes: Class names (likewise).
        method: ``"pca"``: the two principal components (a linear projection: distances keep a meaning).
        titles: One title per panel.

    Raises:
        ValueError: If an Evaluation holds no features, or targets are missing or do not fit.
    """
    check_choice("method", method, ("pca",))
    panels = list(features) if isinstance(features, (list, tuple)) else [features]
    if titles is not None and len(titles) != len(panels):
        raise ValueError(f"titles names {len(titles)} panels, but there are {len(panels)}")
    figure = _figure(4.6 * len(panels) + 1.6, 4.4, "embedding")
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    handles = {}
    for p, (ax, panel) in enumerate(zip(axes, panels, strict=True)):
        own_targets, own_classes = targets, classes
        if hasattr(panel, "probabilities"):  # an Evaluation
            if panel.features is None:
                raise ValueError("the evaluation holds no features: evaluate(..., features=True)")
            own_targets = panel.targets if targets is None else targets
            own_classes = panel.classes if classes is None else classes
            panel = panel.features
        if own_targets is None:
            raise ValueError("targets must be given with a features tensor")
        x = torch.as_tensor(panel).float()  # (N, D)
        labels = torch.as_tensor(own_targets).long()
        if labels.shape != (x.shape[0],):
            raise ValueError(f"got {labels.shape[0]} targets for {x.shape[0]} feature vectors")
        centred = x - x.mean(dim=0)
        _, s, v = torch.linalg.svd(centred, full_matrices=False)
        points = (centred @ v[:2].T).numpy()  # (N, 2)
        explained = (s[:2] ** 2 / (s**2).sum().clamp_min(1e-12)).tolist()
        num_classes = int(labels.max()) + 1 if own_classes is None else len(own_classes)
        for c, color in enumerate(_colors(num_classes)):
            chosen = (labels == c).numpy()
            if chosen.any():
                handles[_name(c, own_classes)] = ax.scatter(
                    points[chosen, 0], points[chosen, 1], s=9, color=color, alpha=0.8, linewidths=0
                )
        ax.set_xlabel(f"principal component 1 ({explained[0]:.0%} of variance)")
        ax.set_ylabel(f"principal component 2 ({explained[1] if len(explained) > 1 else 0:.0%})")
        ax.grid(alpha=0.3)
        ax.set_title(
            titles[p] if titles is not None else f"{x.shape[0]:,} images, {x.shape[1]} features", fontsize=10
        )
    figure.legend(
        list(handles.values()),
        list(handles),
        loc="outside right center",
        fontsize=8,
        title="class",
        markerscale=2,
    )
    return figure


# ---------------------------------------------------------------------------------------------- explanations
def draw_explanation_row(
    axes: Sequence[Axes], explanations: Sequence[Explanation], *, truth: tuple[int, str] | None = None
) -> None:
    """One image's row: the image, one overlay per explanation (method), the top classes.

    ``truth`` (the true class's index and name) titles the image, in red with the prediction when wrong.
    """
    first = explanations[0]
    _show(axes[0], first.image.permute(1, 2, 0).numpy())
    top = first.predictions[0]
    wrong = truth is not None and truth[0] != top.index
    text = (
        "image"
        if truth is None
        else f"true {truth[1]}" + (f" \u2260 {top.label or top.index}" if wrong else "")
    )
    axes[0].set_title(text, fontsize=9, color=_WRONG if wrong else "black")
    for ax, explanation in zip(axes[1:-1], explanations, strict=True):
        ax.imshow(explanation.overlay(), interpolation="bilinear")
        ax.set_axis_off()
        method = {"gradcam": "Grad-CAM", "integrated_gradients": "Integrated Gradients"}[explanation.method]
        target = next((p.label for p in explanation.predictions if p.index == explanation.target), None)
        ax.set_title(f"{method}: {target or explanation.target}", fontsize=9)
    lines = [f"{p.probability:6.1%}  {p.label or p.index}" for p in first.predictions]
    axes[-1].text(0.0, 0.5, "\n".join(lines), family="monospace", fontsize=9, va="center")
    axes[-1].set_axis_off()


def explanations(
    explanations: Sequence[Explanation] | Sequence[Sequence[Explanation]],
    *,
    classes: Sequence[str] | None = None,
    targets: Sequence[int] | torch.Tensor | None = None,
    title: str | None = None,
) -> Figure:
    """A grid of explained images, one per row: the image, its heatmap overlay(s), the top classes.

    With ``targets`` (each image's true class) a misclassified image's title says so in red, naming the
    true class and the prediction.

    Args:
        explanations: What :func:`resnetzoo.explain` returned; or one such list per method for the same
            images (one overlay column each, e.g. Grad-CAM and Integrated Gradients).
        classes: Class names for ``targets`` (default: the labels of the predictions where they name them).
        targets: The true class index of each image, to mark mistakes.
        title: Above the grid.

    Raises:
        ValueError: If the lists are not of the same images, or ``targets`` does not have one per image.
    """
    columns = (
        [list(explanations)]
        if not isinstance(explanations[0], (list, tuple))
        else [list(e) for e in explanations]
    )
    count = len(columns[0])
    if any(len(column) != count for column in columns):
        raise ValueError("each method's explanations must be of the same images, in the same order")
    truth = None
    if targets is not None:
        truth = [int(t) for t in (targets.tolist() if isinstance(targets, torch.Tensor) else targets)]
        if len(truth) != count:
            raise ValueError(f"got {len(truth)} targets for {count} explanations")
    figure = _figure(2.1 * (len(columns) + 1) + 2.4, 2.0 * count + (0.3 if title else 0), "explanations")
    axes = figure.subplots(
        count, len(columns) + 2, squeeze=False, width_ratios=[1] * (len(columns) + 1) + [1.4]
    )
    for row in range(count):
        known = {p.index: p.label for p in columns[0][row].predictions if p.label}  # the model's labels
        true = None
        if truth is not None:
            name = (
                _name(truth[row], classes) if classes is not None else known.get(truth[row], str(truth[row]))
            )
            true = (truth[row], name)
        draw_explanation_row(axes[row], [column[row] for column in columns], truth=true)
    if title:
        figure.suptitle(title, fontsize=10)
    return figure
