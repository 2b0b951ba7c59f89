"""Evaluate pretrained weights on the CIFAR-10 test split: published weights by name, or your own.

Run:
    python examples/evaluate_pretrained.py --data-dir data                        # resnet56_cifar.cifar10
    python examples/evaluate_pretrained.py --name resnet20_cifar.cifar10 --data-dir data
    python examples/evaluate_pretrained.py --weights runs/r56/best --data-dir data  # a save_pretrained folder
    python examples/evaluate_pretrained.py --weights hf-hub:me/resnet56-cifar10     # a Hub repo
    python examples/evaluate_pretrained.py --smoke

Published weights come from the Hugging Face Hub, pinned to a commit and checked against their
sha256 (see docs/hub.md). None are published yet: asking for them raises WeightsNotPublishedError,
which this example reports with what to do instead. ``--smoke`` shows that path, then saves a
randomly initialised resnet20_cifar with ``save_pretrained``, loads it back with
``from_pretrained`` (as ``--weights`` would) and evaluates it on the bundled sample's test split.
"""

# smoke-output: on 1,000 images

from __future__ import annotations

import argparse
import sys
import tempfile

import torch

import resnetzoo as rz
from resnetzoo.data import CIFAR10, CIFAR10_MEAN, CIFAR10_STD, TensorImageDataset, sample_cifar10


def load_named(name: str) -> torch.nn.Module | None:
    """Published weights by name (``model.tag``), or None, with the reason, if they are not published."""
    try:
        return rz.create_model(name)  # downloads once, then loads from the Hugging Face cache
    except rz.WeightsNotPublishedError as err:
        print(f"{name}: {err}", file=sys.stderr)
        print(
            f"{name} cannot be evaluated until it is published; --weights evaluates your own", file=sys.stderr
        )
        return None


def round_trip(directory: str) -> torch.nn.Module:
    """A random resnet20_cifar saved as a resnetzoo repo folder and loaded back, as --weights does."""
    folder = rz.save_pretrained(
        rz.resnet20_cifar(), directory, dataset="cifar10", mean=CIFAR10_MEAN, std=CIFAR10_STD
    )
    print(f"saved {sorted(p.name for p in folder.iterdir())} to a temporary folder")
    return rz.from_pretrained(folder)


def test_split(data_dir: str) -> TensorImageDataset:
    try:
        return CIFAR10(data_dir, split="test")
    except FileNotFoundError:
        print(f"no CIFAR-10 in {data_dir}; evaluating on the bundled sample's 1,000 test images instead")
        return sample_cifar10("test")


def evaluate(model: torch.nn.Module, dataset: TensorImageDataset, device: str) -> dict[str, float]:
    # Normalise with the statistics the weights were trained with, recorded in their config.json.
    cfg = getattr(model, "pretrained_cfg", {})
    mean, std = cfg.get("mean"), cfg.get("std")
    if mean is None or std is None:
        print("the weights record no mean/std; normalising with CIFAR-10's")
        mean, std = CIFAR10_MEAN, CIFAR10_STD
    trainer = rz.Trainer(model, rz.TrainConfig(batch_size=250, device=device, progress=False))
    return trainer.test(trainer.make_loader(dataset, train=False, mean=mean, std=std))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="resnet56_cifar.cifar10", help="published weights, model.tag")
    parser.add_argument("--weights", help="a save_pretrained folder or hf-hub:org/name")
    parser.add_argument("--data-dir", default="data", help="folder holding cifar-10-batches-py/")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    parser.add_argument("--smoke", action="store_true", help="no download: a saved and reloaded random model")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        if args.smoke:
            # Never downloads: says whether the named weights are published, then evaluates a random
            # model that went through save_pretrained and from_pretrained, on the bundled sample.
            if not rz.get_weights(args.name).published:
                load_named(args.name)  # prints why it cannot be loaded
            print("smoke mode: a random resnet20_cifar, saved and loaded with save/from_pretrained")
            model = round_trip(tmp)
            args.data_dir, args.device = tmp, "cpu"  # an empty folder: the bundled sample
        elif args.weights is not None:
            model = rz.from_pretrained(args.weights)
        else:
            model = load_named(args.name)
            if model is None:
                return 1
        dataset = test_split(args.data_dir)
        metrics = evaluate(model, dataset, args.device)
    name = model.pretrained_cfg.get("architecture", args.weights or args.name)
    top1, top5 = 100 * metrics["top1"], 100 * metrics["top5"]
    print(f"{name}: top-1 {top1:.2f}%, top-5 {top5:.2f}% on {len(dataset):,} images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
