"""``resnetzoo train | fine-tune | distill``: the commands that write a run folder."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
from pathlib import Path
from typing import Any

from torch import nn
from tqdm.contrib.logging import logging_redirect_tqdm

from ..compress import distill
from ..data import Splits, TensorImageDataset, load_splits
from ..models import create_model
from ..train import TrainConfig, Trainer, describe_recipe, fine_tune, list_recipes
from ..train.run import BEST_DIR, RunFolder
from ..train.trainer import seed_everything
from ._common import (
    add_data_arguments,
    add_model_arguments,
    describe_splits,
    load_model,
    load_named_model,
    logger,
    normalisation,
    owned,
    print_metrics,
)
from ._config import DEFAULT_RECIPE, add_config_arguments, to_toml, train_config

__all__ = ["COMMANDS"]


def _cmd_train(args: argparse.Namespace) -> int:
    config = train_config(args)
    if args.print_config:
        print(to_toml(config), end="")
        return 0
    args.out = config.out_dir  # what an interrupted run's message tells to resume
    splits = load_splits(args.data, args.data_dir, val_size=args.val_size)
    recipe = f" with recipe {config.recipe!r}" if config.recipe else ""
    describe_splits("training", f"{args.model}{recipe}", splits)
    if config.seed is not None:
        seed_everything(config.seed)  # the random initial weights too: fit seeds only what comes after
    model = create_model(args.model, num_classes=splits.train.num_classes)
    trainer = Trainer(model, config)
    train = trainer.make_loader(splits.train, train=True, mean=splits.mean, std=splits.std)
    val = (
        trainer.make_loader(splits.val, train=False, mean=splits.mean, std=splits.std) if splits.val else None
    )
    # Log lines go above the progress bar instead of through it.
    with owned(config.out_dir), logging_redirect_tqdm():
        trainer.fit(train, val, resume=args.resume)
        metrics = _test_once(trainer, splits.test, splits.mean, splits.std)  # each process takes its share
    if trainer.is_main_process:
        selected = "" if trainer.best_epoch is None else f" epoch {trainer.best_epoch + 1}"
        _report(trainer.model, config.out_dir, splits.test, metrics, selected)
    return 0


def _train_val_loaders(
    model: nn.Module, config: TrainConfig, splits: Splits, mean: Any, std: Any
) -> tuple[TrainConfig, Any, Any]:
    """The training and validation loaders of ``config`` (the Trainer is the one place that builds them:
    device, dtype, augmentation), and ``config`` without a run folder or progress bar, for testing."""
    quiet = dataclasses.replace(config, out_dir=None, progress=False)
    loaders = Trainer(model, quiet)
    train = loaders.make_loader(splits.train, train=True, mean=mean, std=std)
    val = loaders.make_loader(splits.val, train=False, mean=mean, std=std) if splits.val is not None else None
    return quiet, train, val


def _test_once(
    trainer: Trainer, test_set: TensorImageDataset | None, mean: Any, std: Any
) -> dict[str, float] | None:
    """The one look at the test split, after model selection; None if the data has no test split."""
    if test_set is None:
        logger.warning("the data has no test split: nothing to test")
        return None
    return trainer.test(trainer.make_loader(test_set, train=False, mean=mean, std=std))


def _seed_and_limits(args: argparse.Namespace) -> dict[str, Any]:
    """The TrainConfig fields that fine-tune's and distill's --seed and --limit-batches set, where given."""
    given = {
        "seed": args.seed,
        "limit_train_batches": args.limit_batches,
        "limit_eval_batches": args.limit_batches,
    }
    return {field: value for field, value in given.items() if value is not None}


def _test_and_report(
    model: nn.Module, out: str, test_set: TensorImageDataset | None, mean: Any, std: Any, config: TrainConfig
) -> None:
    """After a fine-tune or a distillation: test ``model`` (the one in ``out``/best/) once, add
    test_metrics.json to the run folder, and report."""
    tester = Trainer(model, config)
    metrics = _test_once(tester, test_set, mean, std)
    if tester.is_main_process:
        if metrics is not None:
            RunFolder(out).record_test(metrics, model, num_images=len(test_set))
        _report(model, out, test_set, metrics)


def _report(
    model: nn.Module,
    out: str,
    test_set: TensorImageDataset | None,
    metrics: dict[str, float] | None,
    selected: str = "",
) -> None:
    """What a run selected (``selected`` says which epoch) and how it tested, once, in percent, and
    where it is."""
    record = getattr(model, "pretrained_cfg", None)
    if record is not None and "val_top1" in record.metrics:
        print(f"selected{selected}: val top-1 {record.metrics['val_top1']:.2%}")
    if metrics is not None and test_set is not None:
        print_metrics(f"test ({len(test_set):,} images)", metrics)
    print(f"the run is in {out}; its model is {Path(out) / BEST_DIR} (--weights {out})")


def _cmd_fine_tune(args: argparse.Namespace) -> int:
    splits = load_splits(args.data, args.data_dir, val_size=args.val_size)
    seed_everything(TrainConfig.seed if args.seed is None else args.seed)  # a model with random weights too
    model = load_model(args)
    # The pretrained features expect the input distribution they were trained on.
    mean, std = normalisation(model, splits.mean, splits.std)
    batch_size = args.batch_size
    if batch_size is None:
        # Fine-tuning data sets are often small: one batch of all the images rather than no batch at all.
        batch_size = min(TrainConfig.batch_size, len(splits.train))
    config = TrainConfig(
        batch_size=batch_size,
        device=args.device,
        out_dir=args.out,
        progress=not args.no_progress,
        **_seed_and_limits(args),
    )
    describe_splits("fine-tuning", getattr(model, "model_name", type(model).__name__), splits)
    cfg = getattr(model, "pretrained_cfg", None)
    categories = cfg.categories if cfg is not None else None
    if categories is not None and list(categories) == list(splits.train.classes):
        logger.info("the model was trained on the same classes as the data's: its head is kept")
        num_classes = None
    else:
        num_classes = splits.train.num_classes
    quiet, train, val = _train_val_loaders(model, config, splits, mean, std)
    with owned(args.out), logging_redirect_tqdm():
        model = fine_tune(
            model,
            train,
            num_classes=num_classes,
            val_loader=val,
            epochs=args.epochs,
            freeze_epochs=args.freeze_epochs,
            lr=args.lr,
            lr_mult=args.lr_mult,
            train_bn=args.train_bn,
            config=config,
            resume=args.resume,
        )
        _test_and_report(model, args.out, splits.test, mean, std, quiet)  # the fine-tuned model is best/'s
    return 0


def _cmd_distill(args: argparse.Namespace) -> int:
    splits = load_splits(args.data, args.data_dir, val_size=args.val_size)
    teacher = load_named_model(args.teacher, "--teacher")
    if getattr(teacher, "pretrained_cfg", None) is None or teacher.pretrained_cfg.source is None:
        raise ValueError(
            f"--teacher {args.teacher!r} has random weights; name trained ones: NAME.TAG (see "
            "'resnetzoo list --pretrained'), a run or saved folder, or hf-hub:org/name"
        )
    seed_everything(TrainConfig.seed if args.seed is None else args.seed)  # the student's random weights too
    student = load_named_model(args.student, "--student", num_classes=splits.train.num_classes)
    mean, std = normalisation(teacher, splits.mean, splits.std)  # both networks see the teacher's
    config = TrainConfig(
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        device=args.device,
        out_dir=args.out,
        progress=not args.no_progress,
        **_seed_and_limits(args),
    )
    describe_splits("distilling", f"{args.teacher} into {args.student}", splits)
    quiet, train, val = _train_val_loaders(student, config, splits, mean, std)
    with owned(args.out), logging_redirect_tqdm():
        student = distill(
            student,
            teacher,
            train,
            val,
            temperature=args.temperature,
            alpha=args.alpha,
            config=config,
            resume=args.resume,
        )
        _test_and_report(student, args.out, splits.test, mean, std, quiet)  # the returned student is best/'s
    return 0


def _add_run_arguments(p: argparse.ArgumentParser, out: str, resume: str) -> None:
    """The options every run command ends with: its folder, resuming, quick runs, progress bars."""
    p.add_argument("--seed", type=int, help="seed (default 0)")
    p.add_argument("--out", default=out, help=f"output folder (default: {out})")
    if resume == "auto":
        p.add_argument("--resume", choices=["auto"], help="'auto': continue the run in --out")
    else:
        p.add_argument("--resume", help="'auto' (newest checkpoint in --out) or a checkpoint path")
    p.add_argument("--limit-batches", type=int, help="at most this many batches per epoch and evaluation")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _train_parser(p: argparse.ArgumentParser) -> None:
    recipes = "; ".join(f"{name}: {describe_recipe(name).summary}" for name in list_recipes())
    p.description = (
        "Train on a training split, keep the epoch with the best validation top-1, then evaluate it once "
        "on the test split. Given neither --data nor --data-dir, it trains on CIFAR-10 in data/, or on the "
        "bundled 5,000-image sample when there is none there. Every training setting starts from the "
        "recipe's (--recipe, else the config file's recipe, else fast), then a config file's (--config), "
        f"then the options below. Recipes: {recipes}. The run folder (--out) then holds "
        "train_config.json, checkpoints/, metrics.csv, best/ (the selected model with its classes, "
        "normalisation and scores: what --weights, from_pretrained and push read) and test_metrics.json."
    )
    add_data_arguments(p, device=False)
    p.add_argument("--model", default="resnet20_cifar", help="registered model (default: resnet20_cifar)")
    p.add_argument(
        "--recipe",
        choices=list_recipes(),
        help=f"training recipe to start from (default: the config file's, else {DEFAULT_RECIPE})",
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        help="a TOML file of TrainConfig fields (see --print-config), or a run's train_config.json",
    )
    p.add_argument("--print-config", action="store_true", help="print the resolved settings as TOML and exit")
    p.add_argument("--out", help="the run folder (default: runs/train)")
    p.add_argument("--resume", help="'auto' (newest checkpoint in --out) or a checkpoint path")
    p.add_argument(
        "--limit-batches",
        type=int,
        help="at most this many batches per epoch and evaluation (sets --limit-train-batches and "
        "--limit-eval-batches)",
    )
    add_config_arguments(p)
    p.set_defaults(func=_cmd_train)


def _fine_tune_parser(p: argparse.ArgumentParser) -> None:
    defaults = inspect.signature(fine_tune).parameters  # one set of defaults for the API and the CLI
    p.description = (
        "Replace the head to fit the data's classes, train it on the frozen backbone, then train the whole "
        "network with smaller learning rates for earlier stages (resnetzoo.fine_tune). Selects on a "
        "validation hold-out, tests once if the data has a test split, and writes the run folder OUT: "
        "OUT/best/ is the fine-tuned model with its classes, normalisation and scores (what --weights, "
        "from_pretrained and push read)."
    )
    add_model_arguments(p)
    add_data_arguments(p)
    p.add_argument(
        "--epochs", type=int, default=defaults["epochs"].default, help="epochs training everything"
    )
    p.add_argument(
        "--freeze-epochs",
        type=int,
        default=defaults["freeze_epochs"].default,
        help="epochs training the head alone first",
    )
    p.add_argument("--lr", type=float, default=defaults["lr"].default, help="peak learning rate of the head")
    p.add_argument(
        "--lr-mult",
        type=float,
        default=defaults["lr_mult"].default,
        help="lr ratio of each stage to the next one towards the output",
    )
    p.add_argument("--train-bn", action="store_true", help="also train the norm layers' scales in phase 1")
    p.add_argument("--batch-size", type=int, help="images per step (default: 128, or fewer for small data)")
    _add_run_arguments(p, "runs/fine-tune", resume="auto")
    p.set_defaults(func=_cmd_fine_tune)


def _distill_parser(p: argparse.ArgumentParser) -> None:
    defaults = inspect.signature(distill).parameters
    p.description = (
        "Train --student on the labels and on --teacher's temperature-softened probabilities (Hinton et al. "
        "2015; resnetzoo.distill), with the teacher's normalisation. Selects on a validation hold-out, "
        "tests once, and writes the run folder OUT (its model: --weights OUT)."
    )
    add_data_arguments(p)
    p.add_argument(
        "--teacher",
        required=True,
        metavar="SRC",
        help="trained teacher: NAME.TAG, a saved folder or hf-hub:org/name",
    )
    p.add_argument(
        "--student",
        required=True,
        metavar="SRC",
        help="student: NAME (random weights), NAME.TAG or a saved folder",
    )
    p.add_argument(
        "--temperature",
        type=float,
        default=defaults["temperature"].default,
        help="softmax temperature (default: 4)",
    )
    p.add_argument(
        "--alpha",
        type=float,
        default=defaults["alpha"].default,
        help="weight of the soft targets (default: 0.9)",
    )
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs, help="epochs (default: 30)")
    p.add_argument("--lr", type=float, default=TrainConfig.lr, help="peak learning rate (default: 0.1)")
    p.add_argument(
        "--batch-size", type=int, default=TrainConfig.batch_size, help="images per step (default: 128)"
    )
    _add_run_arguments(p, "runs/distill", resume="path")
    p.set_defaults(func=_cmd_distill)


# Each command's arguments, added to its subparser (resnetzoo.cli builds only the one that runs).
COMMANDS = {"train": _train_parser, "fine-tune": _fine_tune_parser, "distill": _distill_parser}
