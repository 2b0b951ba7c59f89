"""Batched image augmentation on tensors, on whatever device the batch is on.

Each op takes a whole ``(B, C, H, W)`` batch and a :class:`torch.Generator` and draws one set of random
parameters per image, so a seeded generator reproduces the batch exactly (on the same device: CPU and CUDA
generators give different streams). Ops keep the dtype, so crop and flip run on uint8 images before
normalization and cutout runs on the normalized floats.

Speed matters here: at 100k images/s of training on one GPU, augmentation gets a small slice of 10 µs per
image. Per-pixel gathers (an index grid of ``B * H * W`` positions) are too slow for that, so:

* :func:`random_crop` pads once and copies each image's shifted window with a single advanced-indexing
  call over an ``unfold`` view of all windows. On one CPU thread, 512 CIFAR images: 2.4 ms, against 17 ms
  for a per-pixel gather, 12 ms for grouping the images by their 81 shifts and 15 ms for airbench's two
  passes of 9 row and 9 column groups (``benchmarks/bench_data.py`` measures the whole loader).
* :func:`random_flip` blends a flipped copy with a 0/1 mask in uint8 arithmetic: 0.8 ms, against 3.6 ms
  for ``torch.where`` with a broadcast bool mask (slow on CPU) and 2.5 ms for index-put of the flipped half.
* :func:`cutout` builds its square masks from ``arange`` comparisons that broadcast to ``(B, 1, H, W)``
  and multiplies by them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .._validate import check_bool, check_choice, check_int

__all__ = ["POLICIES", "AugmentConfig", "apply_policy", "cutout", "random_crop", "random_flip"]

POLICIES = ("autoaugment", "trivialaugment")
"""Names accepted by :func:`apply_policy` and :attr:`AugmentConfig.policy`."""


@dataclass(frozen=True)
class AugmentConfig:
    """What :class:`~resnetzoo.data.DeviceLoader` does to each training batch.

    The loader crops, flips, applies the policy (on uint8), normalizes, then cuts out. The default is the
    standard CIFAR recipe (He et al. 2015): 4-pixel pad-and-crop and horizontal flips.

    Raises:
        ValueError: if a size is negative or ``policy`` is not one of :data:`POLICIES`.

    Attributes:
        crop_padding: zero-pad each side by this much, then crop back to size; 0 = no crop
        flip: flip left-right with probability 1/2
        cutout: side of a square zeroed after normalization (DeVries & Taylor 2017); 0 = none
        policy: "autoaugment" (CIFAR-10 policy) or "trivialaugment"; slow, per image
    """

    crop_padding: int = 4
    flip: bool = True
    cutout: int = 0
    policy: str | None = None

    def __post_init__(self) -> None:
        # frozen: the checked values (numpy integers become ints) go in through object.__setattr__
        object.__setattr__(self, "crop_padding", check_int("crop_padding", self.crop_padding, minimum=0))
        object.__setattr__(self, "flip", check_bool("flip", self.flip))
        object.__setattr__(self, "cutout", check_int("cutout", self.cutout, minimum=0))
        check_choice("policy", self.policy, POLICIES, none=True)


def _check_batch(images: Tensor) -> None:
    if images.ndim != 4:
        raise ValueError(f"expected a (B, C, H, W) batch, got shape {tuple(images.shape)}")


def _random_offsets(
    batch: int, padding: int, generator: torch.Generator | None, device: torch.device
) -> Tensor:
    """``(B, 2)`` window offsets ``(dy, dx)``, each uniform in ``[0, 2 * padding]``."""
    return torch.randint(0, 2 * padding + 1, (batch, 2), generator=generator, device=device)


def _crop_windows(padded: Tensor, index: Tensor, offsets: Tensor, size: tuple[int, int]) -> Tensor:
    """``padded[index[i], :, dy:dy + h, dx:dx + w]`` for each ``i``, in one copy.

    Args:
        padded: ``(N, C, H + 2p, W + 2p)`` images.
        index: ``(B,)`` which images to take.
        offsets: ``(B, 2)`` top-left corner ``(dy, dx)`` of each window.
        size: ``(h, w)`` of the windows.

    Returns:
        ``(B, C, h, w)`` windows, contiguous.
    """
    h, w = size
    windows = padded.unfold(2, h, 1).unfold(3, w, 1)  # (N, C, 2p+1, 2p+1, h, w), a view: nothing copied
    # index tensors split by a slice: the broadcast index dim goes first, giving (B, C, h, w)
    return windows[index, :, offsets[:, 0], offsets[:, 1]]


def random_crop(images: Tensor, padding: int = 4, generator: torch.Generator | None = None) -> Tensor:
    """Zero-pads each side by ``padding`` and crops each image back at a random offset.

    The same distribution as torchvision's ``RandomCrop(size, padding=padding)``: each image's window is
    shifted by ``(dy, dx)``, uniform in ``[-padding, padding]`` each, with zeros filling the border.

    Args:
        images: ``(B, C, H, W)`` batch, any dtype and device.
        padding: pixels of zero padding on each side.
        generator: random source on ``images.device``; None uses the global one.

    Returns:
        A new ``(B, C, H, W)`` batch.

    Raises:
        ValueError: if ``images`` is not 4-D or ``padding`` is negative.
    """
    _check_batch(images)
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    B, _, H, W = images.shape
    padded = F.pad(images, (padding, padding, padding, padding))
    offsets = _random_offsets(B, padding, generator, images.device)
    return _crop_windows(padded, torch.arange(B, device=images.device), offsets, (H, W))


def random_flip(images: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Flips each image left-right with probability 1/2.

    Args:
        images: ``(B, C, H, W)`` batch, any dtype and device.
        generator: random source on ``images.device``; None uses the global one.

    Returns:
        A new ``(B, C, H, W)`` batch.

    Raises:
        ValueError: if ``images`` is not 4-D.
    """
    _check_batch(images)
    flip = torch.randint(0, 2, (len(images), 1, 1, 1), generator=generator, device=images.device)
    flip = flip.to(images.dtype)
    # exact for integers and floats alike, since one of the two terms is always multiplied by zero
    return images.flip(-1) * flip + images * (1 - flip)


def cutout(images: Tensor, size: int, generator: torch.Generator | None = None, fill: float = 0.0) -> Tensor:
    """Fills one ``size`` x ``size`` square per image with ``fill`` (DeVries & Taylor 2017).

    The square's centre is uniform over the image, so near the border only part of it lands on the image,
    as in the paper. Applied after normalization with ``fill=0``, the square takes the data set's mean colour.

    Args:
        images: ``(B, C, H, W)`` batch, any dtype and device.
        size: side of the square in pixels; 0 returns the batch unchanged.
        generator: random source on ``images.device``; None uses the global one.
        fill: value written into the square.

    Returns:
        A new ``(B, C, H, W)`` batch.

    Raises:
        ValueError: if ``images`` is not 4-D or ``size`` is negative.
    """
    _check_batch(images)
    if size < 0:
        raise ValueError(f"size must be >= 0, got {size}")
    if size == 0:
        return images.clone()
    keep = _cutout_keep_mask(images, size, generator)
    out = images * keep
    if fill != 0:
        out += (1 - keep) * fill
    return out


def _cutout_keep_mask(images: Tensor, size: int, generator: torch.Generator | None) -> Tensor:
    """``(B, 1, H, W)`` mask in ``images.dtype``: 0 inside each image's random square, 1 elsewhere."""
    B, _, H, W = images.shape
    device = images.device
    top = torch.randint(0, H, (B, 1, 1, 1), generator=generator, device=device) - size // 2
    left = torch.randint(0, W, (B, 1, 1, 1), generator=generator, device=device) - size // 2
    rows = torch.arange(H, device=device).view(1, 1, H, 1)
    cols = torch.arange(W, device=device).view(1, 1, 1, W)
    inside = ((rows >= top) & (rows < top + size)) & ((cols >= left) & (cols < left + size))  # (B, 1, H, W)
    # multiply by a 0/1 mask rather than masked_fill: 2x faster on CPU, and it keeps channels_last layout,
    # which masked_fill with a broadcast mask does not
    return (~inside).to(images.dtype)


def apply_policy(images: Tensor, policy: str, generator: torch.Generator | None = None) -> Tensor:
    """Applies AutoAugment (CIFAR-10 policy, Cubuk et al. 2019) or TrivialAugment (Müller & Hutter 2021).

    Uses ``torchvision.transforms.v2``, one image at a time so that each image draws its own operation
    (v2 applied to a batch would give every image the same one). That makes this op far slower than the
    others, a few thousand images/s per CPU core; use it where the accuracy gain is worth it.

    The v2 transforms draw from torch's global CPU generator; to keep batches reproducible this seeds a
    forked copy of it from ``generator``, leaving the global state as it was.

    Args:
        images: ``(B, C, H, W)`` uint8 batch, any device.
        policy: ``"autoaugment"`` or ``"trivialaugment"``.
        generator: random source on ``images.device``; None uses the global one.

    Returns:
        A new ``(B, C, H, W)`` uint8 batch.

    Raises:
        ValueError: if ``policy`` is unknown or ``images`` is not a 4-D uint8 batch.
    """
    from torchvision.transforms import v2  # imported here: only this opt-in op needs it

    _check_batch(images)
    if images.dtype != torch.uint8:
        raise ValueError(f"policies run on uint8 images, got {images.dtype}")
    if policy == "autoaugment":
        transform = v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10)
    elif policy == "trivialaugment":
        transform = v2.TrivialAugmentWide()
    else:
        raise ValueError(f"unknown policy {policy!r}; choose one of {POLICIES}")
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=images.device))
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)
        return torch.stack([transform(image) for image in images])
