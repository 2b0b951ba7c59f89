"""Top-k class predictions for images of any size and kind: files, PIL images, arrays, tensors.

Every image goes through the same steps, so predictions do not depend on how it was passed:
pixels to float32 in [0, 1] → the model's channel count (RGB, grayscale) → antialiased bilinear
resize to the model's input size → normalisation with the weights' own mean and std.

Example:
    >>> import resnetzoo as rz
    >>> model = rz.resnet20_cifar()
    >>> [top5] = rz.predict(model, "cat.png")  # doctest: +SKIP
    >>> top5[0]  # doctest: +SKIP
    Prediction(index=3, label='cat', probability=0.91)
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import torch
from torch import nn

from ._model_info import eval_mode, pretrained_cfg, resolve_data_config
from ._validate import check_device, check_int

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

    Images may be file paths, PIL images (8-bit; 16-bit, scaled from 0..65535; float, in [0, 1]), numpy
    arrays ``(H, W)`` or ``(H, W, C)`` (uint8 in 0..255 or float in [0, 1]), tensors ``(H, W)`` or
    ``(C, H, W)``, a batch tensor ``(B, C, H, W)``, or a sequence of any of these. Float pixels must be
    in [0, 1], *not* normalised: normalising is done here. Images are converted to the model's channel
    count (grayscale is repeated to RGB, an alpha channel is dropped, RGB becomes luma for a 1-channel
    model) and resized with antialiased bilinear interpolation to the model's input size.

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
        ValueError: If an image file cannot be decoded (the message names it), a tensor or array holds
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
    data_config = resolve_data_config(model, mean=mean, std=std, input_size=input_size)
    channels, height, width = data_config["input_size"]
    norm_mean = torch.tensor(data_config["mean"]).view(channels, 1, 1)
    norm_std = torch.tensor(data_config["std"]).view(channels, 1, 1)
    cfg = pretrained_cfg(model)
    labels = list(categories) if categories is not None else (cfg.categories if cfg is not None else None)

    # torchvision takes seconds to import; only prediction needs it, not `import resnetzoo`.
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    def preprocess(item: ImageInput, index: int) -> torch.Tensor:  # (C, H, W), normalised
        x = _to_unit_tensor(item, index, channels)
        if x.shape[-2:] != (height, width):
            x = TF.resize(x, [height, width], interpolation=InterpolationMode.BILINEAR, antialias=True)
        return (x - norm_mean) / norm_std

    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    results: list[list[Prediction]] = []
    # Moving the model happens outside inference mode: parameters created inside it would be
    # inference tensors, which the caller could not train afterwards.
    with eval_mode(model), _on_device(model, device) as run_device:
        items = enumerate(_split_images(images))
        while chunk := list(itertools.islice(items, batch_size)):
            x = torch.stack([preprocess(item, i) for i, item in chunk])  # (B, C, H, W)
            with torch.inference_mode():
                logits = model(x.to(run_device, dtype))  # (B, num_classes)
                probs = logits.float().softmax(dim=-1)
            num_classes = probs.shape[-1]
            if labels is not None and len(labels) != num_classes:
                raise ValueError(f"got {len(labels)} categories for a model with {num_classes} outputs")
            values, indices = probs.topk(min(topk, num_classes), dim=-1)
            for row_values, row_indices in zip(values.tolist(), indices.tolist(), strict=True):
                results.append(
                    [
                        Prediction(index=k, label=labels[k] if labels is not None else None, probability=p)
                        for p, k in zip(row_values, row_indices, strict=True)
                    ]
                )
    return results


def _split_images(images: ImageInput | Sequence[ImageInput]) -> Iterable[ImageInput]:
    """One item per image: a batch tensor or array is split, a single image is wrapped."""
    from PIL import Image

    if isinstance(images, (str, os.PathLike, Image.Image)):
        return [images]
    if isinstance(images, torch.Tensor):
        return list(images.unbind(0)) if images.dim() == 4 else [images]
    if isinstance(images, np.ndarray):
        return list(images) if images.ndim == 4 else [images]  # (B, H, W, C) is split
    return images


@contextlib.contextmanager
def _on_device(model: nn.Module, device: str | torch.device | None) -> Iterator[torch.device]:
    """Yield the device to run on; move the model there for the duration if needed."""
    tensors = itertools.chain(model.parameters(), model.buffers())
    current = {t.device for t in tensors}
    if device is None:
        if len(current) > 1:
            raise ValueError(f"the model is spread over devices {sorted(map(str, current))}; pass device=")
        yield next(iter(current), torch.device("cpu"))
        return
    # Normalised through a tensor, so "cuda" compares equal to the "cuda:0" a parameter reports.
    target = torch.empty(0, device=device).device
    if current <= {target}:
        yield target
        return
    if len(current) > 1:
        raise ValueError(f"the model is spread over devices {sorted(map(str, current))}; move it first")
    (original,) = current
    model.to(target)
    try:
        yield target
    finally:
        model.to(original)


def _to_unit_tensor(item: Any, index: int, channels: int) -> torch.Tensor:
    """An image as a float32 ``(channels, h, w)`` tensor with values in [0, 1]."""
    from PIL import Image

    if isinstance(item, (str, os.PathLike)):
        item = _open_image(Path(item))
    if isinstance(item, Image.Image):
        return _from_pil(item, index, channels)
    if isinstance(item, np.ndarray):
        if item.ndim not in (2, 3):
            raise ValueError(
                f"image {index}: expected an array of shape (H, W) or (H, W, C), got {item.shape}"
            )
        array = item[:, :, None] if item.ndim == 2 else item
        x = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)  # (H, W, C) -> (C, H, W)
    elif isinstance(item, torch.Tensor):
        if item.dim() not in (2, 3):
            raise ValueError(
                f"image {index}: expected a tensor of shape (H, W) or (C, H, W), got {tuple(item.shape)}"
            )
        x = (item[None] if item.dim() == 2 else item).detach().cpu()
    else:
        raise TypeError(
            f"image {index}: expected a file path, PIL image, numpy array or tensor, "
            f"got {type(item).__name__}"
        )
    return _match_channels(_to_unit_float(x, index), index, channels)


def _open_image(path: Path) -> Image.Image:
    from PIL import Image, ImageOps, UnidentifiedImageError

    if path.is_dir():
        raise ValueError(f"{path} is a directory, not an image file")
    try:
        img = Image.open(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: {path}") from None
    except (UnidentifiedImageError, Image.DecompressionBombError) as err:
        raise ValueError(f"cannot decode image file {path}: {err}") from err
    with img:
        try:
            img.load()  # decoding is lazy: a truncated or corrupt file fails here, not at open
        except (OSError, SyntaxError, Image.DecompressionBombError) as err:
            raise ValueError(f"cannot decode image file {path}: {err}") from err
        # Photos store their rotation in EXIF; apply it, as image viewers do.
        return ImageOps.exif_transpose(img)


# PIL's modes for one channel of more than 8 bits. PIL's convert("RGB") or ("L") clips them at 255,
# so a mid-grey 16-bit image would become white and a float image of 0.5 black: they are scaled by
# their own range instead.
_HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
_UINT16_MAX = 65535


def _from_pil(img: Image.Image, index: int, channels: int) -> torch.Tensor:
    from torchvision.transforms.v2.functional import pil_to_tensor

    if img.mode in _HIGH_DEPTH_MODES:
        return _match_channels(_high_depth_to_unit(img, index), index, channels)
    # PIL's conversions: "RGB" drops an alpha channel and expands grayscale and palettes; "L" is
    # ITU-R 601-2 luma.
    if channels == 3:
        img = img.convert("RGB")
    elif channels == 1:
        img = img.convert("L")
    elif len(img.getbands()) != channels:
        raise ValueError(f"image {index}: a {img.mode} image cannot feed a model with {channels} channels")
    return _to_unit_float(pil_to_tensor(img), index)


def _high_depth_to_unit(img: Image.Image, index: int) -> torch.Tensor:
    """A 16-bit, 32-bit integer or float single-channel PIL image as a ``(1, h, w)`` float in [0, 1].

    16-bit images (``I;16*``, and ``I``, which PIL gives 16-bit PGM files) are divided by 65535; float
    images (``F``, e.g. float TIFF) must already hold pixels in [0, 1], as float arrays must.

    Raises:
        ValueError: If an ``I`` image holds values outside 0..65535, or an ``F`` image values outside [0, 1].
    """
    pixels = np.asarray(img)
    if img.mode == "F":
        return _to_unit_float(torch.from_numpy(pixels.astype(np.float32))[None], index)
    values = torch.from_numpy(pixels.astype(np.int64))[None]  # (1, h, w); int64 holds uint16 and int32
    low, high = int(values.min()), int(values.max())
    if low < 0 or high > _UINT16_MAX:
        raise ValueError(
            f"image {index} is a 32-bit integer ({img.mode}) image with values in [{low}, {high}]; predict "
            "reads 8- and 16-bit integer images and float images in [0, 1]: convert it to one of those"
        )
    return values.to(torch.float32) / _UINT16_MAX


def _to_unit_float(x: torch.Tensor, index: int) -> torch.Tensor:
    if x.dtype == torch.uint8:
        return x.to(torch.float32) / 255
    if not x.is_floating_point():
        raise ValueError(
            f"image {index}: expected uint8 (0..255) or floating point (0..1) pixels, got {x.dtype}"
        )
    x = x.to(torch.float32)
    if not torch.isfinite(x).all():
        raise ValueError(f"image {index} contains NaN or infinite values")
    lo, hi = x.min().item(), x.max().item()
    # A little slack for rounding in the caller's own conversions.
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise ValueError(
            f"image {index} has float pixels in [{lo:.3g}, {hi:.3g}]; predict expects unnormalised pixels "
            "in [0, 1] and normalises them itself (divide uint8 images by 255, do not normalise)"
        )
    return x


def _match_channels(x: torch.Tensor, index: int, channels: int) -> torch.Tensor:
    """Convert ``(c, h, w)`` to ``(channels, h, w)``: as PIL converts, for tensors and arrays."""
    from torchvision.transforms.v2.functional import rgb_to_grayscale

    c = x.shape[0]
    if c == channels:
        return x
    if channels == 3 and c == 1:
        return x.expand(3, -1, -1)
    if channels == 3 and c == 4:
        return x[:3]  # drop alpha
    if channels == 1 and c in (3, 4):
        return rgb_to_grayscale(x[:3])
    raise ValueError(
        f"image {index} has {c} channels, the model takes {channels}; tensors must be (C, H, W) "
        "and arrays (H, W, C)"
    )
