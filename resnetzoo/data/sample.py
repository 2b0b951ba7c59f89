"""A 6,000-image CIFAR-10 sample shipped with the package, for examples, smoke tests and quick checks."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from itertools import pairwise
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._validate import check_int, check_seed
from .dataset import TensorImageDataset, _holdout_part
from .image import decode_jpegs_rgb

__all__ = ["sample_cifar10"]

_SAMPLE = files(__package__).joinpath("_sample", "cifar10_sample.npz")
_DESCRIPTION = (
    "CIFAR-10 sample: 5,000 train + 1,000 test images (class-balanced) of the JPEG CIFAR-10 copy, "
    "not the full data set"
)


def sample_cifar10(
    split: str = "train",
    val_size: int = 0,
    seed: int = 0,
    transform: Callable[[Tensor], Any] | None = None,
) -> TensorImageDataset:
    """A 5,000 train + 1,000 test image sample of the JPEG CIFAR-10 copy, not the full data set.

    It ships inside resnetzoo: no download, no files to find. It holds 500 training and 100 test images
    per class, picked at random (seed 0) from a copy of CIFAR-10 whose images were re-encoded at JPEG
    quality 75 (a model trained and tested on that copy scores about 3 points below the original). The
    original JPEG bytes are stored in the package (1.8 MB) and decoded in one batch on each call. Use it
    for examples, smoke tests and quick experiments, never to report CIFAR-10 accuracy; for that, use
    :class:`~resnetzoo.data.CIFAR10`. ``scripts/build_sample.py`` builds it.

    Args:
        split: ``"train"``, ``"val"`` (carved from the 5,000 training images) or ``"test"``.
        val_size: images held out of the sample's training part for ``"val"``, stratified per class; 0
            keeps all 5,000 in ``"train"``.
        seed: picks the validation images.
        transform: applied to each float ``(C, H, W)`` image by ``__getitem__``.

    Returns:
        A :class:`~resnetzoo.data.TensorImageDataset` of uint8 ``(N, 32, 32, 3)`` images.

    Raises:
        ValueError: if ``split`` is unknown, ``val_size`` is not in ``[0, 5000)``, or ``split="val"`` with
            ``val_size=0``.

    Example:
        >>> train, test = sample_cifar10("train"), sample_cifar10("test")
        >>> len(train), len(test)
        (5000, 1000)
    """
    if split not in ("train", "val", "test"):
        raise ValueError(f"unknown split {split!r}; choose one of 'train', 'val', 'test'")
    val_size = check_int(
        "val_size",
        val_size,
        minimum=0,
        maximum=4999,
        accepted="an integer in [0, 5000) for the 5,000-image training sample",
    )
    seed = check_seed("seed", seed)
    if split == "val" and val_size == 0:
        raise ValueError(
            "split='val' needs val_size > 0 (val_size=0 puts all 5,000 sample images in 'train')"
        )

    part = "test" if split == "test" else "train"
    with _SAMPLE.open("rb") as f, np.load(f, allow_pickle=False) as arrays:
        classes = arrays["classes"].tolist()
        jpeg = torch.from_numpy(arrays[f"{part}_jpeg"])
        offsets = arrays[f"{part}_offsets"].tolist()
        targets = torch.from_numpy(arrays[f"{part}_labels"].astype(np.int64))
    images = decode_jpegs_rgb([jpeg[start:end] for start, end in pairwise(offsets)])
    data = torch.stack(images).permute(0, 2, 3, 1).contiguous()  # (N, C, H, W) -> (N, H, W, C)

    description = _DESCRIPTION
    if split != "test" and val_size > 0:
        data, targets, part = _holdout_part(data, targets, len(classes), split, val_size, seed)
        description += f"; {part}"
    return TensorImageDataset(
        data,
        targets,
        classes,
        transform=transform,
        split=split,
        description=description,
        dataset_id="cifar10_sample",
    )
