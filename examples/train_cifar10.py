"""Train a ResNet on CIFAR-10 with a recipe, keep the best validation epoch, and test it once.

Run:
    python examples/train_cifar10.py --data-dir data                       # resnet20_cifar, fast recipe
    python examples/train_cifar10.py --data-dir data --model resnet56_cifar --recipe long --out runs/r56
    python examples/train_cifar10.py --out runs/r56 --resume               # continue an interrupted run
    python examples/train_cifar10.py --smoke                               # 2 batches on the sample, CPU

CIFAR-10 is read from ``DATA_DIR/cifar-10-batches-py/`` (``--download`` fetches it). Without it the
example trains on the 5,000-image sample bundled with resnetzoo, and says so: fine for trying the
code, meaningless as a CIFAR-10 result.
"""

# smoke-output: test top-1

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import torch

import resnetzoo as rz
from resnetzoo.data import TensorImageDataset, load_splits


def train_and_test(args: argparse.Namespace, overrides: dict) -> None:
    # A recipe is a validated TrainConfig; any field can be overridden (see resnetzoo.TrainConfig).
    config = rz.recipes.get_recipe(args.recipe, out_dir=args.out, **overrides)

    # 45,000 train / 5,000 validation held out of the training set / the official 10,000 test images,
    # normalised with CIFAR-10's statistics. Without a --data-dir and no CIFAR-10 in data/, the bundled
    # 5,000-image sample (4,500 / 500 / its own 1,000 test images), with a warning that says so.
    name = "sample" if args.smoke else None if args.data_dir is None else "cifar10"
    splits = load_splits(name, args.data_dir, download=args.download)
    train_set, val_set, test_set = splits.train, splits.val, splits.test
    if args.smoke:  # every fifth test image (200, 20 per class) is enough to see that testing works
        test_set = TensorImageDataset(
            test_set.data[::5],
            test_set.targets[::5],
            test_set.classes,
            description="every 5th sample test image",
        )

    if config.seed is not None:
        torch.manual_seed(config.seed)  # the random initial weights: fit seeds only what comes after it
    model = rz.create_model(args.model, num_classes=train_set.num_classes)
    trainer = rz.Trainer(model, config)
    # DeviceLoaders: the data set sits on the training device; batches are augmented there (training
    # only) and normalised with the training set's statistics, for every split.
    train = trainer.make_loader(train_set, train=True, mean=splits.mean, std=splits.std)
    val = trainer.make_loader(val_set, train=False, mean=splits.mean, std=splits.std)
    test = trainer.make_loader(test_set, train=False, mean=splits.mean, std=splits.std)

    # fit keeps the epoch with the best validation top-1 and loads it into trainer.model at the end.
    trainer.fit(train, val, resume="auto" if args.resume else None)
    print(f"selected epoch {trainer.best_epoch + 1}: val top-1 {100 * trainer.best_metric:.2f}%")

    # The one look at the test split, after every choice was made on validation.
    metrics = trainer.test(test)
    print(f"test top-1 {100 * metrics['top1']:.2f}% on {len(test_set):,} images: {test_set.description}")
    print(f"the run folder is {args.out}: checkpoints/, best/ (the selected model), metrics.csv")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", help="folder holding cifar-10-batches-py/ (default: data/, else the bundled sample)"
    )
    parser.add_argument("--download", action="store_true", help="download CIFAR-10 if it is missing")
    parser.add_argument("--model", default="resnet20_cifar", help="registered model name")
    parser.add_argument("--recipe", default="fast", choices=rz.recipes.list_recipes())
    parser.add_argument("--epochs", type=int, help="override the recipe's number of epochs")
    parser.add_argument("--out", default="runs/train_cifar10", help="checkpoints and metrics go here")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    parser.add_argument(
        "--smoke", action="store_true", help="a few batches on the bundled sample, on the CPU"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    if not args.smoke:
        train_and_test(args, {} if args.epochs is None else {"epochs": args.epochs})
        return
    # Smoke mode: 1 epoch of 2 batches and a short validation on the CPU, on the bundled sample, in a
    # temporary folder.
    with tempfile.TemporaryDirectory() as tmp:
        args.out = str(Path(tmp) / "run")
        overrides = {"epochs": 1, "batch_size": 32, "limit_train_batches": 2, "limit_eval_batches": 2}
        train_and_test(args, overrides | {"device": "cpu", "progress": False})


if __name__ == "__main__":
    main()
