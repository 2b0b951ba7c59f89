"""image_folder: class folders of PNG/JPEG files, decoded once into a tensor-backed data set."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from .._files import atomic_path
from .._validate import check_int, check_size
from ..errors import DatasetError
from .dataset import TensorImageDataset
from .image import read_image, to_uint8

__all__ = ["IMAGE_EXTENSIONS", "image_folder"]

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
"""File name endings that :func:`image_folder` reads (in any letter case)."""

_CHUNK_SIZE = 1024  # images per task for a decoding process: big enough that task overhead is small
# Bump when the cached content changes meaning, so old caches are not reused. 2: files decoded by
# read_image (EXIF orientation applied, 16-bit images scaled by their range, resized in float).
_CACHE_FORMAT = 2


def image_folder(
    root: str | os.PathLike,
    split: str | None = None,
    size: int | tuple[int, int] | None = None,
    cache_dir: str | os.PathLike | None = None,
    num_workers: int | None = None,
) -> TensorImageDataset:
    """Reads a folder of images sorted into class folders, decoding every file once.

    The layout is ``root/<class>/<image>`` or, with ``split``, ``root/<split>/<class>/<image>`` (files may
    sit in sub-folders of a class folder too). Classes are the sorted class folder names; with ``split``
    they are gathered from every split folder, so a label means the same class in ``train`` and ``test``.
    Files ending in ``.png``, ``.jpg`` or ``.jpeg`` are read, others skipped. Each file is decoded by
    :func:`~resnetzoo.data.read_image`, as :func:`resnetzoo.predict` reads it: grey, palette and CMYK
    images become RGB, alpha is dropped, EXIF orientation applied, and 16-bit images are scaled by their
    range and rounded to 8 bits.

    Decoding uses several processes. With ``cache_dir``, the decoded
    tensor is saved there as a safetensors file keyed by a hash of the file list, sizes and modification
    times and of ``size``, so later calls on unchanged files load it in a fraction of a second.

    Args:
        root: the folder.
        split: sub-folder of ``root`` to read, e.g. ``"train"`` or ``"test"``; None reads ``root`` itself.
        size: resize every image to ``size`` x ``size`` (or ``(height, width)``), antialiased bilinear in
            float as :class:`~resnetzoo.data.preprocess.Preprocess` does, then rounded to uint8; None keeps
            the files' size, which must then be the same for all.
        cache_dir: folder for the decoded-tensor cache; None decodes every time.
        num_workers: decoding processes; None uses one per CPU (at most 8), 0 or 1 decodes in this process.

    Returns:
        A :class:`~resnetzoo.data.TensorImageDataset` of uint8 ``(N, H, W, 3)`` images.

    Raises:
        FileNotFoundError: if ``root`` (or its ``split`` folder) does not exist or holds no class folders
            or no images.
        ImageDecodeError: if a file cannot be decoded (a :class:`DatasetError`); the message names the file
            and the cause.
        DatasetError: if images differ in size and ``size`` is None; the message names the file.
        ArgumentError: if ``size`` or ``num_workers`` is not valid (a ``ValueError``).

    Example:
        >>> train = image_folder("cifar10-jpeg", split="train", cache_dir="cache")  # doctest: +SKIP
        >>> train.data.shape  # doctest: +SKIP
        torch.Size([50000, 32, 32, 3])
    """
    size = check_size("size", size, none=True)
    num_workers = check_int("num_workers", num_workers, minimum=0, none=True)
    root = Path(root).expanduser()
    folder = root if split is None else root / split
    if not folder.is_dir():
        found = f"; it holds {', '.join(_subfolders(root))}" if split is not None and root.is_dir() else ""
        raise FileNotFoundError(f"image folder {folder} does not exist{found}")
    if split is None:
        classes = _subfolders(root)
    else:
        # classes of every split, so that train and test number them alike even if one lacks a class
        classes = sorted({name for part in _subfolders(root) for name in _subfolders(root / part)})
    if not classes:
        raise FileNotFoundError(
            f"{folder} has no class folders; expected {folder}/<class>/<image>.png|jpg|jpeg"
        )
    files, labels = _find_images(folder, classes)
    if not files:
        raise FileNotFoundError(
            f"no {'/'.join(IMAGE_EXTENSIONS)} images under {folder}; expected {folder}/<class>/<image>"
        )

    cache_file = cached = None
    if cache_dir is not None:
        key = _cache_key(folder, files, labels, classes, size)
        cache_file = Path(cache_dir).expanduser() / f"image_folder-{key}.safetensors"
        cached = _load_cache(cache_file, classes)
    if cached is not None:
        data, targets = cached
        logger.info("loaded %d images of %s from cache %s", len(data), folder, cache_file)
    else:
        start = time.perf_counter()
        data = _decode_all(files, size, num_workers)
        targets = torch.tensor(labels, dtype=torch.int64)
        logger.info("decoded %d images of %s in %.1f s", len(data), folder, time.perf_counter() - start)
        if cache_file is not None:
            _save_cache(cache_file, data, targets, classes)
    return TensorImageDataset(
        data,
        targets,
        classes,
        split=split,
        description=f"images from {folder}",
        dataset_id=Path(root).resolve().name,
    )


def _subfolders(folder: Path) -> list[str]:
    return sorted(
        entry.name for entry in os.scandir(folder) if entry.is_dir() and not entry.name.startswith(".")
    )


def _find_images(folder: Path, classes: list[str]) -> tuple[list[Path], list[int]]:
    files, labels, skipped = [], [], 0
    for label, name in enumerate(classes):
        class_folder = folder / name
        if not class_folder.is_dir():
            logger.warning("class %r has no folder in %s: it has no images in this split", name, folder)
            continue
        for parent, subfolders, names in os.walk(class_folder):
            subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))  # walk in a fixed order
            for file_name in sorted(names):
                if file_name.lower().endswith(IMAGE_EXTENSIONS) and not file_name.startswith("."):
                    files.append(Path(parent) / file_name)
                    labels.append(label)
                else:
                    skipped += 1
    if skipped:
        logger.info("skipped %d files under %s that are not %s", skipped, folder, "/".join(IMAGE_EXTENSIONS))
    return files, labels


def _decode(path: Path, size: tuple[int, int] | None) -> Tensor:
    """One image file as a uint8 ``(3, H, W)`` tensor, resized to ``size`` if given."""
    image = read_image(path)
    if size is not None and tuple(image.shape[1:]) != size:
        from torchvision.transforms.v2 import functional as TF

        # resized in float, as the preprocessing of predict does (a uint8 resize rounds differently)
        unit = image.to(torch.float32) / 255 if image.dtype == torch.uint8 else image
        image = TF.resize(unit, list(size), antialias=True)
    return to_uint8(image)


def _decode_chunk(
    files: list[Path], size: tuple[int, int] | None, first: Path, expected: tuple[int, int]
) -> np.ndarray:
    """Decodes files into a uint8 ``(n, H, W, 3)`` array (numpy: it crosses the process boundary cheaply).

    Every image must come out ``expected`` in size, the size of the image ``first``.
    """
    images = []
    for path in files:
        image = _decode(path, size)
        if tuple(image.shape[1:]) != expected:
            raise DatasetError(
                f"images differ in size: {path} is {image.shape[1]}x{image.shape[2]} but {first} is "
                f"{expected[0]}x{expected[1]}; pass size= to resize them all"
            )
        images.append(image)
    return torch.stack(images).permute(0, 2, 3, 1).contiguous().numpy()  # (n, C, H, W) -> (n, H, W, C)


def _init_worker() -> None:
    torch.set_num_threads(1)  # one process per core already; threads inside each would oversubscribe


def _decode_all(files: list[Path], size: tuple[int, int] | None, num_workers: int | None) -> Tensor:
    # every image must match the first one's size (or the requested one): decide it before fanning out
    expected = size if size is not None else tuple(_decode(files[0], None).shape[1:])
    chunks = [files[i : i + _CHUNK_SIZE] for i in range(0, len(files), _CHUNK_SIZE)]
    if num_workers is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        num_workers = min(cpus, 8)
    num_workers = min(num_workers, len(chunks))
    if num_workers <= 1:
        arrays = [_decode_chunk(chunk, size, files[0], expected) for chunk in chunks]
    else:
        # the default start method, as torch's DataLoader uses; map() keeps the files' order
        with ProcessPoolExecutor(num_workers, initializer=_init_worker) as pool:
            arrays = list(pool.map(_decode_chunk, chunks, repeat(size), repeat(files[0]), repeat(expected)))
    return torch.from_numpy(np.concatenate(arrays))


def _cache_key(
    folder: Path, files: list[Path], labels: list[int], classes: list[str], size: tuple[int, int] | None
) -> str:
    digest = hashlib.sha256(f"format={_CACHE_FORMAT} size={size} classes={classes}\n".encode())
    for path, label in zip(files, labels, strict=True):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}\t{label}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


def _load_cache(path: Path, classes: list[str]) -> tuple[Tensor, Tensor] | None:
    """The cached ``(data, targets)``, or None if there is no usable cache file."""
    if not path.is_file():
        return None
    try:
        with safe_open(path, framework="pt") as f:  # safetensors: loading runs no code, unlike pickle
            cached_classes = json.loads(f.metadata()["classes"])
            data, targets = f.get_tensor("data"), f.get_tensor("targets")
    except Exception as err:  # a broken cache is not fatal: the images are still there to decode
        logger.warning(
            "ignoring unreadable cache %s (%s: %s); decoding the images again", path, type(err).__name__, err
        )
        return None
    if cached_classes != classes or data.dtype != torch.uint8 or data.ndim != 4 or len(targets) != len(data):
        logger.warning(
            "ignoring cache %s: its content does not match the folder; decoding the images again", path
        )
        return None
    return data, targets


def _save_cache(path: Path, data: Tensor, targets: Tensor, classes: list[str]) -> None:
    # The one atomic writer: a concurrent reader sees the old state or the whole new file.
    with atomic_path(path, what="the image cache") as partial:
        save_file({"data": data, "targets": targets}, partial, metadata={"classes": json.dumps(classes)})
    logger.info("cached decoded images in %s", path)
