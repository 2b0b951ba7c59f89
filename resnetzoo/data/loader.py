"""DeviceLoader: batches straight from a data set held whole on the training device."""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Iterator, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from .._validate import check_bool, check_int, check_seed
from ..errors import ArgumentError
from .augment import (
    AugmentConfig,
    _crop_windows,
    _cutout_keep_mask,
    _random_offsets,
    apply_policy,
    random_flip,
)
from .dataset import TensorImageDataset

__all__ = ["DeviceLoader"]


class DeviceLoader:
    """Shuffled, augmented, normalized batches from a data set kept whole on the target device.

    The uint8 images are moved to ``device`` once, as ``(N, C, H, W)``; each batch is then cut from them,
    augmented and normalized there as a whole, with no worker processes and no PIL. CIFAR-10 is 150 MB as
    uint8, so this fits any GPU, and it is what lets a GPU train at 100k images/s. It works on CPU too.

    Each epoch is reproducible on its own: its order depends only on ``(seed, epoch)`` and its augmentation
    only on ``(seed, epoch, rank)``, whatever was iterated before. Iterating the loader runs epoch
    :attr:`epoch` and then moves to the next; call :meth:`set_epoch` to resume at a given epoch.

    With ``train=True`` each epoch is a fresh permutation (``torch.randperm``) cut into ``world_size``
    disjoint equal slices, one per rank (the last ``len(dataset) % world_size`` images of the permutation
    sit the epoch out; which ones changes every epoch). With ``train=False`` the order is the data set's and
    every image is seen once: rank ``r`` takes images ``r, r + world_size, ...``, so shares differ by at most
    one image.

    Args:
        dataset: a tensor-backed data set (:class:`~resnetzoo.data.TensorImageDataset`, e.g. from
            :class:`~resnetzoo.data.CIFAR10` or :func:`~resnetzoo.data.image_folder`), without a transform.
        batch_size: images per batch.
        device: where the data set, the batches and the augmentation live.
        train: shuffle every epoch, and drop the last partial batch unless ``drop_last`` says otherwise.
        augment: ``"default"`` gives :class:`~resnetzoo.data.AugmentConfig` ``()`` (crop and flip) when
            ``train`` and no augmentation otherwise; None for none; or a config of your own.
        drop_last: drop the last batch if smaller than ``batch_size``; None means ``train``.
        seed: seeds the order and augmentation of every epoch.
        mean: per-channel mean of the [0, 1] pixels, e.g. :data:`~resnetzoo.data.CIFAR10_MEAN`; None (with
            ``std`` None) leaves pixels in [0, 1].
        std: per-channel standard deviation, e.g. :data:`~resnetzoo.data.CIFAR10_STD`.
        dtype: floating dtype of the image batches, e.g. ``torch.bfloat16``.
        channels_last: give batches in channels-last memory format (faster convolutions on GPU).
        rank: this process's rank when training on several.
        world_size: number of processes sharing each epoch.

    Yields:
        ``(images, targets)``: ``images`` a ``(B, C, H, W)`` ``dtype`` tensor, ``targets`` ``(B,)`` int64,
        both on ``device``.

    Raises:
        TypeError: if ``dataset`` is not a :class:`~resnetzoo.data.TensorImageDataset` or ``augment`` is not
            a config, ``"default"`` or None.
        ArgumentError: if ``batch_size``, ``seed``, ``rank`` or ``world_size`` is not an integer in range,
            or a flag is not True or False (:class:`~resnetzoo.ArgumentTypeError` for a wrong type).
        ValueError: if the data set has a transform (it would be ignored),
            ``dtype`` is not floating point, ``mean``/``std`` do not have one positive value per channel,
            ``rank``/``world_size`` are inconsistent, or a rank would get no batch.

    Example:
        >>> from resnetzoo.data import CIFAR10_MEAN, CIFAR10_STD, sample_cifar10
        >>> train = DeviceLoader(sample_cifar10("train"), 512, mean=CIFAR10_MEAN, std=CIFAR10_STD)
        >>> len(train)  # 5,000 images, last partial batch dropped in training
        9
        >>> images, targets = next(iter(train))  # each pass over train is the next epoch
        >>> images.shape, images.is_contiguous(memory_format=torch.channels_last), targets.dtype
        (torch.Size([512, 3, 32, 32]), True, torch.int64)

        On a GPU, ``device="cuda", dtype=torch.bfloat16`` keeps the data set there and yields bf16.
    """

    def __init__(
        self,
        dataset: TensorImageDataset,
        batch_size: int,
        *,
        device: torch.device | str = "cpu",
        train: bool = True,
        augment: AugmentConfig | Literal["default"] | None = "default",
        drop_last: bool | None = None,
        seed: int = 0,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        dtype: torch.dtype = torch.float32,
        channels_last: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if not isinstance(dataset, TensorImageDataset):
            raise TypeError(
                f"DeviceLoader needs a tensor-backed data set (TensorImageDataset, as CIFAR10, image_folder "
                f"and sample_cifar10 return), got {type(dataset).__name__}; use torch.utils.data.DataLoader "
                f"for others"
            )
        if dataset.transform is not None:
            raise ValueError(
                "the data set has a transform, which DeviceLoader would ignore: it augments whole batches "
                "itself; drop the transform and pass augment=AugmentConfig(...) instead"
            )
        batch_size = check_int("batch_size", batch_size, minimum=1)
        seed = check_seed("seed", seed)
        train = check_bool("train", train)
        channels_last = check_bool("channels_last", channels_last)
        drop_last = None if drop_last is None else check_bool("drop_last", drop_last)
        rank = check_int("rank", rank, minimum=0)
        world_size = check_int("world_size", world_size, minimum=1)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise ValueError(
                f"dtype must be a floating dtype such as torch.float32 or torch.bfloat16, got {dtype}"
            )
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(
                f"need world_size >= 1 and 0 <= rank < world_size, got rank={rank}, world_size={world_size}"
            )
        if augment == "default":
            augment = AugmentConfig() if train else None
        elif augment is not None and not isinstance(augment, AugmentConfig):
            raise TypeError(f"augment must be an AugmentConfig, 'default' or None, got {augment!r}")

        N, H, W, C = dataset.data.shape
        if augment is not None and augment.cutout > min(H, W):
            raise ArgumentError(
                f"cutout={augment.cutout} is larger than the data set's {H}x{W} images: a square that size "
                f"blanks most or all of an image; use a side up to {min(H, W)} (DeVries & Taylor 2017 cut 16 "
                "of CIFAR's 32)"
            )
        self.dataset = dataset
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.train = train
        self.augment = augment
        self.drop_last = train if drop_last is None else drop_last
        self.seed = seed
        self.dtype = dtype
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.rank = rank
        self.world_size = world_size
        self.num_samples = N // world_size if train else len(range(rank, N, world_size))
        self._epoch = 0
        if len(self) == 0:
            raise ValueError(
                f"no batches: each of {world_size} rank(s) gets {self.num_samples} images, fewer than "
                f"batch_size={batch_size} with drop_last=True"
            )
        self._scale, self._shift = self._normalization(mean, std, C)
        # What the batches are normalised with, as plain numbers (a trained model's record keeps them).
        self.mean = None if mean is None else tuple(float(v) for v in mean)
        self.std = None if std is None else tuple(float(v) for v in std)
        self._image_size = (H, W)

        images = dataset.data.to(self.device).permute(0, 3, 1, 2).contiguous()  # (N, C, H, W) uint8
        if augment is not None and augment.crop_padding > 0:
            # pad the whole data set once, so that each batch's crops are one copy out of it
            p = augment.crop_padding
            images = F.pad(images, (p, p, p, p))  # (N, C, H + 2p, W + 2p)
        self._images = images
        self._targets = dataset.targets.to(self.device)

    def _normalization(self, mean: Sequence[float] | None, std: Sequence[float] | None, channels: int):
        """``(scale, shift)`` of shape ``(1, C, 1, 1)``: ``pixel * scale + shift`` is the normalized pixel."""
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std, or neither (to keep pixels in [0, 1])")
        if mean is None:
            mean, std = [0.0] * channels, [1.0] * channels
        mean = torch.as_tensor(mean, dtype=torch.float64).flatten()
        std = torch.as_tensor(std, dtype=torch.float64).flatten()
        if len(mean) != channels or len(std) != channels:
            raise ValueError(
                f"mean and std need one value per channel ({channels}), got {len(mean)} and {len(std)}"
            )
        if not bool((std > 0).all()):
            raise ValueError(f"std must be positive, got {std.tolist()}")
        scale = (1 / (255 * std)).view(1, -1, 1, 1)
        shift = (-mean / std).view(1, -1, 1, 1)
        return scale.to(self.device, torch.float32), shift.to(self.device, torch.float32)

    def __len__(self) -> int:
        """Number of batches per epoch (on this rank)."""
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    @property
    def epoch(self) -> int:
        """The epoch the next iteration runs."""
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Makes the next iteration run ``epoch``: the same batches as the first time it ran.

        Raises:
            ValueError: if ``epoch`` is negative.
        """
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self._epoch = epoch

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        epoch = self._epoch
        self._epoch += 1
        indices = self._epoch_indices(epoch)
        generator = self._generator("augment", epoch, self.rank)
        for b in range(len(self)):
            yield self._batch(indices[b * self.batch_size : (b + 1) * self.batch_size], generator)

    def _generator(self, *keys: object) -> torch.Generator:
        """A generator on the device seeded from ``(seed, *keys)`` alone."""
        digest = hashlib.blake2b(repr((self.seed, *keys)).encode(), digest_size=8).digest()
        return torch.Generator(device=self.device).manual_seed(int.from_bytes(digest, "little") >> 1)

    def _epoch_indices(self, epoch: int) -> Tensor:
        N = len(self.dataset)
        if not self.train:
            return torch.arange(self.rank, N, self.world_size, device=self.device)
        # every rank draws the same permutation (same seed and epoch), then keeps its own slice of it
        order = torch.randperm(N, generator=self._generator("order", epoch), device=self.device)
        return order[self.rank * self.num_samples : (self.rank + 1) * self.num_samples]

    def _batch(self, index: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        augment = self.augment
        if augment is not None and augment.crop_padding > 0:
            offsets = _random_offsets(len(index), augment.crop_padding, generator, self.device)
            images = _crop_windows(self._images, index, offsets, self._image_size)  # (B, C, H, W) uint8
        else:
            images = self._images[index]
        if augment is not None and augment.flip:
            images = random_flip(images, generator)
        if augment is not None and augment.policy is not None:
            images = apply_policy(images, augment.policy, generator)

        out = torch.empty(
            images.shape, dtype=self.dtype, device=self.device, memory_format=self.memory_format
        )
        # one kernel: computes in float32 from the uint8 pixels and writes out in dtype and memory format
        torch.addcmul(self._shift, images, self._scale, out=out)
        if augment is not None and augment.cutout > 0:
            # after normalization, so the square takes the mean colour; in place, as cutout() but without
            # a second batch-sized allocation (15% of the cutout cost on CPU)
            out.mul_(_cutout_keep_mask(out, augment.cutout, generator))
        return out, self._targets[index]

    def _subset(self, index: Tensor) -> DeviceLoader:
        """This loader over the images ``index`` of its data set only: same device, dtype, layout,
        normalisation, augmentation, seed and rank (what a limited evaluation evaluates).

        Raises:
            ValueError: if the subset gives this rank no batch.
        """
        loader = copy.copy(self)
        index = index.to(torch.int64)
        loader.dataset = self.dataset._subset(index, self.dataset.split)
        on_device = index.to(self.device)
        loader._images, loader._targets = self._images[on_device], self._targets[on_device]
        n = len(index)
        loader.num_samples = n // self.world_size if self.train else len(range(self.rank, n, self.world_size))
        if len(loader) == 0:
            raise ValueError(f"a subset of {n} images gives rank {self.rank} no batch of {self.batch_size}")
        return loader

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({type(self.dataset).__name__} of {len(self.dataset):,} images, "
            f"batch_size={self.batch_size}, device={self.device}, train={self.train}, "
            f"augment={self.augment}, "
            f"batches={len(self)}, rank={self.rank}/{self.world_size})"
        )
