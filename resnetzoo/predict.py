"""Top-k class predictions for images of any size and kind: files, PIL images, arrays, tensors.

Every image goes through the one preprocessing (:mod:`resnetzoo.data.preprocess`), so predictions do
not depend on how it was passed: files decoded by :func:`resnetzoo.data.read_image` → pixels to float32
in [0, 1] with the model's channel count (RGB, grayscale) → antialiased bilinear resize to the model's
input size → normalisation with the weights' own mean and std, the steps of ``Weights.transforms()``.

Example:
    >>> import resnetzoo as rz
    >>> model = rz.resnet20_cifar()
    >>> [top5] = rz.predict(model, "cat.png")  # doctest: +SKIP
    >>> top5[0]  # doctest: +SKIP
    Prediction(index=3, label='cat', probability=0.91)
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

import numpy as np
import torch
from torch import nn

from ._model_info import eval_mode, model_categories, model_preprocess, on_device
from ._validate import check_device, check_int
from .data.preprocess import split_images

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["ImageInput", "Prediction", "predict"]

logger = logging.getLogger(__name__)


ImageInput = Union[str, os.PathLike, "Image.Image", np.ndarray, torch.Tensor]
"""One image: a file path, a PIL image, a ``(H, W[, C])`` array or a ``([C,] H, W)`` tensor."""


@dataclass(frozen=True)
class Prediction:
    """One entry of an image's top-k."""

    index: int  # class index, a position in the model's output
    label: str | None  # class name; None when the categories are not known
    probability: float  # softmax probability, in [0, 1]


def predict(
    model: nn.Module,
    images: ImageInput | Sequence[ImageInput],
    *,
    topk: int = 5,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    input_size: Sequence[int] | None = None,
    categories: Sequence[str] | None = None,
    device: str | torch.device | None = None,
    batch_size: int = 256,
) -> list[list[Prediction]]:
    """Classify images: the ``topk`` most probable classes of each, most probable first.

    Images may be file paths (decoded by :func:`resnetzoo.data.read_image`: 8- and 16-bit, float,
    palette, CMYK, EXIF orientation), PIL images (8-bit; 16-bit, scaled from 0..65535; float, in
    [0, 1]), numpy arrays ``(H, W)`` or ``(H, W, C)`` (uint8 in 0..255 or float in [0, 1]), tensors
    ``(H, W)`` or ``(C, H, W)``, a batch tensor ``(B, C, H, W)``, or a sequence of any of these. Float
    pixels must be in [0, 1], *not* normalised: normalising is done here. Images are converted to the
    model's channel count (grayscale is repeated to RGB, an alpha channel is dropped, RGB becomes luma
    for a 1-channel model) and resized with antialiased bilinear interpolation to the model's input size.

    Normalisation and input size come from :func:`resnetzoo.resolve_data_config`: the explicit
    ``mean``/``std`` if given (a warning is logged when they differ from the weights' own), else
    those of ``model.pretrained_cfg``, else CIFAR-10's (with a warning).

    The model runs in eval mode under ``torch.inference_mode()``; each of its submodules gets its
    previous mode back afterwards.

    Args:
        model: A classifier; its output is taken as logits.
        images: One image, a batch tensor, or a sequence of images.
        topk: How many classes to return per image. Clamped to the number of classes, so the default
            also works for models with fewer than 5 classes.
        mean: Per-channel mean of the training data, in [0, 1] pixel units.
        std: Per-channel standard deviation of the training data.
        input_size: ``(channels, height, width)`` the model takes; defaults to
            ``pretrained_cfg.input_size``, else ``(model.in_chans, 32, 32)``.
        categories: Class names, one per model output; defaults to ``pretrained_cfg.categories``.
        device: Where to run; defaults to the device of the model's parameters. A model on another
            device is moved there for the call and moved back afterwards.
        batch_size: Images per forward pass; images are loaded lazily, one batch at a time.

    Returns:
        For each image, in input order, ``min(topk, num_classes)`` predictions, most probable first.

    Raises:
        FileNotFoundError: If an image file does not exist (the message names it).
        ImageDecodeError: If an image file cannot be decoded (a ``ValueError``; the message names the
            file and the cause).
        ValueError: If a tensor or array holds
            NaN or infinite values, float pixels lie outside [0, 1], an image has a channel count or
            dtype that cannot be converted, ``topk`` or ``batch_size`` is below 1, ``mean``/``std`` do
            not fit the channel count, ``categories`` do not fit the number of classes, or the model
            has no classifier head.
        TypeError: If an image is of an unsupported type.

    Example:
        >>> import torch, resnetzoo as rz
        >>> preds = rz.predict(rz.resnet20_cifar(), torch.rand(2, 3, 32, 32), topk=3, mean=(0.5,) * 3,
        ...                    std=(0.25,) * 3)
        >>> len(preds), len(preds[0])
        (2, 3)
    """
    topk = check_int("topk", topk, minimum=1)
    device = None if device is None else check_device("device", device)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    if getattr(model, "num_classes", None) == 0:
        raise ValueError("the model has no classifier head (num_classes=0); there are no classes to predict")
    preprocess = model_preprocess(model, mean=mean, std=std, input_size=input_size)
    labels = model_categories(model, categories)

    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    results: list[list[Prediction]] = []
    # Moving the model happens outside inference mode: parameters created inside it would be
    # inference tensors, which the caller could not train afterwards.
    with eval_mode(model), on_device(model, device) as run_device:
        items = enumerate(split_images(images))
        while chunk := list(itertools.islice(items, batch_size)):
            x = torch.stack([preprocess(item, f"image {i}") for i, item in chunk])  # (B, C, H, W)
            with torch.inference_mode():
                logits = model(x.to(run_device, dtype))  # (B, num_classes)
                probs = logits.float().softmax(dim=-1)
            results += top_predictions(probs, topk, labels)
    return results


def top_predictions(probs: torch.Tensor, topk: int, labels: Sequence[str] | None) -> list[list[Prediction]]:
    """The ``min(topk, num_classes)`` most probable classes of each row of ``probs`` ``(B, num_classes)``.

    What :func:`predict` and :func:`resnetzoo.explain` return for each image.

    Raises:
        ValueError: If ``labels`` is not one name per class.
    """
    num_classes = probs.shape[-1]
    if labels is not None and len(labels) != num_classes:
        raise ValueError(f"got {len(labels)} categories for a model with {num_classes} outputs")
    values, indices = probs.float().cpu().topk(min(topk, num_classes), dim=-1)
    return [
        [
            Prediction(index=k, label=labels[k] if labels is not None else None, probability=p)
            for p, k in zip(row_values, row_indices, strict=True)
        ]
        for row_values, row_indices in zip(values.tolist(), indices.tolist(), strict=True)
    ]
