"""Builds the CIFAR-10 sample that ships inside the package: ``resnetzoo/data/_sample/cifar10_sample.npz``.

The sample is 500 training and 100 test images per class (5,000 + 1,000) of the JPEG copy of CIFAR-10
(``cifar10-jpeg.tar.gz``: every image a 32x32 JPEG, quality 75; see ``shared/data/README.md``). The files'
original JPEG bytes are stored, not decoded pixels, which keeps the sample small; ``sample_cifar10``
decodes them in one batch at load time.

Selection is deterministic: for each split, then each class in sorted order, ``numpy.random.default_rng(0)``
picks the images among that class's sorted file names; the sample keeps them in (class, file name) order.
The ``.npz`` is written with fixed zip timestamps, so rerunning this script gives the same bytes.

Layout of the ``.npz`` (loaded with ``allow_pickle=False``; nothing in it is pickled):

* ``classes``: the 10 class names, a unicode array;
* ``{split}_jpeg``: uint8, the JPEG files of the split concatenated;
* ``{split}_offsets``: int64, ``n + 1`` offsets: image ``i`` is ``jpeg[offsets[i]:offsets[i + 1]]``;
* ``{split}_labels``: uint8 class index of each image;

for ``split`` in ``train`` and ``test``.

Run from the repository root::

    python scripts/build_sample.py --archive /work/shared/data/cifar10-jpeg.tar.gz
"""

from __future__ import annotations

import argparse
import hashlib
import io
import logging
import tarfile
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torchvision.io import ImageReadMode, decode_jpeg

logger = logging.getLogger("build_sample")

PER_CLASS = {"train": 500, "test": 100}
SEED = 0
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "resnetzoo" / "data" / "_sample" / "cifar10_sample.npz"


def read_archive(archive: Path) -> dict[str, dict[str, dict[str, bytes]]]:
    """``{split: {class: {file name: JPEG bytes}}}`` of ``cifar10-jpeg/<split>/<class>/<name>.jpg``."""
    files: dict[str, dict[str, dict[str, bytes]]] = defaultdict(lambda: defaultdict(dict))
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parts = Path(member.name).parts
            if member.isfile() and len(parts) == 4 and parts[3].endswith(".jpg"):
                _, split, label, name = parts
                files[split][label][name] = tar.extractfile(member).read()
    return files


def select(files: dict[str, dict[str, dict[str, bytes]]]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    classes = sorted(files["train"])
    if sorted(files["test"]) != classes:
        raise ValueError(f"train and test classes differ: {classes} vs {sorted(files['test'])}")
    arrays: dict[str, np.ndarray] = {"classes": np.array(classes)}
    for split, per_class in PER_CLASS.items():
        blobs, labels = [], []
        for label, name in enumerate(classes):
            names = sorted(files[split][name])
            for i in sorted(rng.choice(len(names), per_class, replace=False)):
                blobs.append(files[split][name][names[i]])
                labels.append(label)
        # decode everything once here, so a bad file fails the build rather than a user's import
        decoded = decode_jpeg(
            [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in blobs], mode=ImageReadMode.RGB
        )
        shapes = {tuple(image.shape) for image in decoded}
        if shapes != {(3, 32, 32)}:
            raise ValueError(f"{split}: expected 3x32x32 images, got shapes {shapes}")
        arrays[f"{split}_jpeg"] = np.frombuffer(b"".join(blobs), dtype=np.uint8)
        arrays[f"{split}_offsets"] = np.cumsum([0] + [len(b) for b in blobs], dtype=np.int64)
        arrays[f"{split}_labels"] = np.array(labels, dtype=np.uint8)
        logger.info("%s: %d images, %d JPEG bytes", split, len(blobs), len(arrays[f"{split}_jpeg"]))
    return arrays


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez_compressed``, but with fixed timestamps so that the bytes depend only on the arrays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buffer.getvalue(), compresslevel=9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--archive",
        type=Path,
        default=Path("/work/shared/data/cifar10-jpeg.tar.gz"),
        help="the JPEG CIFAR-10 copy, cifar10-jpeg.tar.gz",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the .npz")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    logger.info("archive %s, sha256 %s", args.archive, hashlib.sha256(args.archive.read_bytes()).hexdigest())
    write_npz(args.out, select(read_archive(args.archive)))
    logger.info(
        "wrote %s: %d bytes, sha256 %s",
        args.out,
        args.out.stat().st_size,
        hashlib.sha256(args.out.read_bytes()).hexdigest(),
    )


if __name__ == "__main__":
    main()
