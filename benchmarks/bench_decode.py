"""Decoding image files: resnetzoo.data.read_image against PIL (what predict used before 0.2), one run.

Both decode the same JPEG files, read into memory first (so disk speed does not count), to an RGB
``(3, H, W)`` uint8 tensor with the EXIF orientation applied:

- ``PIL``: ``ImageOps.exif_transpose(Image.open(...)).convert("RGB")`` then ``torch.from_numpy``,
  the path ``predict`` and ``explain`` took in 0.1;
- ``read_image``: resnetzoo's one decoder (``torchvision.io.decode_image`` for PNG/JPEG).

It also checks that both give the same pixels. ``--runs`` rounds time each decoder once; the median
of the rounds is reported, with the ratio, single-threaded (``torch.set_num_threads(1)``). The load
average is printed: other jobs share the cores.

How to run, from the repository root::

    tar xzf ../shared/data/cifar10-jpeg.tar.gz -C /tmp/data cifar10-jpeg/test
    PYTHONPATH=. python benchmarks/bench_decode.py --data /tmp/data/cifar10-jpeg/test --files 2000

Measured (2 cores shared with other jobs, load average 4.8; torch 2.14.1, torchvision 0.29.1, Pillow
13.0.0; 2,000 CIFAR-10 test JPEGs of 32x32; 5 rounds): PIL 0.692 ms/image, read_image 0.246 ms/image
(which also reads the file), 2.8x; identical pixels on 2,000/2,000 files.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from resnetzoo.data import read_image


def _pil(encoded: bytes) -> torch.Tensor:
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(encoded)) as image:
        rgb = ImageOps.exif_transpose(image).convert("RGB")
    return torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data", type=Path, required=True, help="a folder of .jpg files (searched recursively)"
    )
    parser.add_argument("--files", type=int, default=2000, help="how many files to decode")
    parser.add_argument("--runs", type=int, default=5, help="timing rounds")
    args = parser.parse_args()
    torch.set_num_threads(1)
    files = sorted(args.data.rglob("*.jpg"))[: args.files]
    blobs = [path.read_bytes() for path in files]
    print(f"{len(files)} files; load average {os.getloadavg()}")

    with tempfile.TemporaryDirectory() as tmp:  # read_image takes paths: the files, in a tmpfs if /tmp is one
        paths = []
        for i, blob in enumerate(blobs):
            paths.append(Path(tmp) / f"{i}.jpg")
            paths[-1].write_bytes(blob)
        same = sum(torch.equal(read_image(p), _pil(b)) for p, b in zip(paths, blobs, strict=True))
        print(f"identical pixels: {same}/{len(files)}")
        times: dict[str, list[float]] = {"PIL": [], "read_image": []}
        for _ in range(args.runs):
            start = time.perf_counter()
            for blob in blobs:
                _pil(blob)
            times["PIL"].append(time.perf_counter() - start)
            start = time.perf_counter()
            for path in paths:
                read_image(path)
            times["read_image"].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"{name:>10}: {1000 * value / len(files):.3f} ms/image")
    print(f"read_image is {medians['PIL'] / medians['read_image']:.1f}x PIL; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
