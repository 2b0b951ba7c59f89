"""What several commands share: the options that name a model or data, the model they name, and how a
result is printed."""

from __future__ import annotations

import argparse
import contextlib
import logging
from typing import Any

from torch import nn

from .._model_info import normalisation as model_normalisation
from ..hub.source import load_model as load_source
from ..hub.source import resolve_source
from ..models import create_model
from ..models.registry import split_model_name
from ..train._run_lock import run_folder_lock
from ..train.distributed import DistributedEnv

logger = logging.getLogger("resnetzoo.cli")


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """The options every model-taking command starts from (see :func:`load_model`)."""
    p.add_argument(
        "--weights",
        metavar="SRC",
        help="a run folder, a saved model's folder, weights by name (resnet56_cifar.cifar10), "
        "hf-hub:org/name or org/name",
    )
    p.add_argument(
        "--checkpoint",
        metavar="PATH",
        help="a run's training checkpoint, or with --model a state-dict file in any layout (.safetensors, "
        ".pt, .th, ...)",
    )
    p.add_argument(
        "--model",
        metavar="NAME",
        help="registered architecture, e.g. resnet20_cifar, or NAME.TAG for weights",
    )


def add_data_arguments(p: argparse.ArgumentParser, *, device: bool = True) -> None:
    """--data, --data-dir, --val-size (what :func:`resnetzoo.data.load_splits` takes) and --device."""
    p.add_argument(
        "--data",
        default=None,
        help="cifar10, cifar100, sample (the bundled CIFAR-10 sample) or an image folder DIR "
        "(DIR/train/<class>/*.png and optionally DIR/test/...; default: cifar10, or the sample when "
        "neither --data nor --data-dir is given and data/ holds no CIFAR-10)",
    )
    p.add_argument("--data-dir", default=None, help="where cifar10/cifar100 files are (default: data)")
    p.add_argument("--val-size", type=int, help="validation images held out of training (default: 10%%)")
    if device:
        p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ... (default: auto)")


def load_model(args: argparse.Namespace) -> nn.Module:
    """The model a command names: the one place where the CLI turns arguments into a model.

    - ``--weights SRC``: anything :func:`resnetzoo.hub.resolve_source` finds: weights by name
      (``resnet56_cifar.cifar10``), a run folder (its ``best/``), a saved model's folder,
      ``hf-hub:org/name`` or ``org/name``, a training checkpoint;
    - ``--checkpoint PATH``: a run's training checkpoint (it names its architecture and records what
      its weights are), or, with ``--model NAME``, any source :func:`load_checkpoint` reads, with the
      head and stem sizes read from it;
    - ``--model NAME[.TAG]``: a registered architecture, with those weights if a tag names them.

    Raises:
        ValueError: If no model is named or the checkpoint does not fit.
        FileNotFoundError: If a file does not exist.
    """
    if getattr(args, "weights", None) is not None:
        return load_source(resolve_source(args.weights, what="--weights"))
    if args.checkpoint is not None:
        return load_source(resolve_source(args.checkpoint, what="checkpoint"), model=args.model)
    if args.model is None:
        raise ValueError(
            "name the model with --weights SRC (a run or saved folder, weights by name, hf-hub:org/name), "
            "--checkpoint PATH (a training checkpoint) or --model NAME[.TAG] (see 'resnetzoo list')"
        )
    model = create_model(args.model)
    if split_model_name(args.model)[1] is None:
        logger.warning("no --checkpoint or weights tag given: %s has random weights", args.model)
    return model


def load_named_model(source: str, flag: str, **kwargs: Any) -> nn.Module:
    """A registered ``NAME[.TAG]`` built with ``kwargs`` (a head for the data); else what the source holds."""
    found = resolve_source(source, what=flag)
    if found.kind == "registered":
        return create_model(source, **kwargs)
    return load_source(found)


def normalisation(model: nn.Module, data_mean: Any, data_std: Any) -> tuple[Any, Any]:
    """The mean/std to feed ``model`` with (:func:`resnetzoo._model_info.normalisation`), said in the log."""
    mean, std = model_normalisation(model, data_mean, data_std)
    if (mean, std) != (data_mean, data_std):
        logger.info("normalising with the mean %s and std %s that the weights were trained with", mean, std)
    return mean, std


def print_metrics(title: str, metrics: dict[str, float]) -> None:
    """The one line of an evaluation's result, in percent (the API's metrics are fractions)."""
    parts = [f"top-1 {metrics['top1']:.2%}"]
    if "top1_tta" in metrics:
        parts.append(f"flip-TTA top-1 {metrics['top1_tta']:.2%}")
    parts += [f"top-5 {metrics['top5']:.2%}", f"loss {metrics['loss']:.4f}"]
    print(f"{title}: " + ", ".join(parts))


def describe_splits(verb: str, model: str, splits: Any) -> None:
    logger.info(
        "%s %s on %s: %d train, %d val, %d test images",
        verb,
        model,
        splits.description,
        len(splits.train),
        len(splits.val) if splits.val is not None else 0,
        len(splits.test) if splits.test is not None else 0,
    )


def owned(out: str) -> contextlib.AbstractContextManager[Any]:
    """A run owns its folder (--out) for the whole command: training, the test and best/."""
    return (
        run_folder_lock(out, what="--out") if DistributedEnv.from_env().is_main else contextlib.nullcontext()
    )
