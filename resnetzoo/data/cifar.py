"""CIFAR-10 and CIFAR-100 from the official python-version files, read straight into one uint8 tensor."""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor
from torchvision.datasets.utils import download_and_extract_archive

from .._validate import check_bool, check_int, check_seed
from .dataset import DatasetError, TensorImageDataset, _holdout_part

__all__ = ["CIFAR10", "CIFAR100"]

logger = logging.getLogger(__name__)

_SPLITS = ("train", "val", "test")

try:  # numpy >= 2 moved the reconstruction helper to numpy._core
    from numpy._core.multiarray import _reconstruct as _numpy_reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct as _numpy_reconstruct

# Everything an official CIFAR file may name: the files are dicts of bytes, lists and numpy arrays, and an
# array pickles as _reconstruct(ndarray, ...) plus a dtype. The names are mapped to the objects imported
# above, never looked up from the file, so no other callable can run while unpickling.
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    # numpy 1.x wrote this name (the official files), numpy 2.x the next one
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _CifarUnpickler(pickle.Unpickler):
    """Unpickler that can build numpy arrays and nothing else that is callable."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise DatasetError(
                f"refusing to unpickle {module}.{name}: official CIFAR files hold only bytes, lists and "
                f"numpy arrays, so this is not one (loading it could run arbitrary code)"
            ) from None


def _load_cifar_file(path: Path) -> dict[bytes, Any]:
    """Unpickles one official CIFAR file safely.

    Raises:
        DatasetError: if the file is truncated, corrupted, names a forbidden global, or is not a dict.
    """
    try:
        with open(path, "rb") as f:
            # encoding="bytes": the files were pickled by Python 2, whose str must come back as bytes for
            # numpy to rebuild the arrays; the dict keys are therefore b"data", b"labels", ...
            content = _CifarUnpickler(f, encoding="bytes").load()
    except DatasetError as err:
        raise DatasetError(f"{path}: {err}") from None
    except Exception as err:  # corruption surfaces as any of EOFError, UnpicklingError, ValueError, ...
        raise DatasetError(
            f"{path} is truncated or corrupted ({type(err).__name__}: {err}); delete it and download the "
            f"archive again"
        ) from err
    if not isinstance(content, dict):
        raise DatasetError(
            f"{path} is not a CIFAR file: expected a pickled dict, got {type(content).__name__}"
        )
    return content


def _get(content: dict[bytes, Any], key: bytes, path: Path) -> Any:
    if key not in content:
        raise DatasetError(f"{path} is not a CIFAR file of this kind: it has no {key.decode()!r} entry")
    return content[key]


def _read_batch(path: Path, label_key: bytes, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, 32, 32, 3)`` uint8 and labels ``(n,)`` int64 of one official batch file."""
    content = _load_cifar_file(path)
    data = _get(content, b"data", path)
    labels = np.asarray(_get(content, label_key, path))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        shape = getattr(data, "shape", None)
        raise DatasetError(
            f"{path}: expected data of uint8 rows of 3072 pixels, got {type(data).__name__} {shape}"
        )
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"{path}: expected {len(data)} integer labels, got {labels.dtype} {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise DatasetError(
            f"{path}: labels must be in [0, {num_classes}), found {labels.min()}..{labels.max()}"
        )
    # each row is 1024 red, then 1024 green, then 1024 blue values: (n, C, H, W) -> (n, H, W, C)
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels.astype(np.int64)


class _CIFAR(TensorImageDataset):
    """Reads the official python-version CIFAR files; subclasses name the files and keys."""

    name: ClassVar[str]
    base_folder: ClassVar[str]
    url: ClassVar[str]
    archive_md5: ClassVar[str]
    train_files: ClassVar[tuple[str, ...]]
    test_files: ClassVar[tuple[str, ...]]
    meta_file: ClassVar[str]
    label_key: ClassVar[bytes]
    classes_key: ClassVar[bytes]

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        val_size: int = 5000,
        seed: int = 0,
        download: bool = False,
        transform: Callable[[Tensor], Any] | None = None,
    ) -> None:
        if split not in _SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {', '.join(map(repr, _SPLITS))}")
        val_size = check_int("val_size", val_size, minimum=0)
        seed = check_seed("seed", seed)
        download = check_bool("download", download)
        if split == "val" and val_size == 0:
            raise ValueError("split='val' needs val_size > 0 (val_size=0 puts all 50,000 images in 'train')")
        self.root = Path(root).expanduser()
        folder = self.root / self.base_folder
        if download and self._missing_files():
            self._download()
        self._require_files()

        meta = folder / self.meta_file
        classes = [name.decode() for name in _get(_load_cifar_file(meta), self.classes_key, meta)]
        files = self.test_files if split == "test" else self.train_files
        batches = [_read_batch(folder / name, self.label_key, len(classes)) for name in files]
        data = torch.from_numpy(np.ascontiguousarray(np.concatenate([images for images, _ in batches])))
        targets = torch.from_numpy(np.concatenate([labels for _, labels in batches]))
        description = f"official {self.name} {'test' if split == 'test' else 'training'} set"
        if split != "test" and val_size > 0:
            if val_size >= len(targets):
                raise ValueError(
                    f"val_size={val_size} leaves no training images: {self.name} has {len(targets)} "
                    f"in {folder}"
                )
            data, targets, part = _holdout_part(data, targets, len(classes), split, val_size, seed)
            description += f", {part}"
        super().__init__(
            data,
            targets,
            classes,
            transform=transform,
            split=split,
            description=description,
            dataset_id=self.name.lower().replace("-", ""),  # "cifar10", "cifar100": the Hub's names too
        )

    def _missing_files(self) -> list[str]:
        folder = self.root / self.base_folder
        names = (*self.train_files, *self.test_files, self.meta_file)
        return [name for name in names if not (folder / name).is_file()]

    def _require_files(self) -> None:
        missing = self._missing_files()
        if missing:
            folder = self.root / self.base_folder
            archive = self.url.rsplit("/", 1)[-1]
            raise FileNotFoundError(
                f"{self.name} files not found: {folder} lacks {', '.join(missing)}. Pass download=True to "
                f"fetch {self.url}, or download that archive (md5 {self.archive_md5}) by hand and run "
                f"`tar xzf {archive} -C {self.root}` so that {folder / missing[0]} exists."
            )

    def _download(self) -> None:
        logger.info("downloading %s from %s to %s", self.name, self.url, self.root)
        try:
            # checks the archive's md5 before extracting it
            download_and_extract_archive(self.url, download_root=str(self.root), md5=self.archive_md5)
        # no network, HTTP errors, md5 mismatch, bad archive: all mean "get it by hand"
        except Exception as err:
            raise DatasetError(
                f"could not download {self.name} from {self.url} ({type(err).__name__}: {err}). Download "
                f"it by hand (md5 {self.archive_md5}) and extract it into {self.root}, then use "
                f"download=False."
            ) from err


class CIFAR10(_CIFAR):
    """CIFAR-10 (Krizhevsky 2009): 50,000 training and 10,000 test 32x32 colour images in 10 classes.

    Reads the official python-version files under ``root/cifar-10-batches-py/`` into one uint8 tensor;
    ``split="val"`` is a stratified slice of the official training set, which ``split="train"`` then leaves
    out. A :class:`~resnetzoo.data.TensorImageDataset`: see there for ``data``, ``targets`` and indexing.

    Args:
        root: folder that holds (or will hold) ``cifar-10-batches-py/``.
        split: ``"train"``, ``"val"`` (carved from the official training set) or ``"test"``.
        val_size: images held out of the training set for ``"val"``, stratified per class (5,000 is 500 per
            class). 0 keeps all 50,000 images in ``"train"``.
        seed: picks the validation images; the same seed gives the same split.
        download: fetch and extract the official archive (md5-checked) if the files are missing.
        transform: applied to each float ``(C, H, W)`` image by ``__getitem__``.

    Raises:
        ValueError: if ``split`` is unknown, ``val_size`` is negative or leaves no training images, or
            ``split="val"`` with ``val_size=0``.
        FileNotFoundError: if the files are missing and ``download`` is False; the message says where they
            must be and how to get them.
        DatasetError: if a file is truncated, corrupted or not an official CIFAR file (the message names
            it), or the download fails.

    Example:
        >>> train = CIFAR10("~/data", split="train", download=True)  # doctest: +SKIP
        >>> val = CIFAR10("~/data", split="val")  # doctest: +SKIP
    """

    name = "CIFAR-10"
    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    archive_md5 = "c58f30108f718f92721af3b95e74349a"
    train_files = tuple(f"data_batch_{i}" for i in range(1, 6))
    test_files = ("test_batch",)
    meta_file = "batches.meta"
    label_key = b"labels"
    classes_key = b"label_names"


class CIFAR100(_CIFAR):
    """CIFAR-100 (Krizhevsky 2009): 50,000 training and 10,000 test 32x32 colour images in 100 classes.

    Reads the official python-version files under ``root/cifar-100-python/`` with the 100 fine labels.
    Arguments, splits and errors are those of :class:`CIFAR10` (``val_size=5000`` is 50 per class).

    Args:
        root: folder that holds (or will hold) ``cifar-100-python/``.
        split, val_size, seed, download, transform: as for :class:`CIFAR10`.

    Raises:
        ValueError, FileNotFoundError, DatasetError: as for :class:`CIFAR10`.
    """

    name = "CIFAR-100"
    base_folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    archive_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_files = ("train",)
    test_files = ("test",)
    meta_file = "meta"
    label_key = b"fine_labels"
    classes_key = b"fine_label_names"
