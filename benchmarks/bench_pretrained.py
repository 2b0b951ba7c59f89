"""Every pretrained record whose file is at hand, evaluated on the JPEG CIFAR-10 test split, against upstream.

For each loadable record (``resnetzoo.list_pretrained()``) whose source file the mirror folder holds
(``RESNETZOO_WEIGHTS_MIRROR``: ``<mirror>/<file name>`` for URL files, ``<mirror>/<repo_id>/<filename>``
for Hub files), the script loads the weights by name, exactly as a user would
(``create_model(name, pretrained=True)``: verified, converted, cached), and evaluates them on the
10,000 test images of the JPEG copy of CIFAR-10 (``../shared/data/cifar10-jpeg.tar.gz``) with the
record's own normalisation (``resnetzoo.resolve_data_config``), plain and with flip-TTA. It prints the
measured top-1 beside the top-1 that the weights' authors report on the original test split.

These networks were trained on the original PNG-quality images and never saw JPEG artefacts (quality
75, chroma subsampling), so expect them lower on the copy: the copy's README measures 3.3 points lost
for a network trained *and* tested on it; trained on the originals, the loss is larger.

Records whose file is not at hand are listed as not measured. Records of 100-class weights are not
evaluated (the copy is CIFAR-10 only).

How to run, from the repository root (the archive is extracted to a temporary folder; the decoded
images are cached in ``--cache-dir``)::

    PYTHONPATH=. python benchmarks/bench_pretrained.py --data ../shared/data/cifar10-jpeg.tar.gz \\
        --mirror ../shared/weights/akamaster --cache-dir /tmp/rz-cache

The printed output is in ``docs/benchmarks.md`` ("Pretrained weights") and its numbers in the records'
``metrics["top1_jpeg"]`` (``resnetzoo/models/resnet.py``).
"""

from __future__ import annotations

import argparse
import os
import platform
import tarfile
import tempfile
import time
from pathlib import Path

import torch

import resnetzoo as rz
from resnetzoo.data import DeviceLoader, image_folder
from resnetzoo.hub.pretrained import MIRROR_ENV


def _test_split(data: str, cache_dir: str | None) -> rz.data.TensorImageDataset:
    path = Path(data)
    if path.is_file():  # cifar10-jpeg.tar.gz: extract it to a temporary folder
        folder = Path(tempfile.mkdtemp(prefix="bench_pretrained_"))
        with tarfile.open(path) as tar:
            tar.extractall(folder, filter="data")
        path = next(p for p in folder.iterdir() if p.is_dir())
    return image_folder(path, split="test", cache_dir=cache_dir)


def _at_hand(record: rz.Weights, mirror: Path) -> bool:
    relative = f"{record.hf_hub_id}/{record.hf_hub_filename}" if record.hf_hub_id else record.source_file_name
    return (mirror / relative).is_file()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="cifar10-jpeg.tar.gz or its extracted folder")
    parser.add_argument("--mirror", required=True, help="folder holding the weights files (a mirror)")
    parser.add_argument("--cache-dir", help="cache of the decoded images")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: 2)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    mirror = Path(args.mirror).resolve()
    os.environ[MIRROR_ENV] = str(mirror)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything comes from the mirror
    started = time.perf_counter()

    test = _test_split(args.data, args.cache_dir)
    assert test.classes == list(rz.data.CIFAR10_CLASSES), test.classes  # the label order of the records
    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch thread(s); "
        f"torch {torch.__version__}; device cpu; resnetzoo {rz.__version__}"
    )
    print(f"data: the JPEG CIFAR-10 copy, test split, {len(test):,} images; weights from {mirror}\n")
    header = (
        f"{'weights':<36} {'normalisation (std)':<22} {'upstream':>9} {'JPEG copy':>10} {'flip-TTA':>9} "
        f"{'diff':>6} {'time':>6}"
    )
    print(header)
    print("-" * len(header))
    config = rz.TrainConfig(device="cpu", amp="off", progress=False, loggers=(), batch_size=500, tta=True)
    for name in rz.list_pretrained():
        record = rz.get_weights(name)
        if record.dataset != "cifar10":
            continue
        if not _at_hand(record, mirror):
            print(
                f"{name:<36} {'':<22} {100 * record.reported_top1:>8.2f}% "
                f"{'not measured: file not at hand':>34}"
            )
            continue
        start = time.perf_counter()
        model = rz.create_model(name, pretrained=True, progress=False)
        data_config = rz.resolve_data_config(model)
        loader = DeviceLoader(test, 500, train=False, mean=data_config["mean"], std=data_config["std"])
        metrics = rz.Trainer(model, config).test(loader)
        top1, tta = 100 * metrics["top1"], 100 * metrics["top1_tta"]
        std = ", ".join(f"{s:g}" for s in data_config["std"])
        print(
            f"{name:<36} {std:<22} {100 * record.reported_top1:>8.2f}% {top1:>9.2f}% {tta:>8.2f}% "
            f"{top1 - 100 * record.reported_top1:>+6.2f} {time.perf_counter() - start:>5.0f}s"
        )
    print(
        "\nupstream: test top-1 the weights' authors report on the original CIFAR-10 test split; JPEG copy: "
        "measured here, same weights and normalisation; diff: JPEG copy - upstream, in points."
    )
    print(f"whole benchmark {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
