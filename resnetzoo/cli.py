"""The ``resnetzoo`` command line: a thin layer over the public API."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import errno
import inspect
import json
import logging
import os
import re
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, get_args

import torch
from torch import nn
from tqdm.contrib.logging import logging_redirect_tqdm

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from . import __version__
from ._fielddoc import dataclass_fields
from ._record import record_from_metadata
from .compress import distill
from .compress.quantize import DEFAULT_MAX_TOP1_DROP, quantize
from .data import POLICIES, AugmentConfig, DeviceLoader, Splits, TensorImageDataset, load_splits
from .errors import ArgumentTypeError, ResnetzooError
from .explain import METHODS, explain
from .export import FORMATS, export, onnx_opset
from .hub import from_pretrained, load_checkpoint, push_to_hub, save_pretrained
from .hub.convert import Layout
from .hub.save import adopt_folder_record
from .hub.source import load_model, resolve_source
from .models import (
    count_flops,
    count_parameters,
    create_model,
    get_weights,
    list_models,
    list_pretrained,
)
from .models.registry import split_model_name
from .predict import Prediction, predict
from .train import (
    TrainConfig,
    Trainer,
    describe_recipe,
    fine_tune,
    get_recipe,
    list_recipes,
)
from .train._run_lock import run_folder_lock
from .train.config import AMP_MODES, COMPILE_MODES, LOGGERS, OPTIMIZERS, SCHEDULES
from .train.distributed import DistributedEnv
from .train.run import BEST_DIR, RunFolder
from .train.trainer import seed_everything

__all__ = ["build_parser", "main"]

logger = logging.getLogger(__name__)


def _cmd_list(args: argparse.Namespace) -> int:
    if args.pretrained:
        return _list_pretrained(args.pattern)
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


def _list_pretrained(pattern: str | None) -> int:
    """The weights that load by name: where from, under which license, and how accurate."""
    rows = [get_weights(name) for name in list_pretrained(pattern)]
    header = ("weights", "source", "license", "reported", "measured", "size")
    table = [
        (
            w.name,
            f"hf-hub:{w.hf_hub_id}" if w.hf_hub_id else (w.origin_url or w.url or "").split("://")[-1],
            w.license or "?",
            f"{w.reported_top1:.2%}" if w.reported_top1 is not None else "-",
            f"{w.metrics['top1_jpeg']:.2%}" if "top1_jpeg" in w.metrics else "-",
            f"{w.file_size / 1e6:.1f} MB" if w.file_size is not None else "-",
        )
        for w in rows
    ]
    widths = [max(len(str(row[i])) for row in [header, *table]) for i in range(len(header))]
    for row in [header, *table]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    print(
        "reported: test top-1 by whoever trained the weights, on the original test split; measured: top-1 "
        "resnetzoo measured on the JPEG copy of the CIFAR-10 test split (docs/pretrained.md)"
    )
    return 0


def _load_model_for_cli(args: argparse.Namespace) -> nn.Module:
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
        return load_model(resolve_source(args.weights, what="--weights"))
    if args.checkpoint is not None:
        return load_model(resolve_source(args.checkpoint, what="checkpoint"), model=args.model)
    if args.model is None:
        raise ValueError(
            "name the model with --weights SRC (a run or saved folder, weights by name, hf-hub:org/name), "
            "--checkpoint PATH (a training checkpoint) or --model NAME[.TAG] (see 'resnetzoo list')"
        )
    model = create_model(args.model)
    if split_model_name(args.model)[1] is None:
        logger.warning("no --checkpoint or weights tag given: %s has random weights", args.model)
    return model


def _cmd_export(args: argparse.Namespace) -> int:
    if args.quantize is not None and args.format != "onnx":
        raise ValueError("--quantize int8 writes an ONNX file; drop --format torchscript")
    if args.quantize is not None and args.calibration_data is None:
        raise ValueError(
            "--quantize int8 needs --calibration-data: images to fix the activation ranges on "
            "(cifar10, sample, or an image folder DIR)"
        )
    model = _load_model_for_cli(args)
    # The ONNX exporter's optimiser logs each of its passes at INFO; keep those out of the command's output.
    quiet = max(logging.WARNING, logging.getLogger().getEffectiveLevel())
    for name in ("onnxscript", "onnx_ir", "onnxruntime"):
        logging.getLogger(name).setLevel(quiet)
    if args.quantize is not None:
        return _export_int8(args, model)
    path = export(
        model,
        args.output,
        args.format,
        opset=args.opset,
        dynamic_batch=not args.static_batch,
        check=not args.no_check,
    )
    checked = "" if args.no_check else ", checked against PyTorch"
    kind = f"onnx opset {onnx_opset(path)}" if args.format == "onnx" else args.format
    print(f"wrote {path} ({kind}, {path.stat().st_size / 1e6:.1f} MB{checked})")
    return 0


def _export_int8(args: argparse.Namespace, model: nn.Module) -> int:
    """Calibrate on the data's training images, check top-1 on its test split (else its validation split)."""
    splits = load_splits(args.calibration_data, args.data_dir)
    mean, std = _normalisation(model, splits.mean, splits.std)
    check_set, check_name = (splits.test, "test") if splits.test is not None else (splits.val, "validation")
    if check_set is None:
        raise ValueError(
            f"{splits.description} has no test or validation split to check the int8 model's accuracy on"
        )
    train_set = splits.train
    # Shuffled, not augmented: the calibration images are a sample of every class, as the model sees them.
    calibration = DeviceLoader(train_set, 256, train=True, augment=None, mean=mean, std=std)
    check = DeviceLoader(check_set, 500, train=False, mean=mean, std=std)
    path = quantize(
        model,
        calibration,
        args.output,
        calibration_images=args.calibration_images,
        check_loader=check,
        max_top1_drop=args.max_top1_drop,
    )
    import onnx  # present: quantize needed it

    metadata = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    record = record_from_metadata(metadata, source=str(path))
    accuracy = ""
    if record is not None and "top1" in record.metrics and "top1_fp32" in record.metrics:
        # Percent for a person; the record holds fractions and the images they were measured on.
        top1, fp32 = record.metrics.metric("top1"), record.metrics.metric("top1_fp32")
        where = check_name if top1.split == "check" else "calibration (training)"
        accuracy = f", top-1 {top1.percent:.2f}% vs {fp32.percent:.2f}% in fp32 on {top1.num_images:,}"
        accuracy += f" {where} images"
    print(f"wrote {path} (int8 ONNX, {path.stat().st_size / 1e6:.1f} MB{accuracy})")
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    model = _load_model_for_cli(args)
    out = Path(args.out)
    explanations = explain(model, args.images, method=args.method, target=args.target, device=args.device)
    used: set[str] = set()
    for image, explanation in zip(args.images, explanations, strict=True):
        name = Path(image).stem or "image"
        # Two inputs with the same file name (a/cat.png, b/cat.png) must not overwrite each other's PNG.
        unique, n = name, 1
        while unique in used:
            n += 1
            unique = f"{name}-{n}"
        used.add(unique)
        path = explanation.save(out / f"{unique}.png")
        top = explanation.predictions[0]
        print(f"{image}: {top.label or top.index} ({top.probability:.1%}) -> {path}")
    return 0


def _cmd_distill(args: argparse.Namespace) -> int:
    splits = load_splits(args.data, args.data_dir, val_size=args.val_size)
    teacher = _load_named_model(args.teacher, "--teacher")
    if getattr(teacher, "pretrained_cfg", None) is None or teacher.pretrained_cfg.source is None:
        raise ValueError(
            f"--teacher {args.teacher!r} has random weights; name trained ones: NAME.TAG (see "
            "'resnetzoo list --pretrained'), a run or saved folder, or hf-hub:org/name"
        )
    seed_everything(TrainConfig.seed if args.seed is None else args.seed)  # the student's random weights too
    student = _load_named_model(args.student, "--student", num_classes=splits.train.num_classes)
    mean, std = _normalisation(teacher, splits.mean, splits.std)  # both networks see the teacher's
    config = TrainConfig(
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        device=args.device,
        out_dir=args.out,
        progress=not args.no_progress,
        **_seed_and_limits(args),
    )
    _describe_splits("distilling", f"{args.teacher} into {args.student}", splits)
    quiet, train, val = _train_val_loaders(student, config, splits, mean, std)
    with _owned(args.out), logging_redirect_tqdm():
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


def _load_named_model(source: str, flag: str, **kwargs: Any) -> nn.Module:
    """A registered ``NAME[.TAG]`` built with ``kwargs`` (a head for the data); else what the source holds."""
    found = resolve_source(source, what=flag)
    if found.kind == "registered":
        return create_model(source, **kwargs)
    return load_model(found)


def _format_predictions(images: Sequence[str], results: Sequence[Sequence[Prediction]]) -> str:
    """One block per image: its name, then one line per class: probability, index, name."""
    index_width = max((len(str(p.index)) for preds in results for p in preds), default=1)
    lines = []
    for image, preds in zip(images, results, strict=True):
        lines.append(image)
        for p in preds:
            lines.append(f"  {p.probability:>7.2%}  {p.index:>{index_width}}  {p.label or ''}".rstrip())
    return "\n".join(lines)


def _cmd_predict(args: argparse.Namespace) -> int:
    model = _load_model_for_cli(args)
    results = predict(model, args.images, topk=args.topk, device=args.device, batch_size=args.batch_size)
    if args.json:
        records = [
            {"image": image, "predictions": [dataclasses.asdict(p) for p in preds]}
            for image, preds in zip(args.images, results, strict=True)
        ]
        print(json.dumps(records, indent=2))
    else:
        print(_format_predictions(args.images, results))
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    model = create_model(args.model, num_classes=args.num_classes)
    report = load_checkpoint(model, args.src, layout=args.layout)
    dropped = adopt_folder_record(model, args.out_dir, force=args.force)
    out = save_pretrained(model, args.out_dir, mean=args.mean, std=args.std, dataset=args.dataset)
    print(f"{report.describe()}\nwrote {out}")
    if dropped:
        print(f"dropped what described the folder's previous weights: {', '.join(dropped)}")
    return 0


def _cmd_push(args: argparse.Namespace) -> int:
    model = from_pretrained(args.run_dir)
    info = push_to_hub(
        model,
        args.repo_id,
        private=args.private,
        revision=args.revision,
        commit_message=args.message,
        dataset=args.dataset,
    )
    print(f"pushed {model.model_name} to {args.repo_id}: revision {info.oid}\n{info.commit_url}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``resnetzoo`` command (also used to document the CLI)."""
    parser = argparse.ArgumentParser(
        prog="resnetzoo", description="ResNets for 32x32 images: models, training, fine-tuning, weights."
    )
    parser.add_argument("--version", action="version", version=f"resnetzoo {__version__}")
    parser.add_argument("-v", "--log-level", default="INFO", help="logging level (default: INFO)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "list", help="list the registered models, or with --pretrained the weights that load by name"
    )
    p.add_argument("pattern", nargs="?", default=None, help="fnmatch filter, e.g. 'resnet1*'")
    p.add_argument("--verbose", action="store_true", help="also print parameters and FLOPs per image")
    p.add_argument(
        "--pretrained",
        action="store_true",
        help="list the weights that load by name: source, license, reported and measured top-1, file size",
    )
    p.set_defaults(func=_cmd_list)

    recipes = "; ".join(f"{name}: {describe_recipe(name).summary}" for name in list_recipes())
    p = sub.add_parser(
        "train",
        help="train a model, select it on a validation split, then test it once",
        description="Train on a training split, keep the epoch with the best validation top-1, then "
        "evaluate it once on the test split. Given neither --data nor --data-dir, it trains on CIFAR-10 "
        "in data/, or on the bundled 5,000-image sample when there is none there. Every training setting "
        "starts from the recipe's (--recipe), then a config file's (--config), then the options below. "
        f"Recipes: {recipes}. The run folder (--out) then holds train_config.json, checkpoints/, "
        "metrics.csv, best/ (the selected model with its classes, normalisation and scores: what "
        "--weights, from_pretrained and push read) and test_metrics.json.",
    )
    _add_data_arguments(p, device=False)
    p.add_argument("--model", default="resnet20_cifar", help="registered model (default: resnet20_cifar)")
    p.add_argument("--recipe", choices=list_recipes(), help="training recipe to start from (default: fast)")
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
    _add_config_arguments(p)
    p.set_defaults(func=_cmd_train)

    # The model every model-taking command starts from (see _load_model_for_cli).
    model_args = argparse.ArgumentParser(add_help=False)
    model_args.add_argument(
        "--weights",
        metavar="SRC",
        help="a run folder, a saved model's folder, weights by name (resnet56_cifar.cifar10), "
        "hf-hub:org/name or org/name",
    )
    model_args.add_argument(
        "--checkpoint",
        metavar="PATH",
        help="a run's training checkpoint, or with --model a state-dict file in any layout (.safetensors, "
        ".pt, .th, ...)",
    )
    model_args.add_argument(
        "--model",
        metavar="NAME",
        help="registered architecture, e.g. resnet20_cifar, or NAME.TAG for weights",
    )

    p = sub.add_parser(
        "eval",
        parents=[model_args],
        help="evaluate a run, a saved model or weights by name on a data split",
        description="Evaluate a model on a data split. Images are normalised as the weights were trained "
        "when they record it, else with the data's statistics.",
    )
    _add_data_arguments(p)
    p.add_argument("--split", default="test", choices=("test", "val", "train"), help="split (default: test)")
    p.add_argument("--batch-size", type=int, default=500, help="images per batch (default: 500)")
    p.add_argument("--tta", action="store_true", help="also report flip-TTA top-1")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("export", parents=[model_args], help="export a model to ONNX or TorchScript")
    p.add_argument("--format", choices=FORMATS, default="onnx", help="file format (default: onnx)")
    p.add_argument("--output", required=True, metavar="PATH", help="file to write")
    p.add_argument(
        "--opset",
        type=int,
        default=None,
        help="ONNX opset, 7 or later (default: PyTorch's recommended; below 18 PyTorch's older exporter "
        "writes it)",
    )
    p.add_argument("--static-batch", action="store_true", help="fix the ONNX batch size to 1")
    p.add_argument("--no-check", action="store_true", help="skip comparing the exported model with PyTorch")
    p.add_argument(
        "--quantize",
        choices=["int8"],
        help="write a static int8 ONNX model for CPU inference (ONNX Runtime), top-1 checked against fp32",
    )
    p.add_argument(
        "--calibration-data",
        metavar="DATA",
        help="with --quantize: cifar10, sample or an image folder DIR; calibrates on its training images and "
        "checks top-1 on its test split (else a validation hold-out)",
    )
    p.add_argument("--data-dir", default="data", help="where cifar10 files are (default: data)")
    p.add_argument(
        "--calibration-images", type=int, default=1024, help="images to calibrate on (default: 1024)"
    )
    p.add_argument(
        "--max-top1-drop",
        type=float,
        default=DEFAULT_MAX_TOP1_DROP,
        help="top-1 points int8 may lose against fp32, else no file is written "
        f"(default: {DEFAULT_MAX_TOP1_DROP:g})",
    )
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser(
        "explain",
        parents=[model_args],
        help="write one PNG per image: the image, a heatmap of what drove the prediction, the top-3 classes",
        description="Explain predictions with Grad-CAM (the last stage's feature map) or Integrated "
        "Gradients (pixels); needs pip install 'resnetzoo[explain]'.",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (any size; PNG, JPEG, ...)")
    p.add_argument(
        "--out", required=True, metavar="DIR", help="folder for the PNGs (one per image, named after it)"
    )
    p.add_argument(
        "--method", choices=METHODS, default="gradcam", help="attribution method (default: gradcam)"
    )
    p.add_argument(
        "--target", type=int, default=None, help="class index to explain (default: the predicted one)"
    )
    p.add_argument("--device", default=None, help="e.g. cpu, cuda (default: cpu)")
    p.set_defaults(func=_cmd_explain)

    p = sub.add_parser("predict", parents=[model_args], help="print the top-k classes of image files")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (any size; PNG, JPEG, ...)")
    p.add_argument("--topk", type=int, default=5, help="classes per image (default: 5)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--device", default=None, help="e.g. cpu, cuda (default: cpu)")
    p.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default: 256)")
    p.set_defaults(func=_cmd_predict)

    defaults = inspect.signature(fine_tune).parameters  # one set of defaults for the API and the CLI
    p = sub.add_parser(
        "fine-tune",
        parents=[model_args],
        help="fine-tune a model on new data: the new head first, then everything with per-stage lrs",
        description="Replace the head to fit the data's classes, train it on the frozen backbone, then "
        "train the whole network with smaller learning rates for earlier stages (resnetzoo.fine_tune). "
        "Selects on a validation hold-out, tests once if the data has a test split, and writes the run "
        "folder OUT: OUT/best/ is the fine-tuned model with its classes, normalisation and scores (what "
        "--weights, from_pretrained and push read).",
    )
    _add_data_arguments(p)
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
    p.add_argument("--seed", type=int, help="seed (default 0)")
    p.add_argument("--out", default="runs/fine-tune", help="output folder (default: runs/fine-tune)")
    p.add_argument("--resume", choices=["auto"], help="'auto': continue the run in --out")
    p.add_argument("--limit-batches", type=int, help="at most this many batches per epoch and evaluation")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_fine_tune)

    defaults = inspect.signature(distill).parameters
    p = sub.add_parser(
        "distill",
        help="train a small student on a trained teacher's soft targets (knowledge distillation)",
        description="Train --student on the labels and on --teacher's temperature-softened probabilities "
        "(Hinton et al. 2015; resnetzoo.distill), with the teacher's normalisation. Selects on a validation "
        "hold-out, tests once, and writes the run folder OUT (its model: --weights OUT).",
    )
    _add_data_arguments(p)
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
    p.add_argument("--seed", type=int, help="seed (default 0)")
    p.add_argument("--out", default="runs/distill", help="output folder (default: runs/distill)")
    p.add_argument("--resume", help="'auto' (newest checkpoint in --out) or a checkpoint path")
    p.add_argument("--limit-batches", type=int, help="at most this many batches per epoch and evaluation")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_distill)

    p = sub.add_parser(
        "convert",
        help="convert a torchvision/timm, kuangliu or akamaster checkpoint into a resnetzoo repo folder",
    )
    p.add_argument("src", help="checkpoint file, or hf-hub:org/name[/filename]")
    p.add_argument("out_dir", help="folder to write (model.safetensors, config.json, README.md)")
    p.add_argument("--model", required=True, help="registered architecture, e.g. resnet20_cifar")
    p.add_argument("--num-classes", type=int, default=None, help="head size of the checkpoint (default: 10)")
    p.add_argument(
        "--layout",
        choices=get_args(Layout),
        default="auto",
        help="key layout of the checkpoint (default: detect it)",
    )
    p.add_argument("--dataset", default=None, help="training data set, e.g. cifar10 (fills the class names)")
    p.add_argument(
        "--mean", type=float, nargs=3, default=None, help="per-channel input mean used in training"
    )
    p.add_argument("--std", type=float, nargs=3, default=None, help="per-channel input std used in training")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the weights of a saved model in OUT_DIR, keeping its class names, mean and std "
        "(and, for the same weights, its metrics) unless given anew",
    )
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser(
        "push", help="upload a saved model or a training run's best model to the Hugging Face Hub"
    )
    p.add_argument(
        "run_dir", metavar="SRC", help="a run folder (its best/), a saved model's folder, or weights by name"
    )
    p.add_argument(
        "--repo-id", required=True, help="Hub repo, org/name (token from HF_TOKEN or `hf auth login`)"
    )
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument("--revision", default=None, help="branch to commit to (default: main)")
    p.add_argument("--message", default="Upload resnetzoo model", help="commit message")
    p.add_argument(
        "--dataset",
        default=None,
        help="the training data set, for the model card, when the saved model does not record it "
        "(cifar10, cifar100, or a name)",
    )
    p.set_defaults(func=_cmd_push)
    return parser


def _add_data_arguments(p: argparse.ArgumentParser, *, device: bool = True) -> None:
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


# The TrainConfig fields that take one of a few names, and the augmentation policy.
_CHOICES = {
    "optimizer": OPTIMIZERS,
    "schedule": SCHEDULES,
    "amp": AMP_MODES,
    "compile_mode": COMPILE_MODES,
    "loggers": LOGGERS,
    "policy": POLICIES,
}
# Fields train sets with options of its own: the recipe is --recipe, out_dir is --out, and augment is one
# option per AugmentConfig field.
_NOT_OPTIONS = ("recipe", "out_dir", "augment")
_AUGMENT = "augment."  # the prefix of the augmentation options' destinations
_PARSERS: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "str": str}
_OPTION_DESTS = {
    *(spec.name for spec in dataclasses.fields(TrainConfig) if spec.name not in _NOT_OPTIONS),
    *(_AUGMENT + spec.name for spec in dataclasses.fields(AugmentConfig)),
}


def _optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse``, and ``none`` for None."""

    def parse_or_none(text: str) -> Any:
        return None if text.lower() == "none" else parse(text)

    parse_or_none.__name__ = parse.__name__  # argparse names the type in its error messages
    return parse_or_none


def _add_config_arguments(p: argparse.ArgumentParser) -> None:
    """One option per TrainConfig field (and per AugmentConfig field), generated from the dataclasses: the
    help is the comment written beside the field, so an option and its field never disagree."""
    group = p.add_argument_group(
        "training settings", "TrainConfig's fields (default: the recipe's, then --config's); none for None"
    )
    for cls, prefix in ((TrainConfig, ""), (AugmentConfig, _AUGMENT)):
        docs = {
            doc.name: doc.doc.replace("%", "%%") for doc in dataclass_fields(cls)
        }  # argparse formats help
        for spec in dataclasses.fields(cls):
            if prefix + spec.name not in _OPTION_DESTS:
                continue
            kinds = [kind.strip() for kind in str(spec.type).split("|")]
            kind, optional = kinds[0], "None" in kinds
            options: dict[str, Any] = {"dest": prefix + spec.name, "default": None, "help": docs[spec.name]}
            if kind != "bool":
                options["metavar"] = spec.name.upper()
            if kind == "bool":
                options["action"] = argparse.BooleanOptionalAction
            elif kind.startswith("tuple["):
                options["type"] = _PARSERS[kind.removeprefix("tuple[").split(",")[0].strip(" ]")]
                options["nargs"] = "*" if spec.name == "loggers" else "+"
            else:
                options["type"] = _optional(_PARSERS[kind]) if optional else _PARSERS[kind]
            if spec.name in _CHOICES:
                names = [*_CHOICES[spec.name], *(["none"] if optional else [])]
                options["choices"] = (*_CHOICES[spec.name], *((None,) if optional else ()))
                options["metavar"] = "{" + ",".join(names) + "}"
            group.add_argument("--" + spec.name.replace("_", "-"), **options)


def _read_config_file(path: str) -> dict[str, Any]:
    """TrainConfig fields from a TOML file, or a run's ``train_config.json``.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it cannot be parsed or names fields TrainConfig does not have.
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        values = json.loads(text) if path.endswith(".json") else tomllib.loads(text)
    except ValueError as err:  # json.JSONDecodeError and tomllib.TOMLDecodeError are ValueErrors
        raise ValueError(f"cannot read the config file {path}: {err}") from None
    if not isinstance(values, dict):
        what = type(values).__name__
        raise ValueError(f"the config file {path} holds a {what}, not a table of TrainConfig fields")
    names = {spec.name for spec in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"the config file {path} has fields TrainConfig does not have: {unknown}")

    # TOML has no null: the string "none" stands for None, as on the command line.
    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return None if isinstance(v, str) and v.lower() == "none" else v

    return plain(values)


def _train_config(args: argparse.Namespace) -> TrainConfig:
    """The settings of a run: the recipe's, then the config file's, then the options'."""
    values = _read_config_file(args.config) if args.config else {}
    from_file = values.pop("recipe", None)
    recipe = args.recipe or from_file or (None if args.config else "fast")
    # An [augment] table changes the recipe's augmentation field by field, as the options do.
    augment = values.pop("augment", None) or {}
    if not isinstance(augment, dict):
        raise ArgumentTypeError(f"the config file {args.config}: augment must be a table; got {augment!r}")
    if args.limit_batches is not None:
        values.update(limit_train_batches=args.limit_batches, limit_eval_batches=args.limit_batches)
    given = {key: value for key, value in vars(args).items() if key in _OPTION_DESTS and value is not None}
    augment |= {key.removeprefix(_AUGMENT): value for key, value in given.items() if key.startswith(_AUGMENT)}
    values.update({key: value for key, value in given.items() if not key.startswith(_AUGMENT)})
    if args.out is not None:
        values["out_dir"] = args.out
    config = get_recipe(recipe, **values) if recipe is not None else TrainConfig.from_dict(values)
    if augment:  # checked as TrainConfig.augment.<field>
        config = dataclasses.replace(config, augment={**dataclasses.asdict(config.augment), **augment})
    if config.out_dir is None:
        config = dataclasses.replace(config, out_dir="runs/train")
    return config


def _toml(config: TrainConfig) -> str:
    """``config`` as TOML that ``--config`` reads back to the same settings."""

    def value(v: Any) -> str:
        if v is None:
            return '"none"'
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, (tuple, list)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v)  # a TOML basic string is JSON's string syntax

    lines = [f"# resnetzoo {__version__}: resnetzoo train --config FILE reads this back"]
    lines += [
        f"{spec.name} = {value(getattr(config, spec.name))}"
        for spec in dataclasses.fields(config)
        if spec.name != "augment"
    ]
    lines.append("\n[augment]")
    lines += [
        f"{spec.name} = {value(getattr(config.augment, spec.name))}"
        for spec in dataclasses.fields(AugmentConfig)
    ]
    return "\n".join(lines)


def _print_metrics(title: str, metrics: dict[str, float]) -> None:
    """The one line of an evaluation's result, in percent (the API's metrics are fractions)."""
    parts = [f"top-1 {metrics['top1']:.2%}"]
    if "top1_tta" in metrics:
        parts.append(f"flip-TTA top-1 {metrics['top1_tta']:.2%}")
    parts += [f"top-5 {metrics['top5']:.2%}", f"loss {metrics['loss']:.4f}"]
    print(f"{title}: " + ", ".join(parts))


def _describe_splits(verb: str, model: str, splits: Any) -> None:
    logger.info(
        "%s %s on %s: %d train, %d val, %d test images",
        verb,
        model,
        splits.description,
        len(splits.train),
        len(splits.val) if splits.val is not None else 0,
        len(splits.test) if splits.test is not None else 0,
    )


def _cmd_train(args: argparse.Namespace) -> int:
    config = _train_config(args)
    if args.print_config:
        print(_toml(config))
        return 0
    args.out = config.out_dir  # what an interrupted run's message tells to resume
    splits = load_splits(args.data, args.data_dir, val_size=args.val_size)
    recipe = f" with recipe {config.recipe!r}" if config.recipe else ""
    _describe_splits("training", f"{args.model}{recipe}", splits)
    if config.seed is not None:
        seed_everything(config.seed)  # the random initial weights too: fit seeds only what comes after
    model = create_model(args.model, num_classes=splits.train.num_classes)
    trainer = Trainer(model, config)
    train = trainer.make_loader(splits.train, train=True, mean=splits.mean, std=splits.std)
    val = (
        trainer.make_loader(splits.val, train=False, mean=splits.mean, std=splits.std) if splits.val else None
    )
    # Log lines go above the progress bar instead of through it.
    with _owned(config.out_dir), logging_redirect_tqdm():
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
        _print_metrics(f"test ({len(test_set):,} images)", metrics)
    print(f"the run is in {out}; its model is {Path(out) / BEST_DIR} (--weights {out})")


def _owned(out: str) -> contextlib.AbstractContextManager[Any]:
    """A run owns its folder (--out) for the whole command: training, the test and best/."""
    return (
        run_folder_lock(out, what="--out") if DistributedEnv.from_env().is_main else contextlib.nullcontext()
    )


def _cmd_fine_tune(args: argparse.Namespace) -> int:
    splits = load_splits(args.data, args.data_dir, val_size=args.val_size)
    seed_everything(TrainConfig.seed if args.seed is None else args.seed)  # a model with random weights too
    model = _load_model_for_cli(args)
    # The pretrained features expect the input distribution they were trained on.
    mean, std = _normalisation(model, splits.mean, splits.std)
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
    _describe_splits("fine-tuning", getattr(model, "model_name", type(model).__name__), splits)
    cfg = getattr(model, "pretrained_cfg", None)
    categories = cfg.categories if cfg is not None else None
    if categories is not None and list(categories) == list(splits.train.classes):
        logger.info("the model was trained on the same classes as the data's: its head is kept")
        num_classes = None
    else:
        num_classes = splits.train.num_classes
    quiet, train, val = _train_val_loaders(model, config, splits, mean, std)
    with _owned(args.out), logging_redirect_tqdm():
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


def _cmd_eval(args: argparse.Namespace) -> int:
    model = _load_model_for_cli(args)
    splits = load_splits(args.data, args.data_dir, val_size=args.val_size)
    mean, std = _normalisation(model, splits.mean, splits.std)
    dataset = {"train": splits.train, "val": splits.val, "test": splits.test}[args.split]
    if dataset is None:
        raise ValueError(f"the data has no {args.split} split")
    config = TrainConfig(batch_size=args.batch_size, device=args.device, tta=args.tta, progress=False)
    trainer = Trainer(model, config)
    metrics = trainer.test(trainer.make_loader(dataset, train=False, mean=mean, std=std))
    _print_metrics(f"{args.split} ({len(dataset):,} images)", metrics)
    return 0


def _normalisation(model: nn.Module, data_mean: Any, data_std: Any) -> tuple[Any, Any]:
    """The mean/std to feed ``model`` with: those its weights were trained with, else the data's own."""
    cfg = getattr(model, "pretrained_cfg", None)
    if cfg is not None and cfg.mean is not None and cfg.std is not None:
        logger.info(
            "normalising with the mean %s and std %s that the weights were trained with", cfg.mean, cfg.std
        )
        return cfg.mean, cfg.std
    return data_mean, data_std


def _log_level(requested: str) -> str:
    """``requested`` on rank 0; under torchrun the other processes log errors only, so that each message
    appears once rather than once per process.

    Raises:
        ValueError: If torchrun's variables are set but invalid (:meth:`DistributedEnv.from_env`).
    """
    return requested.upper() if DistributedEnv.from_env().is_main else "ERROR"


def _options(parser: argparse.ArgumentParser, command: str) -> set[str]:
    """The option strings of one command, e.g. ``{"--out", "--epochs", ...}`` for ``train``."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    return {option for action in commands[command]._actions for option in action.option_strings}


def _in_cli_words(message: str, options: set[str]) -> str:
    """A library message with its hints in the words of the command line.

    ``resume='auto'`` becomes ``--resume auto``, ``TrainConfig.lr`` (or ``TrainConfig.out_dir``,
    ``out_dir``, or a parameter a message starts with, ``lr_mult must be ...``) the option that sets it
    (``--lr``, ``--out``, ``--lr-mult``), where the command has that option.
    """
    if "--resume" in options:
        message = message.replace("resume='auto'", "--resume auto")

    def option(match: re.Match[str]) -> str:
        name = match.group(1)
        flag = {
            "out_dir": "--out",
            "limit_train_batches": "--limit-batches",
            "limit_eval_batches": "--limit-batches",
        }.get(name, "--" + name.replace("_", "-"))
        return flag if flag in options else match.group(0)

    message = re.sub(r"\bTrainConfig\.(\w+)", option, message)
    message = re.sub(r"\b(out_dir)\b", option, message)
    # An argument check's "batch_size must be ..." is about the option --batch-size, where there is one.
    return re.sub(r"^(\w+)(?= must be |=)", option, message)


def _describe_os_error(err: OSError) -> str:
    """An OSError as one line that names the file and the error code (``ENOSPC``, ``EACCES``, ...)."""
    code = errno.errorcode.get(err.errno, "") if err.errno is not None else ""
    text = str(err)
    if err.filename is not None and err.strerror:  # "[Errno 28] No space left on device: 'x'"
        text = f"{err.filename}: {err.strerror}"
    elif err.errno is not None and err.strerror:  # OSError(errno, message) without a file name
        text = err.strerror
    return f"{text} ({code})" if code and code not in text else text


def _interrupted(args: argparse.Namespace, argv: Sequence[str]) -> str:
    """What to do after Ctrl-C: for a run, the same command with --resume auto."""
    if args.command not in ("train", "fine-tune"):
        return f"resnetzoo {args.command}: interrupted"
    again = list(argv)
    if "--resume" not in again:
        again += ["--resume", "auto"]
    return (
        f"resnetzoo {args.command}: interrupted; what was checkpointed is in {args.out}: continue with "
        f"resnetzoo {shlex.join(again)}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code.

    A user's error (a bad argument, a missing or damaged file, a folder that cannot be written, a full
    disk, a device that is not there) is printed as one line, with exit code 2; Ctrl-C as one line that
    says how to continue, with exit code 130; a closed output pipe ends it quietly with exit code 141.
    Tracebacks are for bugs.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        logging.basicConfig(level=_log_level(args.log_level), format="%(levelname)s %(name)s: %(message)s")
        code = args.func(args)
        sys.stdout.flush()  # so a reader that went away is noticed here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        # `resnetzoo list | head`: the reader has all it wanted. Stop quietly, as Unix tools do (exit
        # status 128 + SIGPIPE), and point stdout at /dev/null so the final flush does not complain.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print(_interrupted(args, argv), file=sys.stderr)
        return 130
    except (ValueError, OSError, ImportError, ResnetzooError) as err:
        # User errors: one clear line, no traceback. OSError: unwritable or read-only folders, a full disk.
        text = (
            _describe_os_error(err)
            if isinstance(err, OSError) and not isinstance(err, ResnetzooError)
            else str(err)
        )
        print(
            f"resnetzoo {args.command}: error: {_in_cli_words(text, _options(parser, args.command))}",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
