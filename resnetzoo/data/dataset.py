"""The one tensor-backed image data set that CIFAR, image folders and the bundled sample all return."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from .._validate import check_int, check_seed, check_tensor, is_int
from ..errors import ArgumentError, ArgumentTypeError, DatasetError

__all__ = ["DatasetError", "TensorImageDataset", "compute_mean_std"]


_INTEGER_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


class TensorImageDataset(Dataset):
    """Images held in one uint8 tensor, with integer labels.

    The whole data set lives in memory as ``data`` of shape ``(N, H, W, C)`` (uint8, the layout image files
    decode to) and ``targets`` of shape ``(N,)`` (int64). Indexing gives ``(image, label)`` with ``image`` a
    float ``(C, H, W)`` tensor in [0, 1], so it works with :class:`torch.utils.data.DataLoader` as an
    ordinary map-style data set; :class:`~resnetzoo.data.DeviceLoader` reads ``data`` directly instead and
    is much faster.

    Args:
        data: uint8 images, ``(N, H, W, C)`` with ``C`` 1 or 3.
        targets: one class index per image, in ``[0, len(classes))``.
        classes: class names; ``classes[i]`` names label ``i``.
        transform: applied to each float ``(C, H, W)`` image in ``__getitem__``.
        split: which split this is (``"train"``, ``"val"``, ``"test"``), or None; shown in the repr.
        description: one line on where the images come from; shown in the repr.
        dataset_id: the data set's short name, as a model card records it: ``"cifar10"``, ``"cifar100"``,
            ``"cifar10_sample"``, or an image folder's name; None if unknown.

    Raises:
        ArgumentTypeError: if ``data`` is not a uint8 tensor (a ``TypeError``; for a numpy array the message
            says to convert it with ``torch.from_numpy``).
        ValueError: if the data set is empty, ``data`` is not ``(N, H, W, C)`` with 1 or 3 channels,
            ``targets`` does not have one integer label per image, a label is outside
            ``[0, len(classes))``, or ``classes`` is empty.
    """

    def __init__(
        self,
        data: Tensor,
        targets: Tensor | Sequence[int],
        classes: Sequence[str],
        *,
        transform: Callable[[Tensor], Any] | None = None,
        split: str | None = None,
        description: str | None = None,
        dataset_id: str | None = None,
    ) -> None:
        check_tensor("data", data, what="a uint8 tensor of shape (N, H, W, C)")
        if data.dtype != torch.uint8:
            raise ArgumentTypeError(
                f"data must be a uint8 tensor of shape (N, H, W, C), got "
                f"{data.dtype if isinstance(data, Tensor) else type(data).__name__}"
            )
        if data.ndim != 4 or data.shape[-1] not in (1, 3):
            raise ValueError(
                f"data must have shape (N, H, W, C) with C = 1 or 3 (channels last, as images decode), "
                f"got {tuple(data.shape)}"
            )
        if data.shape[0] == 0:
            raise ValueError("the data set is empty: data has no images")
        targets = torch.as_tensor(targets)
        if targets.ndim != 1 or targets.dtype not in _INTEGER_DTYPES:
            raise ValueError(
                f"targets must be a 1-D tensor of integer labels, got {targets.dtype} {tuple(targets.shape)}"
            )
        if len(targets) != len(data):
            raise ValueError(f"data has {len(data)} images but targets has {len(targets)} labels")
        classes = [str(name) for name in classes]
        if not classes:
            raise ValueError("classes is empty: name at least one class")
        targets = targets.to(torch.int64)
        low, high = int(targets.min()), int(targets.max())
        if low < 0 or high >= len(classes):
            bad = low if low < 0 else high
            raise ValueError(
                f"label {bad} is out of range for {len(classes)} classes "
                f"(labels must be in [0, {len(classes)}))"
            )
        self.data = data
        self.targets = targets
        self.classes = classes
        self.transform = transform
        self.split = split
        self.description = description
        self.dataset_id = dataset_id

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image = self.data[index].permute(2, 0, 1).float().div_(255)  # (H, W, C) uint8 -> (C, H, W) in [0, 1]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.targets[index])

    @property
    def num_classes(self) -> int:
        """Number of classes, ``len(classes)``."""
        return len(self.classes)

    def __repr__(self) -> str:
        N, H, W, C = self.data.shape
        lines = [type(self).__name__ + (f": {self.description}" if self.description else "")]
        if self.split is not None:
            lines.append(f"    split: {self.split}")
        lines.append(f"    images: {N:,} of {H}x{W}x{C} (uint8)")
        lines.append(f"    classes: {len(self.classes)}")
        if self.transform is not None:
            lines.append(f"    transform: {self.transform!r}")
        return "\n".join(lines)

    def train_val_split(self, val_size: int, seed: int = 0) -> tuple[TensorImageDataset, TensorImageDataset]:
        """Splits off a validation set, stratified per class and the same for the same ``seed``.

        Each class gives ``val_size`` images in proportion to its share of the data set (so a balanced data
        set gives exactly ``val_size / num_classes`` per class when that divides). The two parts never
        overlap, and each keeps the original order of its images.

        Args:
            val_size: number of validation images, ``0 < val_size < len(self)``.
            seed: picks which images of each class go to validation.

        Returns:
            ``(train, val)`` data sets sharing this one's classes and transform.

        Raises:
            ArgumentError: if ``val_size`` is not an integer in ``(0, len(self))`` or ``seed`` is not an
                integer in [0, 2**63).
        """
        seed = check_seed("seed", seed)
        if not is_int(val_size) or not 0 < val_size < len(self):
            raise ArgumentError(
                f"val_size must be in (0, {len(self)}) for a data set of {len(self)} images (an integer); "
                f"got {val_size!r}"
            )
        train_index, val_index = _stratified_split(self.targets, self.num_classes, val_size, seed)
        return self._subset(train_index, "train"), self._subset(val_index, "val")

    def _subset(self, index: Tensor, split: str) -> TensorImageDataset:
        return TensorImageDataset(
            self.data[index],
            self.targets[index],
            self.classes,
            transform=self.transform,
            split=split,
            description=self.description,
            dataset_id=self.dataset_id,
        )


def _holdout_part(
    data: Tensor, targets: Tensor, num_classes: int, split: str, val_size: int, seed: int
) -> tuple[Tensor, Tensor, str]:
    """The ``split`` ("train" or "val") part of a stratified ``val_size``-image hold-out, and its words."""
    train_index, val_index = _stratified_split(targets, num_classes, val_size, seed)
    index = train_index if split == "train" else val_index
    words = f"{split} part of a stratified {val_size:,}-image validation hold-out (seed={seed})"
    return data[index], targets[index], words


def _stratified_split(targets: Tensor, num_classes: int, val_size: int, seed: int) -> tuple[Tensor, Tensor]:
    """Indices ``(train, val)`` with ``val_size`` images drawn per class in proportion to class size.

    Quotas are ``val_size * class_count / N`` rounded down, and the images left over go to the classes with
    the largest remainders (ties to the lower class index): Hamilton's apportionment, so the quotas always
    sum to ``val_size`` and a balanced set gets equal counts. Both index tensors come back sorted.
    """
    counts = torch.bincount(targets, minlength=num_classes)
    exact = counts.double() * val_size / len(targets)
    quotas = exact.floor().long()
    leftover = val_size - int(quotas.sum())
    # stable sort on -remainder keeps lower class indices first among ties
    order = torch.sort(-(exact - quotas), stable=True).indices
    quotas[order[:leftover]] += 1

    generator = torch.Generator().manual_seed(seed)
    val_mask = torch.zeros(len(targets), dtype=torch.bool)
    for label in range(num_classes):
        members = (targets == label).nonzero().squeeze(1)
        # one permutation per class, drawn in class order, so the split depends only on (targets, seed)
        chosen = members[torch.randperm(len(members), generator=generator)[: int(quotas[label])]]
        val_mask[chosen] = True
    return (~val_mask).nonzero().squeeze(1), val_mask.nonzero().squeeze(1)


def compute_mean_std(
    dataset: Dataset, *, max_images: int | None = None
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation over all pixels of a data set.

    This is what to pass to :class:`~resnetzoo.data.DeviceLoader` (or ``Normalize``) for your own data. The
    standard deviation is taken over every pixel of every image, not averaged per image (see
    :mod:`resnetzoo.data.constants` for why that matters).

    A :class:`TensorImageDataset` without a transform is counted exactly and quickly from its uint8 pixels
    (a 256-bin histogram per channel; about 0.3 s for CIFAR-10 on one core). Any other map-style data set is
    read item by item: each item must be a float ``(C, H, W)`` tensor, or a tuple/list whose first element
    is one, and the statistics are those of the tensors as returned (after the data set's transform).

    Args:
        dataset: the images to measure.
        max_images: read only the first this many images (for a quick estimate on a large data set).

    Returns:
        ``(mean, std)``, each a tuple with one float per channel.

    Raises:
        ValueError: if the data set is empty or ``max_images`` is not positive.
        TypeError: if an item is not a ``(C, H, W)`` tensor (or a tuple/list starting with one).
    """
    max_images = check_int("max_images", max_images, minimum=1, none=True)
    count = len(dataset) if max_images is None else min(len(dataset), max_images)
    if count == 0:
        raise ValueError("cannot compute statistics of an empty data set")
    if isinstance(dataset, TensorImageDataset) and dataset.transform is None:
        return _uint8_mean_std(dataset.data[:count])

    # float64 sums, so that millions of pixels add up without float32's rounding
    total = total_sq = torch.zeros((), dtype=torch.float64)
    pixels = 0
    for i in range(count):
        item = dataset[i]
        image = item[0] if isinstance(item, (tuple, list)) else item
        if not isinstance(image, Tensor) or image.ndim != 3:
            raise TypeError(
                f"item {i} must be a (C, H, W) tensor or a tuple starting with one, got "
                f"{type(image).__name__}{tuple(image.shape) if isinstance(image, Tensor) else ''}"
            )
        image = image.double().cpu()
        total = total + image.sum(dim=(1, 2))
        total_sq = total_sq + image.square().sum(dim=(1, 2))
        pixels += image.shape[1] * image.shape[2]
    mean = total / pixels
    std = (total_sq / pixels - mean.square()).clamp_min(0).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())


def _uint8_mean_std(data: Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Exact mean/std of uint8 ``(N, H, W, C)`` pixels scaled to [0, 1], from a histogram per channel."""
    values = torch.arange(256, dtype=torch.float64) / 255
    means, stds = [], []
    for channel in range(data.shape[-1]):
        histogram = torch.bincount(data[..., channel].reshape(-1), minlength=256).double()
        n = histogram.sum()
        mean = (histogram * values).sum() / n
        variance = (histogram * (values - mean).square()).sum() / n
        means.append(float(mean))
        stds.append(math.sqrt(float(variance)))
    return tuple(means), tuple(stds)
