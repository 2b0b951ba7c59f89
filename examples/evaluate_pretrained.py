"""Evaluate pretrained weights on a CIFAR-10 test split: weights by name, or your own.

Run:
    python examples/evaluate_pretrained.py --data-dir data           # resnet56_cifar.cifar10 (akamaster's)
    python examples/evaluate_pretrained.py --name resnet56b_cifar.chenyaofo_cifar10 --data-dir data
    python examples/evaluate_pretrained.py --image-folder cifar10-jpeg --split test  # e.g. the JPEG copy
    python examples/evaluate_pretrained.py --weights runs/r56 --data-dir data  # a run or saved folder
    python examples/evaluate_pretrained.py --smoke

Weights by name are downloaded once (from the Hugging Face Hub or their release page), checked
against their sha256, converted to resnetzoo's layout and cached as safetensors; later runs read the
cache only. Without network, point ``RESNETZOO_WEIGHTS_MIRROR`` at a folder holding the files (see
docs/pretrained.md). The test images are normalised as the weights were trained
(``resnetzoo.resolve_data_config``): ImageNet's statistics for akamaster's weights, the classic CIFAR
ones for chenyaofo's and edadaltocg's.

``--smoke`` needs no network and no data set: it saves a randomly initialised resnet20_cifar with
``save_pretrained``, loads it back with ``from_pretrained`` (as ``--weights`` does) and evaluates it on
the bundled sample's test split.
"""

# smoke-output: on 1,000 images

from __future__ import annotations

import argparse
import sys
import tempfile

import torch

import resnetzoo as rz
from resnetzoo.data import CIFAR10_MEAN, CIFAR10_STD, TensorImageDataset, image_folder, load_splits


def round_trip(directory: str) -> torch.nn.Module:
    """A random resnet20_cifar saved as a resnetzoo repo folder and loaded back, as --weights does."""
    folder = rz.save_pretrained(
        rz.resnet20_cifar(), directory, dataset="cifar10", mean=CIFAR10_MEAN, std=CIFAR10_STD
    )
    print(f"saved {sorted(p.name for p in folder.iterdir())} to a temporary folder")
    return rz.from_pretrained(folder)


def test_split(args: argparse.Namespace) -> TensorImageDataset:
    if args.image_folder is not None:
        return image_folder(args.image_folder, split=args.split)  # reads only the split it evaluates
    # CIFAR-10's test split from --data-dir; without one, from data/ or else the bundled sample's 1,000
    # test images (with a warning that says so).
    name = "sample" if args.smoke else None if args.data_dir is None else "cifar10"
    return load_splits(name, args.data_dir, val_size=0).test


def evaluate(model: torch.nn.Module, dataset: TensorImageDataset, device: str) -> dict[str, float]:
    # Normalise with the statistics the weights were trained with, from their record.
    data_config = rz.resolve_data_config(model)
    print(f"normalising with mean {data_config['mean']}, std {data_config['std']}")
    trainer = rz.Trainer(model, rz.TrainConfig(batch_size=250, device=device, progress=False))
    loader = trainer.make_loader(dataset, train=False, mean=data_config["mean"], std=data_config["std"])
    return trainer.test(loader)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="resnet56_cifar.cifar10", help="weights by name, model.tag")
    parser.add_argument("--weights", help="a save_pretrained folder or hf-hub:org/name")
    parser.add_argument(
        "--data-dir", help="folder holding cifar-10-batches-py/ (default: data/, else the bundled sample)"
    )
    parser.add_argument("--image-folder", help="an image folder with the CIFAR-10 class folders instead")
    parser.add_argument("--split", default="test", help="split folder of --image-folder (default: test)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    parser.add_argument("--smoke", action="store_true", help="no download: a saved and reloaded random model")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        if args.smoke:
            print("smoke mode: a random resnet20_cifar, saved and loaded with save/from_pretrained")
            model = round_trip(tmp)
            args.device = "cpu"
        elif args.weights is not None:
            model = rz.from_pretrained(args.weights)
        else:
            record = rz.get_weights(args.name)
            print(
                f"{record.name}: {record.license}, from {record.origin_url}; "
                f"{record.reported_top1:.2%} reported"
            )
            model = rz.create_model(args.name, pretrained=True)
        dataset = test_split(args)
        metrics = evaluate(model, dataset, args.device)
    top1, top5 = 100 * metrics["top1"], 100 * metrics["top5"]
    print(f"{model.pretrained_cfg.name}: top-1 {top1:.2f}%, top-5 {top5:.2f}% on {len(dataset):,} images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
