"""The ``resnetzoo`` command line: a thin layer over the public API."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.contrib.logging import logging_redirect_tqdm

from . import __version__
from .data import (
    CIFAR10,
    CIFAR10_MEAN,
    CIFAR10_STD,
    CIFAR100,
    CIFAR100_MEAN,
    CIFAR100_STD,
    TensorImageDataset,
    compute_mean_std,
    image_folder,
    sample_cifar10,
)
from .errors import ResnetzooError
from .models import count_flops, count_parameters, create_model, list_models
from .train import TrainConfig, Trainer, get_recipe, list_recipes, read_checkpoint

__all__ = ["build_parser", "main"]

logger = logging.getLogger("resnetzoo.cli")


def _cmd_list(args: argparse.Namespace) -> int:
    names = list_models(args.pattern)
    if not args.verbose:
        print("\n".join(names))
        return 0
    print(f"{'model':<24} {'params':>12} {'GFLOPs/img':>11}")
    for name in names:
        # Built on the meta device: shapes only, no memory or init cost, and the flop
        # counter still sees every operation.
        with torch.device("meta"):
            model = create_model(name)
        flops = count_flops(model) / 1e9
        print(f"{name:<24} {count_parameters(model):>12,} {flops:>11.3f}")
    print("params with 10 classes; forward FLOPs for one 3x32x32 image (multiply-add = 2 FLOPs)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``resnetzoo`` command (also used to document the CLI)."""
    parser = argparse.ArgumentParser(
        prog="resnetzoo", description="ResNets for 32x32 images: models, training, fine-tuning, weights."
    )
    parser.add_argument("--version", action="version", version=f"resnetzoo {__version__}")
    parser.add_argument("-v", "--log-level", default="INFO", help="logging level (default: INFO)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("list", help="list the registered models")
    p.add_argument("pattern", nargs="?", default=None, help="fnmatch filter, e.g. 'resnet1*'")
    p.add_argument("--verbose", action="store_true", help="also print parameters and FLOPs per image")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser(
        "train",
        help="train a model, select it on a validation split, then test it once",
        description="Train on a training split, keep the epoch with the best validation top-1, then "
        "evaluate it once on the test split. Without CIFAR files, --data cifar10 falls back to the "
        "bundled 5,000-image sample.",
    )
    _add_data_arguments(p)
    p.add_argument("--model", default="resnet20_cifar", help="registered model (default: resnet20_cifar)")
    p.add_argument("--recipe", default="fast", choices=list_recipes(), help="training recipe (default: fast)")
    p.add_argument("--epochs", type=int, help="override the recipe's epochs")
    p.add_argument("--batch-size", type=int, help="override the recipe's batch size")
    p.add_argument("--lr", type=float, help="override the recipe's peak learning rate")
    p.add_argument("--seed", type=int, help="override the seed (default 0)")
    p.add_argument("--out", default="runs/train", help="output folder (default: runs/train)")
    p.add_argument("--resume", help="'auto' (newest checkpoint in --out) or a checkpoint path")
    p.add_argument("--limit-batches", type=int, help="at most this many batches per epoch and evaluation")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("eval", help="evaluate a checkpoint on a data split")
    _add_data_arguments(p)
    p.add_argument("--checkpoint", required=True, help="best.pt or a training checkpoint")
    p.add_argument("--model", help="registered model (default: the one recorded in the checkpoint)")
    p.add_argument("--split", default="test", choices=("test", "val", "train"), help="split (default: test)")
    p.add_argument("--batch-size", type=int, default=500, help="images per batch (default: 500)")
    p.add_argument("--tta", action="store_true", help="also report flip-TTA top-1")
    p.set_defaults(func=_cmd_eval)
    return parser


def _add_data_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        default="cifar10",
        help="cifar10, cifar100, sample (the bundled CIFAR-10 sample) or an image folder DIR "
        "(DIR/train/<class>/*.png and optionally DIR/test/...; default: cifar10)",
    )
    p.add_argument("--data-dir", default="data", help="where cifar10/cifar100 files are (default: data)")
    p.add_argument("--val-size", type=int, help="validation images held out of training (default: 10%%)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ... (default: auto)")


Splits = tuple[TensorImageDataset, TensorImageDataset | None, TensorImageDataset | None]


def _load_data(
    args: argparse.Namespace, val_size: int | None, purpose: str = "training"
) -> tuple[Splits, tuple[Any, Any], str]:
    """``((train, val, test), (mean, std), description)`` for ``--data``; ``val`` is None if val_size is 0."""
    kind = args.data
    if kind in ("cifar10", "cifar100"):
        cls = CIFAR10 if kind == "cifar10" else CIFAR100
        mean_std = (CIFAR10_MEAN, CIFAR10_STD) if kind == "cifar10" else (CIFAR100_MEAN, CIFAR100_STD)
        size = 5000 if val_size is None else val_size
        try:
            train = cls(args.data_dir, split="train", val_size=size)
        except FileNotFoundError:
            if kind == "cifar100":
                raise
            logger.warning(
                "no CIFAR-10 found at %s; %s on the bundled 5,000-image sample "
                "(put CIFAR-10 there, or pass --data-dir, for real results)",
                Path(args.data_dir) / "cifar-10-batches-py",
                purpose,
            )
            kind = "sample"
        else:
            val = cls(args.data_dir, split="val", val_size=size) if size else None
            test = cls(args.data_dir, split="test")
            return (train, val, test), mean_std, f"{cls.name} from {args.data_dir}"
    if kind == "sample":
        size = 500 if val_size is None else val_size
        splits = (
            sample_cifar10("train", val_size=size),
            sample_cifar10("val", val_size=size) if size else None,
            sample_cifar10("test"),
        )
        return splits, (CIFAR10_MEAN, CIFAR10_STD), "the bundled CIFAR-10 sample"
    root = Path(kind)
    if not root.is_dir():
        raise FileNotFoundError(
            f"--data {kind!r} is neither cifar10, cifar100, sample nor an existing folder"
        )
    has_splits = (root / "train").is_dir()
    full = image_folder(root, split="train" if has_splits else None)
    test = image_folder(root, split="test") if has_splits and (root / "test").is_dir() else None
    size = max(1, len(full) // 10) if val_size is None else val_size
    train, val = full.train_val_split(size) if size else (full, None)
    # Normalise every split with the training pixels' statistics.
    return (train, val, test), compute_mean_std(train), f"the image folder {root}"


def _print_metrics(title: str, metrics: dict[str, float]) -> None:
    parts = [f"top-1 {100 * metrics['top1']:.2f}%"]
    if "top1_tta" in metrics:
        parts.append(f"flip-TTA top-1 {100 * metrics['top1_tta']:.2f}%")
    parts += [f"top-5 {100 * metrics['top5']:.2f}%", f"loss {metrics['loss']:.4f}"]
    print(f"{title}: " + ", ".join(parts))


def _cmd_train(args: argparse.Namespace) -> int:
    overrides = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "limit_train_batches": args.limit_batches,
        "limit_eval_batches": args.limit_batches,
    }
    config = get_recipe(
        args.recipe,
        device=args.device,
        out_dir=args.out,
        progress=not args.no_progress,
        **{k: v for k, v in overrides.items() if v is not None},
    )
    (train_set, val_set, test_set), (mean, std), description = _load_data(args, args.val_size)
    logger.info(
        "training %s on %s: %d train, %d val, %d test images, recipe %r",
        args.model,
        description,
        len(train_set),
        len(val_set) if val_set is not None else 0,
        len(test_set) if test_set is not None else 0,
        args.recipe,
    )
    model = create_model(args.model, num_classes=train_set.num_classes)
    trainer = Trainer(model, config)
    train = trainer.make_loader(train_set, train=True, mean=mean, std=std)
    val = trainer.make_loader(val_set, train=False, mean=mean, std=std) if val_set is not None else None
    # Log lines go above the progress bar instead of through it.
    with logging_redirect_tqdm():
        trainer.fit(train, val, resume=args.resume)
    if trainer.best_epoch is not None:
        print(f"selected epoch {trainer.best_epoch + 1}: val top-1 {100 * trainer.best_metric:.2f}%")
    if test_set is None:
        logger.warning("the data has no test split: nothing to test")
        return 0
    # The one look at the test split, after model selection.
    metrics = trainer.test(trainer.make_loader(test_set, train=False, mean=mean, std=std))
    if trainer.is_main_process:
        _print_metrics(f"test ({len(test_set):,} images)", metrics)
        (Path(args.out) / "test_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    checkpoint = read_checkpoint(args.checkpoint)
    name = args.model or checkpoint.get("model_name")
    if name is None:
        raise ValueError(f"{args.checkpoint} does not record its model; pass --model")
    model = create_model(name, **checkpoint.get("model_kwargs", {}))
    model.load_state_dict(checkpoint["model"])
    (train_set, val_set, test_set), (mean, std), _ = _load_data(args, args.val_size, "evaluating")
    dataset = {"train": train_set, "val": val_set, "test": test_set}[args.split]
    if dataset is None:
        raise ValueError(f"the data has no {args.split} split")
    config = TrainConfig(batch_size=args.batch_size, device=args.device, tta=args.tta, progress=False)
    trainer = Trainer(model, config)
    metrics = trainer.test(trainer.make_loader(dataset, train=False, mean=mean, std=std))
    _print_metrics(f"{args.split} ({len(dataset):,} images)", metrics)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError, ResnetzooError) as err:
        # User errors: one clear line, no traceback.
        print(f"resnetzoo {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
