"""Image decoding through ``torchvision.io``, the one place that calls it.

torchvision 0.29 deprecated its image decoders in favour of TorchCodec and warns on every call. The warning
is addressed to resnetzoo, not to its users, who can do nothing about it, so it is silenced here, for these
calls only. Moving to TorchCodec would add a dependency; when torchvision drops the decoders, only this
module changes.
"""

from __future__ import annotations

import warnings

from torch import Tensor
from torchvision.io import ImageReadMode, decode_image, decode_jpeg

_DEPRECATION = "The image decoding and encoding capabilities of TorchVision are deprecated"


def decode_rgb(encoded: Tensor) -> Tensor:
    """One PNG/JPEG/... file's bytes (uint8, 1-D) as a uint8 ``(3, H, W)`` RGB image."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_DEPRECATION, category=DeprecationWarning)
        return decode_image(encoded, mode=ImageReadMode.RGB)


def decode_jpegs_rgb(encoded: list[Tensor]) -> list[Tensor]:
    """Many JPEG files' bytes decoded in one call, each as a uint8 ``(3, H, W)`` RGB image."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_DEPRECATION, category=DeprecationWarning)
        return decode_jpeg(encoded, mode=ImageReadMode.RGB)
