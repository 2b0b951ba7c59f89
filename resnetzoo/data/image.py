"""The one image decoder: an image file in, an RGB ``(3, H, W)`` tensor out, or an error naming the file.

:func:`read_image` is what :func:`resnetzoo.predict`, :func:`resnetzoo.explain`,
:func:`resnetzoo.data.image_folder` and the command line read files with, so a file gives the same
pixels, or the same error, wherever it is opened.

- PNG and JPEG (what image folders hold) are decoded by ``torchvision.io.decode_image``: on 2,000
  CIFAR-10 JPEGs it gives exactly PIL's pixels (EXIF orientation, CMYK and palettes included), about
  2.8x faster (``benchmarks/bench_decode.py``). Everything else (TIFF, BMP, PGM, WebP, GIF...) is
  decoded by PIL.
- 8-bit images come out ``uint8``; 16-bit ones (PNG, TIFF, PGM) ``float32`` divided by 65535, and float
  images (TIFF) ``float32``, which must hold pixels in [0, 1]. PIL's own ``convert("RGB")`` would clip
  them at 255: a mid-grey 16-bit image would turn white and a float image of 0.5 black.
- Greyscale is repeated to three channels; palettes are expanded; CMYK is converted to RGB; the EXIF
  orientation of photos is applied, as image viewers do.
- An alpha channel (RGBA, grey + alpha, a palette's transparent entry) is **dropped**, not composited:
  the colour under a transparent pixel is kept. That is what torchvision, PIL's ``convert("RGB")`` and
  every earlier resnetzoo release did, so models trained on images read this way see the same pixels;
  composite your images yourself if their transparent parts hide junk.

torchvision 0.29 deprecated its image decoders in favour of TorchCodec and warns on every call. The
warning is addressed to resnetzoo, not to its users, so it is silenced here, for these calls only; when
torchvision drops the decoders, only this module changes.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from ..errors import ImageDecodeError

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["pil_to_tensor", "read_image", "to_uint8"]

_DEPRECATION = "The image decoding and encoding capabilities of TorchVision are deprecated"
# The first bytes of the formats torchvision decodes as PIL does; the rest go to PIL.
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_UINT16_MAX = 65535
# PIL's modes for one channel of more than 8 bits ("I" is what PIL gives 16-bit PGM and 32-bit TIFF files).
_HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
_GREY_MODES = ("1", "L", "LA", "La", *_HIGH_DEPTH_MODES)


def read_image(path: str | os.PathLike[str]) -> Tensor:
    """Decode one image file as an RGB ``(3, H, W)`` tensor.

    Args:
        path: A PNG, JPEG or any other file PIL reads.

    Returns:
        ``uint8`` in 0..255 for 8-bit images; ``float32`` in [0, 1] for 16-bit and float images. See
        the module docstring for what happens to greyscale, palettes, CMYK, alpha and EXIF orientation.

    Raises:
        FileNotFoundError: If the file does not exist.
        ImageDecodeError: If it is a folder, or is truncated, corrupted or not an image, or a 32-bit
            integer image with values outside 0..65535, or a float image with pixels outside [0, 1]. The
            message names the file and the cause.

    Example:
        >>> from resnetzoo.data import read_image
        >>> read_image("cat.png").shape  # doctest: +SKIP
        torch.Size([3, 32, 32])
    """
    path = Path(path)
    if path.is_dir():
        raise ImageDecodeError(f"cannot decode image file {path}: it is a directory, not an image file")
    try:
        encoded = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: {path}") from None
    except OSError as err:
        raise ImageDecodeError(f"cannot read image file {path}: {err.strerror or err}") from err
    if encoded.startswith((_PNG_MAGIC, _JPEG_MAGIC)):
        image = _decode_with_torchvision(encoded, path)
    else:
        image = _decode_with_pil(encoded, path)
    return image.expand(3, -1, -1).contiguous() if image.shape[0] == 1 else image


def pil_to_tensor(image: Image.Image, name: str) -> Tensor:
    """A PIL image as ``(C, H, W)``: C is 1 for greyscale modes, else 3 (RGB; alpha dropped).

    ``uint8`` for 8-bit modes, ``float32`` in [0, 1] for 16-bit (divided by 65535) and float ones.

    Args:
        image: The image, already loaded.
        name: How messages call it: the file, or ``"image 3"``.

    Raises:
        ImageDecodeError: If it is a 32-bit integer image with values outside 0..65535, or a float image
            with pixels outside [0, 1] or not finite.
    """
    if image.mode in _HIGH_DEPTH_MODES:
        return _high_depth_to_unit(image, name)
    image = image.convert("L" if image.mode in _GREY_MODES else "RGB")  # palettes, CMYK, alpha: RGB
    array = np.asarray(image)
    array = array[:, :, None] if array.ndim == 2 else array
    return torch.from_numpy(array.copy()).permute(2, 0, 1)  # (H, W, C) -> (C, H, W)


def to_uint8(image: Tensor) -> Tensor:
    """An image from :func:`read_image` as ``uint8``: float pixels in [0, 1] are rounded to 0..255."""
    if image.dtype == torch.uint8:
        return image
    return (image * 255).round_().clamp_(0, 255).to(torch.uint8)


def decode_jpegs_rgb(encoded: list[Tensor]) -> list[Tensor]:
    """Many JPEG files' bytes (uint8, 1-D each) decoded in one call, each a uint8 ``(3, H, W)`` RGB image.

    For the bundled sample's known-good JPEGs; files on disk go through :func:`read_image`.
    """
    from torchvision.io import ImageReadMode, decode_jpeg

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_DEPRECATION, category=DeprecationWarning)
        return decode_jpeg(encoded, mode=ImageReadMode.RGB)


def _decode_with_torchvision(encoded: bytes, path: Path) -> Tensor:
    from torchvision.io import ImageReadMode, decode_image

    data = torch.frombuffer(bytearray(encoded), dtype=torch.uint8)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_DEPRECATION, category=DeprecationWarning)
            image = decode_image(data, mode=ImageReadMode.RGB, apply_exif_orientation=True)
    except (RuntimeError, ValueError) as err:  # what torchvision raises for truncated or corrupt files
        raise ImageDecodeError(f"cannot decode image file {path}: {_cause(err)}") from err
    if image.dtype == torch.uint16:  # a 16-bit PNG
        return image.to(torch.float32) / _UINT16_MAX
    return image


def _cause(err: Exception) -> str:
    """torchvision's message without the C++ source location it starts with."""
    text = str(err).strip()
    return re.sub(r"^.*?\.cpp:\d+,\s*", "", text, flags=re.DOTALL) or type(err).__name__


def _decode_with_pil(encoded: bytes, path: Path) -> Tensor:
    import io

    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(encoded)) as image:
            image.load()  # decoding is lazy: a truncated or corrupt file fails here, not at open
            image = ImageOps.exif_transpose(image)  # photos store their rotation in EXIF
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as err:
        cause = "not an image file PIL can read" if isinstance(err, UnidentifiedImageError) else err
        raise ImageDecodeError(f"cannot decode image file {path}: {cause}") from err
    return pil_to_tensor(image, f"image file {path}")


def _high_depth_to_unit(image: Image.Image, name: str) -> Tensor:
    """A 16-bit, 32-bit integer or float single-channel PIL image as a ``(1, H, W)`` float in [0, 1].

    16-bit images (``I;16*``, and ``I``, which PIL gives 16-bit PGM files) are divided by 65535; float
    images (``F``, e.g. float TIFF) must already hold pixels in [0, 1].
    """
    pixels = np.asarray(image)
    if image.mode == "F":
        x = torch.from_numpy(pixels.astype(np.float32))[None]
        if not torch.isfinite(x).all():
            raise ImageDecodeError(f"{name} is a float image holding NaN or infinite values")
        low, high = x.min().item(), x.max().item()
        if low < 0 or high > 1:
            raise ImageDecodeError(
                f"{name} is a float image with pixels in [{low:.3g}, {high:.3g}]; float images must hold "
                "pixels in [0, 1] (unnormalised): rescale it, or save it as an 8- or 16-bit image"
            )
        return x
    values = torch.from_numpy(pixels.astype(np.int64))[None]  # (1, H, W); int64 holds uint16 and int32
    low, high = int(values.min()), int(values.max())
    if low < 0 or high > _UINT16_MAX:
        raise ImageDecodeError(
            f"{name} is a 32-bit integer ({image.mode}) image with values in [{low}, {high}]; resnetzoo "
            "reads 8- and 16-bit integer images and float images in [0, 1]: convert it to one of those"
        )
    return values.to(torch.float32) / _UINT16_MAX
