"""What every figure shares: the colour map, an empty figure, image display, and the atomic PNG writer."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .._files import atomic_write
from ..explain import _require

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

COLORMAP = "viridis"  # documented in resnetzoo.plot, which exports it

_WRONG = "#c0392b"  # titles of misclassified images


def _figure(width: float, height: float, what: str) -> Figure:
    """An empty figure with constrained layout (matplotlib imported here: needs the plot extra)."""
    _require("matplotlib", f"resnetzoo.plot.{what}", extra="plot")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _colors(count: int) -> list[Any]:
    """``count`` colours for categories (classes, runs, splits): matplotlib's qualitative ``tab10`` (``tab20``
    beyond ten), whose neighbours stay apart where :data:`COLORMAP`'s neighbouring shades blur together in a
    scatter of ten classes; beyond twenty, evenly spaced along :data:`COLORMAP`."""
    from matplotlib import colormaps

    for name, size in (("tab10", 10), ("tab20", 20)):
        if count <= size:
            return [colormaps[name](i) for i in range(count)]
    return [colormaps[COLORMAP](x) for x in np.linspace(0.0, 0.85, count)]


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
