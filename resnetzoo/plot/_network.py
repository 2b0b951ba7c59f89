"""Pictures of what a network learned: filters, feature maps, embeddings and explanations."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .._validate import check_choice, check_int
from ._common import _WRONG, COLORMAP, _colors, _figure, _name, _show

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..explain import Explanation


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
    from .._model_info import eval_mode, model_preprocess

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
