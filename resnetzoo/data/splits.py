"""From a data set's name to what a run needs: train, validation and test splits, and their normalisation."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from .cifar import CIFAR10, CIFAR100
from .constants import CIFAR10_MEAN, CIFAR10_STD, CIFAR100_MEAN, CIFAR100_STD
from .dataset import TensorImageDataset, compute_mean_std
from .folder import image_folder
from .sample import sample_cifar10

__all__ = ["DATA_NAMES", "Splits", "load_splits"]

logger = logging.getLogger(__name__)

DATA_NAMES = ("cifar10", "cifar100", "sample")
"""The data sets :func:`load_splits` knows by name; anything else is an image folder's path."""

_DEFAULT_ROOT = "data"
_CIFAR = {
    "cifar10": (CIFAR10, CIFAR10_MEAN, CIFAR10_STD),
    "cifar100": (CIFAR100, CIFAR100_MEAN, CIFAR100_STD),
}


@dataclass(frozen=True)
class Splits:
    """A data set ready for a run.

    Args:
        train: The training split (without the validation hold-out).
        val: The validation hold-out, or ``None`` with ``val_size=0``.
        test: The test split, or ``None`` for an image folder without ``test/``.
        mean: Per-channel mean to normalise every split with: the data set's, or the training pixels'.
        std: Per-channel standard deviation to normalise with.
        description: One line on what was loaded, for logs.
    """

    train: TensorImageDataset
    val: TensorImageDataset | None
    test: TensorImageDataset | None
    mean: tuple[float, ...]
    std: tuple[float, ...]
    description: str

    @property
    def dataset_id(self) -> str | None:
        """The data set's short name as model cards record it (``"cifar10"``, a folder's name, ...)."""
        return self.train.dataset_id


def load_splits(
    name: str | os.PathLike[str] | None = None,
    root: str | os.PathLike[str] | None = None,
    *,
    val_size: int | None = None,
    download: bool = False,
    size: int | tuple[int, int] | None = None,
) -> Splits:
    """Train, validation and test splits and their normalisation, for a data set named as the CLI names it.

    The one place that turns ``cifar10 | cifar100 | sample | DIR`` into splits: ``resnetzoo train``,
    ``eval`` and ``fine-tune`` use it, and so can scripts.

    - ``"cifar10"`` / ``"cifar100"``: the official files in ``root`` (default ``data``), a stratified
      validation hold-out of ``val_size`` training images (default 5,000), the official test split,
      normalised with the data set's statistics.
    - ``"sample"``: the bundled 5,000 + 1,000-image CIFAR-10 sample (hold-out default 500).
    - a folder: ``DIR/train/<class>/*`` and optionally ``DIR/test/<class>/*``, or ``DIR/<class>/*``
      without a test split; the hold-out defaults to 10% and every split is normalised with the
      training pixels' own statistics.
    - ``None`` (and no ``root``): CIFAR-10 in ``data/`` if it is there, else the bundled sample, with a
      warning. A data set that is named, or a ``root`` that is given, never falls back: missing files
      are an error naming them.

    Args:
        name: ``"cifar10"``, ``"cifar100"``, ``"sample"``, an image folder, or ``None``.
        root: Where the CIFAR files are (``root/cifar-10-batches-py``...); default ``data``.
        val_size: Images held out of training for validation; ``0`` for none.
        download: Download missing CIFAR files into ``root`` first.
        size: For an image folder: resize every image to this ``(height, width)`` (or square side),
            as ``image_folder`` does; ``resnetzoo eval`` passes the model's input size.

    Returns:
        The :class:`Splits`.

    Raises:
        FileNotFoundError: If a named data set's files, or the folder, do not exist.
        ValueError: If ``val_size`` does not fit the data set.

    Example:
        >>> splits = load_splits("sample", val_size=500)
        >>> len(splits.train), len(splits.val), len(splits.test), splits.dataset_id
        (4500, 500, 1000, 'cifar10_sample')
    """
    explicit = name is not None or root is not None
    kind = os.fspath(name) if name is not None else "cifar10"
    folder = os.fspath(root) if root is not None else _DEFAULT_ROOT
    if kind in _CIFAR:
        cls, mean, std = _CIFAR[kind]
        size = 5000 if val_size is None else val_size
        try:
            train = cls(folder, split="train", val_size=size, download=download)
        except FileNotFoundError:
            if explicit:
                raise
            logger.warning(
                "no CIFAR-10 in %s: using the bundled 5,000-image sample (put CIFAR-10 there, or name the "
                "data set and its folder, for real results)",
                Path(folder) / "cifar-10-batches-py",
            )
            kind = "sample"
        else:
            val = cls(folder, split="val", val_size=size) if size else None
            return Splits(train, val, cls(folder, split="test"), mean, std, f"{cls.name} from {folder}")
    if kind == "sample":
        size = 500 if val_size is None else val_size
        return Splits(
            sample_cifar10("train", val_size=size),
            sample_cifar10("val", val_size=size) if size else None,
            sample_cifar10("test"),
            CIFAR10_MEAN,
            CIFAR10_STD,
            "the bundled CIFAR-10 sample",
        )
    path = Path(kind)
    if not path.is_dir():
        raise FileNotFoundError(
            f"data set {kind!r} is neither {', '.join(DATA_NAMES)} nor an existing image folder"
        )
    has_splits = (path / "train").is_dir()
    full = image_folder(path, split="train" if has_splits else None, size=size)
    test = image_folder(path, split="test", size=size) if has_splits and (path / "test").is_dir() else None
    size = max(1, len(full) // 10) if val_size is None else val_size
    train, val = full.train_val_split(size) if size else (full, None)
    mean, std = compute_mean_std(train)  # every split is normalised with the training pixels' statistics
    return Splits(train, val, test, tuple(mean), tuple(std), f"the image folder {path}")
