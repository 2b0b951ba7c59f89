"""Writers of small fake data sets in the official formats, for the data tests (no network, no ../shared)."""

from __future__ import annotations

import io
import pickle
import struct
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image


class Py2Pickler(pickle._Pickler):
    """Pickles the way Python 2 wrote the official CIFAR files.

    Python 2's ``str`` (dict keys, class names, array bytes, dtype codes) is written as BINSTRING, and numpy
    arrays name ``numpy.core.multiarray._reconstruct`` as numpy 1.x did. Loading such a pickle in Python 3
    needs ``encoding="bytes"``, exactly like the real files.
    """

    dispatch: ClassVar[dict] = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj: str | bytes) -> None:
        raw = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[str] = save_py2_str
    dispatch[bytes] = save_py2_str

    def save_global(self, obj, name=None):
        module = obj.__module__.replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + f"{module}\n{name or obj.__qualname__}\n".encode())
        self.memoize(obj)

    dispatch[type] = save_global


def dump_py2(obj: object, path: Path) -> None:
    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(obj)
    path.write_bytes(buffer.getvalue())


def random_images(n: int, seed: int) -> np.ndarray:
    """``(n, 32, 32, 3)`` uint8 noise: every image different, so an image identifies itself."""
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def balanced_labels(n: int, num_classes: int, seed: int) -> np.ndarray:
    """``n`` labels, ``n / num_classes`` of each class, shuffled."""
    return np.random.default_rng(seed).permutation(np.arange(n) % num_classes)


def to_rows(images: np.ndarray) -> np.ndarray:
    """``(n, 32, 32, 3)`` -> the official ``(n, 3072)`` rows: all red, then all green, then all blue."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), 3072)


CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_fake_cifar10(root: Path, per_batch: int = 100, test_size: int = 100) -> dict[str, np.ndarray]:
    """A tiny ``root/cifar-10-batches-py`` (5 batches of ``per_batch`` + a test batch), class-balanced.

    Returns:
        ``train_images``, ``train_labels``, ``test_images``, ``test_labels`` as written.
    """
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    train_images = random_images(5 * per_batch, seed=1)
    train_labels = balanced_labels(5 * per_batch, 10, seed=2)
    for i in range(5):
        part = slice(i * per_batch, (i + 1) * per_batch)
        dump_py2(
            {
                "batch_label": f"training batch {i + 1} of 5",
                "labels": train_labels[part].tolist(),
                "data": to_rows(train_images[part]),
                "filenames": [f"img_{j}.png" for j in range(per_batch)],
            },
            folder / f"data_batch_{i + 1}",
        )
    test_images = random_images(test_size, seed=3)
    test_labels = balanced_labels(test_size, 10, seed=4)
    dump_py2(
        {
            "batch_label": "testing batch 1 of 1",
            "labels": test_labels.tolist(),
            "data": to_rows(test_images),
            "filenames": [f"t_{j}.png" for j in range(test_size)],
        },
        folder / "test_batch",
    )
    dump_py2(
        {"num_cases_per_batch": per_batch, "label_names": CIFAR10_CLASSES, "num_vis": 3072},
        folder / "batches.meta",
    )
    return {
        "train_images": train_images,
        "train_labels": train_labels,
        "test_images": test_images,
        "test_labels": test_labels,
    }


def write_fake_cifar100(root: Path, train_size: int = 1000, test_size: int = 200) -> dict[str, np.ndarray]:
    """A tiny ``root/cifar-100-python`` with 100 fine and 20 coarse classes, class-balanced."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    arrays = {}
    for split, n, seed in (("train", train_size, 5), ("test", test_size, 7)):
        images, labels = random_images(n, seed), balanced_labels(n, 100, seed + 1)
        dump_py2(
            {
                "filenames": [f"{split}_{j}.png" for j in range(n)],
                "batch_label": f"{split} batch",
                "fine_labels": labels.tolist(),
                "coarse_labels": (labels // 5).tolist(),
                "data": to_rows(images),
            },
            folder / split,
        )
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images, labels
    dump_py2(
        {
            "fine_label_names": [f"fine{i:02d}" for i in range(100)],
            "coarse_label_names": [f"coarse{i:02d}" for i in range(20)],
        },
        folder / "meta",
    )
    return arrays


def write_image(path: Path, image: np.ndarray, fmt: str = "png") -> None:
    """Writes a ``(H, W, C)`` uint8 image (C = 1, 3 or 4) as PNG (lossless) or JPEG, with PIL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
    pil.save(path, format="PNG" if fmt == "png" else "JPEG", **({} if fmt == "png" else {"quality": 90}))


def gradient_image(seed: int) -> np.ndarray:
    """A smooth ``(32, 32, 3)`` image: JPEG keeps it within a few levels, unlike noise."""
    y, x = np.mgrid[0:32, 0:32]
    return np.stack([x * 8, y * 8, np.full_like(x, 40 * seed % 256)], axis=-1).astype(np.uint8)


def devices() -> list:
    """``"cpu"``, and ``"cuda"`` (skipped where there is none): for ``@pytest.fixture(params=devices())``."""
    import pytest
    import torch

    no_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
    return ["cpu", pytest.param("cuda", marks=no_cuda)]
