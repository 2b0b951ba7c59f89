"""The one preprocessing: any image to the normalised ``(C, H, W)`` float tensor a model's weights expect.

Every image goes through the same three steps, whoever asks (:meth:`Weights.transforms()
<resnetzoo.Weights.transforms>`, :func:`resnetzoo.predict`, :func:`resnetzoo.explain`):

1. **to unit pixels**: a file (through :func:`~resnetzoo.data.read_image`), a PIL image, a numpy array
   ``(H, W[, C])`` or a tensor ``([C,] H, W)`` becomes float32 in [0, 1] with the model's channel count
   (grey is repeated to RGB, alpha dropped, RGB becomes luma for a 1-channel model);
2. **resize** to the record's input size, antialiased bilinear (bilinear weights are non-negative, so
   the result stays in [0, 1]); an image already of that size is left as it is;
3. **normalise** with the record's mean and std.

Each step is a torchvision transforms v2 object; :meth:`Preprocess.transforms` chains them for your own
pipeline, and :func:`~resnetzoo.data.image_folder` resizes with step 2 too.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from .._validate import check_input_size, check_numbers
from .image import pil_to_tensor, read_image

if TYPE_CHECKING:
    from torchvision.transforms import v2

    from ..models.weights import Weights

__all__ = ["Preprocess", "split_images", "to_unit_image"]


class Preprocess:
    """The preprocessing of one model: unit pixels, resize to ``input_size``, normalise.

    Args:
        input_size: ``(channels, height, width)`` the model takes.
        mean: Per-channel mean to normalise with, in [0, 1] pixel units (one value per channel).
        std: Per-channel standard deviation, positive.

    Raises:
        ArgumentError: If ``input_size`` is not three positive integers, or ``mean``/``std`` do not have
            one finite value per channel (std positive).

    Example:
        >>> import torch
        >>> from resnetzoo.data.preprocess import Preprocess
        >>> pre = Preprocess((3, 32, 32), mean=(0.5,) * 3, std=(0.25,) * 3)
        >>> pre(torch.full((3, 64, 64), 128, dtype=torch.uint8)).shape
        torch.Size([3, 32, 32])
    """

    def __init__(self, input_size: Sequence[int], mean: Sequence[float], std: Sequence[float]) -> None:
        from torchvision.transforms import v2  # seconds to import: only when images are preprocessed

        self.input_size: tuple[int, int, int] = check_input_size("input_size", input_size)
        channels, height, width = self.input_size
        self.mean: tuple[float, ...] = check_numbers("mean", mean, length=channels)
        self.std: tuple[float, ...] = check_numbers("std", std, length=channels, positive=True)
        self.to_unit = _to_unit_image_class()(channels)
        self.resize = v2.Resize((height, width), interpolation=v2.InterpolationMode.BILINEAR, antialias=True)
        self.normalize = v2.Normalize(list(self.mean), list(self.std))

    @classmethod
    def from_record(cls, record: Weights) -> Preprocess:
        """The preprocessing a weights record asks for.

        Raises:
            ValueError: If the record has no normalisation (a model with random weights).
        """
        if record.mean is None or record.std is None:
            raise ValueError(
                f"weights {record.name!r} record no normalisation (mean/std): a model with random weights "
                "has none; normalise with the statistics of the data you train on"
            )
        return cls(record.input_size, record.mean, record.std)

    def unit_resized(self, image: Any, name: str = "image") -> Tensor:
        """Steps 1 and 2: ``(C, H, W)`` float32 pixels in [0, 1] at the model's input size."""
        return self.resize(to_unit_image(image, name, self.input_size[0])).as_subclass(Tensor)

    def __call__(self, image: Any, name: str = "image") -> Tensor:
        """All three steps: the normalised ``(C, H, W)`` float32 tensor the model takes."""
        return self.normalize(self.unit_resized(image, name)).as_subclass(Tensor)

    def transforms(self) -> v2.Compose:
        """The three steps as torchvision transforms v2, for your own pipeline (images only)."""
        from torchvision.transforms import v2

        return v2.Compose([self.to_unit, self.resize, self.normalize])

    def __repr__(self) -> str:
        return f"Preprocess(input_size={self.input_size}, mean={self.mean}, std={self.std})"


@functools.cache
def _to_unit_image_class() -> type:
    """Step 1 as a transforms v2 class, made on first use (torchvision takes seconds to import)."""
    from PIL import Image
    from torchvision import tv_tensors
    from torchvision.transforms import v2

    class ToUnitImage(v2.Transform):
        """PIL images, arrays and image tensors to float32 pixels in [0, 1] with ``channels`` channels."""

        _transformed_types = (Tensor, Image.Image, np.ndarray)

        def __init__(self, channels: int) -> None:
            super().__init__()
            self.channels = channels

        def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
            return tv_tensors.Image(to_unit_image(inpt, "image", self.channels))

    return ToUnitImage


def split_images(images: Any) -> Iterable[Any]:
    """One item per image: a batch tensor ``(B, C, H, W)`` or array ``(B, H, W, C)`` is split, a single
    image (a path, a PIL image, a 2- or 3-D tensor or array) is wrapped."""
    from PIL import Image

    if isinstance(images, (str, os.PathLike, Image.Image)):
        return [images]
    if isinstance(images, Tensor):
        return list(images.unbind(0)) if images.dim() == 4 else [images]
    if isinstance(images, np.ndarray):
        return list(images) if images.ndim == 4 else [images]
    return images


def to_unit_image(item: Any, name: str, channels: int) -> Tensor:
    """One image as a float32 ``(channels, H, W)`` tensor with values in [0, 1].

    Args:
        item: A file path, a PIL image, a numpy array ``(H, W[, C])`` (uint8 or float in [0, 1]) or a
            tensor ``([C,] H, W)`` (likewise).
        name: How messages call it, e.g. ``"image 3"``.
        channels: The channel count to convert to (1 or 3, or the image's own).

    Raises:
        FileNotFoundError: If a file does not exist.
        ImageDecodeError: If a file cannot be decoded (see :func:`~resnetzoo.data.read_image`).
        ValueError: If the pixels are NaN, infinite, outside [0, 1] (float) or of another integer dtype
            than uint8, or the channel count cannot be converted.
        TypeError: If ``item`` is none of the kinds above.
    """
    from PIL import Image

    if isinstance(item, (str, os.PathLike)):
        x = read_image(item)
    elif isinstance(item, Image.Image):
        x = pil_to_tensor(item, name)
    elif isinstance(item, np.ndarray):
        if item.ndim not in (2, 3):
            raise ValueError(f"{name}: expected an array of shape (H, W) or (H, W, C), got {item.shape}")
        array = item[:, :, None] if item.ndim == 2 else item
        x = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)  # (H, W, C) -> (C, H, W)
    elif isinstance(item, Tensor):
        if item.dim() not in (2, 3):
            raise ValueError(
                f"{name}: expected a tensor of shape (H, W) or (C, H, W), got {tuple(item.shape)}"
            )
        x = (item[None] if item.dim() == 2 else item).detach().cpu().as_subclass(Tensor)
    else:
        raise TypeError(
            f"{name}: expected a file path, PIL image, numpy array or tensor, got {type(item).__name__}"
        )
    return _match_channels(_to_unit_float(x, name), name, channels)


def _to_unit_float(x: Tensor, name: str) -> Tensor:
    if x.dtype == torch.uint8:
        return x.to(torch.float32) / 255
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected uint8 (0..255) or floating point (0..1) pixels, got {x.dtype}")
    x = x.to(torch.float32)
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    lo, hi = x.min().item(), x.max().item()
    # A little slack for rounding in the caller's own conversions.
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise ValueError(
            f"{name} has float pixels in [{lo:.3g}, {hi:.3g}]; resnetzoo expects unnormalised pixels in "
            "[0, 1] and normalises them itself (divide uint8 images by 255, do not normalise)"
        )
    return x


def _match_channels(x: Tensor, name: str, channels: int) -> Tensor:
    """``(c, H, W)`` to ``(channels, H, W)``, as PIL converts: grey repeated, alpha dropped, RGB to luma."""
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
        f"{name} has {c} channels, the model takes {channels}; tensors must be (C, H, W) and arrays (H, W, C)"
    )
