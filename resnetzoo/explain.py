"""Why a model predicted what it did: per-image heatmaps of the pixels that drove a class score.

Built on Captum (PyTorch's interpretability library; ``pip install 'resnetzoo[explain]'``):

- ``"gradcam"``: Grad-CAM (Selvaraju et al. 2017), Captum's ``LayerGradCam`` on the network's last
  feature map (the output of its last stage, after the final norm and activation of a
  pre-activation network): each channel weighted by the mean gradient of the class score, summed,
  rectified, and upsampled (bilinear) from 8x8 to the input resolution. Coarse, class-specific,
  robust.
- ``"integrated_gradients"``: Integrated Gradients (Sundararajan et al. 2017), Captum's
  ``IntegratedGradients`` from a black image to the input: the gradient of the class score
  integrated along that path, per pixel, so the attributions add up to the score's change; the
  heatmap is the absolute attribution summed over the colour channels. Pixel-sharp.

Images go through exactly :func:`resnetzoo.predict`'s preprocessing (any size, file, PIL, array or
tensor; resized and normalised as the weights expect), and the layer is found from the model's own
structure, so every registered model works without naming a layer.

Example:
    >>> import torch, resnetzoo as rz
    >>> model = rz.resnet20_cifar()
    >>> [e] = rz.explain(model, torch.rand(3, 32, 32), mean=(0.5,), std=(0.25,))  # doctest: +SKIP
    >>> e.heatmap.shape, e.predictions[0].label  # doctest: +SKIP
    (torch.Size([32, 32]), None)
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from ._model_info import eval_mode, model_categories, model_preprocess, on_device
from ._validate import check_choice, check_int
from .data.preprocess import split_images
from .predict import ImageInput, Prediction, top_predictions

__all__ = ["METHODS", "Explanation", "explain"]

METHODS = ("gradcam", "integrated_gradients")
"""The attribution methods :func:`explain` offers."""

Method = Literal["gradcam", "integrated_gradients"]

_IG_STEPS = 32  # Riemann steps of Integrated Gradients; Captum's default is 50, 32 is within 1% here


def _require(module: str, what: str, extra: str = "explain") -> Any:
    """``module``, imported; else an ImportError naming ``what`` needs it and the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{what} needs the {module!r} package; install it with pip install 'resnetzoo[{extra}]'"
        ) from err


@dataclass(frozen=True, eq=False)
class Explanation:
    """The heatmap of one image, with what the model predicted for it."""

    image: torch.Tensor  # (C, H, W) float32 in [0, 1]: the image as the model saw it, before normalisation
    heatmap: (
        torch.Tensor
    )  # (H, W) float32 in [0, 1], at the input resolution; 1 marks the most important pixels
    target: int  # the class explained: the predicted one unless a target was given
    predictions: list[Prediction]  # the top classes, most probable first
    method: str  # "gradcam" or "integrated_gradients"

    def overlay(self, alpha: float = 0.5) -> np.ndarray:
        """The image with the heatmap blended over it (colour map ``jet``), as ``(H, W, 3)`` uint8.

        Raises:
            ImportError: If matplotlib is missing (``pip install 'resnetzoo[explain]'``).
            ValueError: If ``alpha`` is not in [0, 1].
        """
        if not 0 <= alpha <= 1:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
        colormaps = _require("matplotlib", "Explanation.overlay").colormaps
        heat = colormaps["jet"](self.heatmap.numpy())[..., :3]  # (H, W, 3) in [0, 1]
        rgb = self.image.expand(3, -1, -1) if self.image.shape[0] == 1 else self.image[:3]
        blended = (1 - alpha) * rgb.permute(1, 2, 0).numpy() + alpha * heat
        return (np.clip(blended, 0, 1) * 255).round().astype(np.uint8)

    def save(self, path: str | os.PathLike[str], *, scale: int = 6) -> Path:
        """Write a PNG: the image, the heatmap over it, and the top classes with their probabilities.

        Args:
            path: The PNG file to write; missing folders are created.
            scale: Pixels per image pixel in the picture (32x32 images become 192x192).

        Raises:
            ImportError: If matplotlib is missing (``pip install 'resnetzoo[plot]'``).
            OSError: If the file cannot be written (the message names it).
        """
        from . import plot

        figure = plot.explanations([self])
        height, width = self.heatmap.shape
        size = max(1.6, scale * max(height, width) / 100)  # inches at 100 dpi
        figure.set_size_inches(2 * size + 2.4, size + 0.5)
        # The one atomic writer: a link at ``path`` is replaced, never written through.
        return plot.save_figure(figure, path, what="the explanation")


def feature_layer(model: nn.Module) -> nn.Module:
    """The module whose output is the model's last feature map, the layer Grad-CAM explains.

    For a resnetzoo network, the last stage; for a pre-activation one, the final activation after it
    (the last stage's output is not yet normalised there).

    Raises:
        TypeError: If the model does not name its stages (as :class:`~resnetzoo.CifarResNet` does).
    """
    final = getattr(model, "final_act", None)
    if isinstance(final, nn.Module) and not isinstance(final, nn.Identity):
        return final
    stages = getattr(model, "stages", None)
    if not stages:
        raise TypeError(
            f"Grad-CAM needs a network that names its stages (model.stages, as resnetzoo's CifarResNet "
            f"does) to find its last feature map; {type(model).__name__} does not. Use "
            "method='integrated_gradients', which needs no layer"
        )
    return stages[-1]


def explain(
    model: nn.Module,
    images: ImageInput | Sequence[ImageInput],
    method: Method = "gradcam",
    target: int | Sequence[int] | None = None,
    *,
    topk: int = 3,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    input_size: Sequence[int] | None = None,
    categories: Sequence[str] | None = None,
    device: str | torch.device | None = None,
    batch_size: int = 64,
) -> list[Explanation]:
    """Explain a model's predictions: one heatmap per image, at input resolution, scaled to [0, 1].

    Images are read and preprocessed as :func:`resnetzoo.predict` does (the same arguments
    ``mean``, ``std``, ``input_size``, ``categories``, ``device``). The model runs in eval mode;
    every submodule gets its mode back afterwards, and its parameters' gradients are not touched.

    Args:
        model: A classifier; ``"gradcam"`` needs a resnetzoo network (it explains the last stage).
        images: One image or a sequence of them (file paths, PIL images, arrays, tensors), or a
            batch tensor ``(B, C, H, W)`` of pixels in [0, 1].
        method: ``"gradcam"`` or ``"integrated_gradients"`` (see :data:`METHODS` and the module
            docstring).
        target: The class to explain: None for each image's predicted class, one index for all
            images, or one index per image.
        topk: How many top classes each explanation lists.
        mean: Per-channel mean to normalise with (default: the weights' own).
        std: Per-channel standard deviation to normalise with.
        input_size: ``(channels, height, width)`` to resize to (default: the model's).
        categories: Class names (default: ``pretrained_cfg.categories``).
        device: Where to run (default: where the model is).
        batch_size: Images per forward and backward pass.

    Returns:
        One :class:`Explanation` per image, in input order. A heatmap is all zeros when no pixel
        raises the class score (Grad-CAM keeps positive evidence only).

    Raises:
        ImportError: If Captum is missing (``pip install 'resnetzoo[explain]'``).
        ValueError: If ``method`` is unknown, a target is out of range or their number does not
            match the images, ``topk`` or ``batch_size`` is below 1, the model has no classes, or an
            image is invalid (as in :func:`resnetzoo.predict`).
        TypeError: If an image is of an unsupported type, or Grad-CAM is asked of a network
            without stages.
        FileNotFoundError: If an image file does not exist.

    Example:
        >>> import torch, resnetzoo as rz
        >>> [e] = rz.explain(rz.resnet20_cifar(), torch.rand(3, 32, 32), mean=(0.5,), std=(0.25,))
        >>> tuple(e.heatmap.shape), 0 <= float(e.heatmap.min()) <= float(e.heatmap.max()) <= 1
        ((32, 32), True)
    """
    method = check_choice("method", method, METHODS)
    topk = check_int("topk", topk, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    if getattr(model, "num_classes", None) == 0:
        raise ValueError("the model has no classifier head (num_classes=0); there is no class to explain")
    attr = _require("captum.attr", "resnetzoo.explain")
    layer = feature_layer(model) if method == "gradcam" else None

    preprocess = model_preprocess(model, mean=mean, std=std, input_size=input_size)
    _, height, width = preprocess.input_size
    labels = model_categories(model, categories)
    # resized pixels in [0, 1]: what Explanation.image shows; normalised per batch below
    pixels = [
        preprocess.unit_resized(item, f"image {i}").clamp(0, 1) for i, item in enumerate(split_images(images))
    ]
    if not pixels:
        raise ValueError("no images to explain")
    targets = _targets(target, len(pixels))

    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    results: list[Explanation] = []
    with eval_mode(model), on_device(model, device) as run_device:
        for start in range(0, len(pixels), batch_size):
            unit = torch.stack(pixels[start : start + batch_size])  # (B, C, H, W) in [0, 1]
            x = preprocess.normalize(unit).to(run_device, dtype)
            with torch.no_grad():
                logits = model(x).float()  # (B, num_classes)
            if not torch.isfinite(logits).all():
                raise ValueError(
                    "the model's outputs are not finite, so there is nothing to explain (an untrained very "
                    "deep model in eval mode can overflow; check the weights)"
                )
            probs = logits.softmax(dim=-1)
            ranked = top_predictions(probs, topk, labels)  # checks the categories first
            num_classes = probs.shape[-1]
            chosen = targets[start : start + len(unit)] if targets is not None else probs.argmax(1).tolist()
            bad = [t for t in chosen if not 0 <= t < num_classes]
            if bad:
                raise ValueError(f"target {bad[0]} is out of range for a model with {num_classes} classes")
            target_tensor = torch.tensor(chosen, device=run_device)
            if method == "gradcam":
                raw = attr.LayerGradCam(model, layer).attribute(
                    x, target=target_tensor, relu_attributions=True
                )
                raw = attr.LayerAttribution.interpolate(raw, (height, width), "bilinear")  # (B, 1, H, W)
            else:
                baseline = preprocess.normalize(torch.zeros_like(unit)).to(run_device, dtype)  # black
                raw = attr.IntegratedGradients(model).attribute(
                    x, baselines=baseline, target=target_tensor, n_steps=_IG_STEPS
                )
                raw = raw.abs().sum(dim=1, keepdim=True)  # (B, 1, H, W)
            heatmaps = _unit_scale(raw.detach().float().cpu()[:, 0])  # (B, H, W)
            for j, predictions in enumerate(ranked):
                results.append(
                    Explanation(
                        image=unit[j],
                        heatmap=heatmaps[j],
                        target=int(chosen[j]),
                        predictions=predictions,
                        method=method,
                    )
                )
    return results


def _targets(target: int | Sequence[int] | None, count: int) -> list[int] | None:
    if target is None:
        return None
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        return [int(target)] * count
    values = target.tolist() if isinstance(target, torch.Tensor) else list(target)  # type: ignore[union-attr]
    if len(values) != count or not all(
        isinstance(t, (int, np.integer)) and not isinstance(t, bool) for t in values
    ):
        raise ValueError(
            f"target must be None, one class index, or one class index per image ({count}); got {target!r}"
        )
    return [int(t) for t in values]


def _unit_scale(maps: torch.Tensor) -> torch.Tensor:
    """Each map divided by its maximum (maps are >= 0), so 1 marks the most important pixel; 0 stays 0."""
    peak = maps.flatten(1).amax(dim=1).clamp_min(torch.finfo(maps.dtype).tiny).view(-1, 1, 1)
    return (maps.clamp_min(0) / peak).clamp(0, 1)
