"""The ``resnetzoo`` command line: a thin layer over the public API."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args

import torch
from torch import nn
from tqdm.contrib.logging import logging_redirect_tqdm

from . import __version__
from .data import (
    CIFAR10,
    CIFAR10_MEAN,
    CIFAR10_STD,
    CIFAR100,
    CIFAR100_MEAN,
    CIFAR100_STD,
    DeviceLoader,
    TensorImageDataset,
    compute_mean_std,
    image_folder,
    sample_cifar10,
)
from .errors import ResnetzooError
from .explain import METHODS, explain
from .export import FORMATS, export
from .hub import from_pretrained, load_checkpoint, push_to_hub, save_pretrained
from .hub.convert import Layout, read_state_dict
from .hub.serialization import CONFIG_NAME
from .models import count_flops, count_parameters, create_model, get_weights, list_models, list_pretrained
from .models.registry import split_model_name
from .predict import Prediction, predict
from .quantize import DEFAULT_MAX_TOP1_DROP, quantize
from .train import TrainConfig, Trainer, distill, fine_tune, get_recipe, list_recipes, read_checkpoint
from .train.distributed import DistributedEnv

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
            f"{w.reported_top1:.2f}%" if w.reported_top1 is not None else "-",
            f"{w.metrics['top1_jpeg']:.2f}%" if "top1_jpeg" in w.metrics else "-",
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

    ``--weights SRC`` rebuilds a saved model (a ``save_pretrained`` folder, a training run, or
    ``hf-hub:org/name``); ``--model NAME.TAG`` loads published weights; ``--model NAME
    --checkpoint PATH`` loads a state dict in any layout :func:`load_checkpoint` knows, with the
    head and stem sizes read from the checkpoint.

    Raises:
        ValueError: If no model is named or the checkpoint does not fit.
        FileNotFoundError: If a file does not exist.
    """
    if getattr(args, "weights", None) is not None:
        source = args.weights
        if Path(source).is_dir():
            source = _repo_folder(Path(source))
        return from_pretrained(source)
    if args.model is None:
        raise ValueError("name the model with --model NAME[.TAG] or --weights DIR (see 'resnetzoo list')")
    if args.checkpoint is None:
        model = create_model(args.model)
        if split_model_name(args.model)[1] is None:
            logger.warning("no --checkpoint or weights tag given: %s has random weights", args.model)
        return model
    state = read_state_dict(args.checkpoint)
    # The head and stem sizes are in the checkpoint: a CIFAR-100 or grayscale model builds without flags.
    kwargs = {}
    for key, dim, kwarg in (
        ("fc.weight", 0, "num_classes"),
        ("linear.weight", 0, "num_classes"),
        ("conv1.weight", 1, "in_chans"),
    ):
        if key in state:
            kwargs[kwarg] = state[key].shape[dim]
    model = create_model(args.model, **kwargs)
    load_checkpoint(model, state)
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
    print(f"wrote {path} ({args.format}, {path.stat().st_size / 1e6:.1f} MB{checked})")
    return 0


def _export_int8(args: argparse.Namespace, model: nn.Module) -> int:
    """Calibrate on the data's training images, check top-1 on its test split (else its validation split)."""
    data_args = argparse.Namespace(data=args.calibration_data, data_dir=args.data_dir)
    (train_set, val_set, test_set), data_mean_std, description = _load_data(data_args, None, "calibrating")
    mean, std = _normalisation(model, *data_mean_std)
    check_set, check_name = (test_set, "test") if test_set is not None else (val_set, "validation")
    if check_set is None:
        raise ValueError(
            f"{description} has no test or validation split to check the int8 model's accuracy on"
        )
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
    metrics = json.loads(metadata["record"])["metrics"] if "record" in metadata else {}
    accuracy = (
        f", top-1 {metrics['top1']:.2f}% vs {metrics['top1_fp32']:.2f}% in fp32 on "
        f"{len(check_set):,} {check_name} images"
        if metrics
        else ""
    )
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
    teacher = _load_named_model(args.teacher, "--teacher")
    if getattr(teacher, "pretrained_cfg", None) is None or (
        teacher.pretrained_cfg.tag is None and teacher.pretrained_cfg.source is None
    ):
        raise ValueError(
            f"--teacher {args.teacher!r} has random weights; name trained ones: NAME.TAG (see "
            "'resnetzoo list --pretrained'), a save_pretrained folder or hf-hub:org/name"
        )
    (train_set, val_set, test_set), data_mean_std, description = _load_data(args, args.val_size, "distilling")
    student = _load_named_model(args.student, "--student", num_classes=train_set.num_classes)
    mean, std = _normalisation(teacher, *data_mean_std)  # both networks see the teacher's normalisation
    overrides = {
        "seed": args.seed,
        "limit_train_batches": args.limit_batches,
        "limit_eval_batches": args.limit_batches,
    }
    config = TrainConfig(
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        device=args.device,
        out_dir=args.out,
        progress=not args.no_progress,
        **{k: v for k, v in overrides.items() if v is not None},
    )
    logger.info(
        "distilling %s into %s on %s: %d train, %d val, %d test images",
        args.teacher,
        args.student,
        description,
        len(train_set),
        len(val_set) if val_set is not None else 0,
        len(test_set) if test_set is not None else 0,
    )
    loaders = Trainer(student, dataclasses.replace(config, out_dir=None, progress=False))
    train = loaders.make_loader(train_set, train=True, mean=mean, std=std)
    val = loaders.make_loader(val_set, train=False, mean=mean, std=std) if val_set is not None else None
    with logging_redirect_tqdm():
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
    tester = Trainer(student, dataclasses.replace(config, out_dir=None, progress=False))
    metrics = _test_once(tester, test_set, mean, std)
    if not tester.is_main_process:
        return 0
    _write_run_results(Path(args.out), student, train_set, test_set, metrics, mean, std)
    return 0


def _load_named_model(source: str, flag: str, **kwargs: Any) -> nn.Module:
    """A model from NAME[.TAG], a save_pretrained or run folder, or hf-hub:org/name."""
    if source.startswith("hf-hub:"):
        return from_pretrained(source)
    if Path(source).is_dir():
        return from_pretrained(_repo_folder(Path(source)))
    try:
        return create_model(source, **kwargs)
    except ValueError as err:
        raise ValueError(f"{flag} {source!r}: {err}") from None


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
    out = save_pretrained(model, args.out_dir, mean=args.mean, std=args.std, dataset=args.dataset)
    print(f"{report.describe()}\nwrote {out}")
    return 0


def _repo_folder(run_dir: Path) -> Path:
    """The save_pretrained folder of a run: RUN_DIR itself, or RUN_DIR/best written by the trainer."""
    # best/ first: a run folder's own config.json is its TrainConfig, not a model's.
    for folder in (run_dir / "best", run_dir):
        if (folder / CONFIG_NAME).is_file():
            return folder
    raise FileNotFoundError(
        f"{run_dir} has no {CONFIG_NAME} (nor {run_dir / 'best' / CONFIG_NAME}): "
        "pass a folder written by resnetzoo.save_pretrained or a training run"
    )


def _cmd_push(args: argparse.Namespace) -> int:
    model = from_pretrained(_repo_folder(Path(args.run_dir)))
    info = push_to_hub(
        model, args.repo_id, private=args.private, revision=args.revision, commit_message=args.message
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

    p = sub.add_parser(
        "eval",
        help="evaluate a checkpoint, saved model or pretrained weights on a data split",
        description="Evaluate a training checkpoint (--checkpoint best.pt), a saved model (--weights) or "
        "weights by name (--model resnet56_cifar.cifar10). Images are normalised as the weights were "
        "trained when they record it, else with the data's statistics.",
    )
    _add_data_arguments(p)
    p.add_argument("--checkpoint", help="best.pt or a training checkpoint")
    p.add_argument(
        "--model",
        help="registered model: with a weights tag, those weights; with --checkpoint, its architecture",
    )
    p.add_argument(
        "--weights", metavar="SRC", help="saved model: save_pretrained folder, run folder or hf-hub:org/name"
    )
    p.add_argument("--split", default="test", choices=("test", "val", "train"), help="split (default: test)")
    p.add_argument("--batch-size", type=int, default=500, help="images per batch (default: 500)")
    p.add_argument("--tta", action="store_true", help="also report flip-TTA top-1")
    p.set_defaults(func=_cmd_eval)

    # The model every model-taking command starts from (see _load_model_for_cli).
    model_args = argparse.ArgumentParser(add_help=False)
    model_args.add_argument("--model", metavar="NAME", help="registered architecture, e.g. resnet20_cifar")
    model_args.add_argument(
        "--checkpoint", metavar="PATH", help="state-dict file to load (.safetensors, or a torch file)"
    )
    model_args.add_argument(
        "--weights", metavar="SRC", help="saved model: save_pretrained folder, run folder or hf-hub:org/name"
    )

    p = sub.add_parser("export", parents=[model_args], help="export a model to ONNX or TorchScript")
    p.add_argument("--format", choices=FORMATS, default="onnx", help="file format (default: onnx)")
    p.add_argument("--output", required=True, metavar="PATH", help="file to write")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default: PyTorch's recommended)")
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
        "Selects on a validation hold-out, tests once if the data has a test split, and writes OUT/best.pt "
        "(for 'resnetzoo eval') and OUT/best/ (a save_pretrained folder for --weights).",
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
        "hold-out, tests once, and writes OUT/best.pt and OUT/best/ (a save_pretrained folder for "
        "--weights).",
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
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser(
        "push", help="upload a saved model or a training run's best model to the Hugging Face Hub"
    )
    p.add_argument("run_dir", help="a folder written by save_pretrained, or a run folder with best/ inside")
    p.add_argument(
        "--repo-id", required=True, help="Hub repo, org/name (token from HF_TOKEN or `hf auth login`)"
    )
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument("--revision", default=None, help="branch to commit to (default: main)")
    p.add_argument("--message", default="Upload resnetzoo model", help="commit message")
    p.set_defaults(func=_cmd_push)
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
    metrics = _test_once(trainer, test_set, mean, std)  # every process takes its share of the test set
    if not trainer.is_main_process:
        return 0
    if trainer.best_epoch is not None:
        print(f"selected epoch {trainer.best_epoch + 1}: val top-1 {100 * trainer.best_metric:.2f}%")
    _write_run_results(Path(args.out), model, train_set, test_set, metrics, mean, std, recipe=args.recipe)
    return 0


def _test_once(
    trainer: Trainer, test_set: TensorImageDataset | None, mean: Any, std: Any
) -> dict[str, float] | None:
    """The one look at the test split, after model selection; None if the data has no test split."""
    if test_set is None:
        logger.warning("the data has no test split: nothing to test")
        return None
    return trainer.test(trainer.make_loader(test_set, train=False, mean=mean, std=std))


def _write_run_results(
    out: Path,
    model: nn.Module,
    train_set: TensorImageDataset,
    test_set: TensorImageDataset | None,
    metrics: dict[str, float] | None,
    mean: Any,
    std: Any,
    recipe: str | None = None,
) -> None:
    """Print and save the test metrics, and the selected model as a Hub repo folder (``OUT/best/``)."""
    if metrics is not None and test_set is not None:
        _print_metrics(f"test ({len(test_set):,} images)", metrics)
        (out / "test_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    # What --weights, from_pretrained and push read.
    folder = save_pretrained(
        model,
        out / "best",
        metrics={"top1": 100 * metrics["top1"]} if metrics is not None else {},
        recipe=recipe,
        categories=train_set.classes,
        mean=mean,
        std=std,
    )
    print(f"wrote {out / 'best.pt'} (for resnetzoo eval) and {folder} (for --weights and push)")


def _cmd_fine_tune(args: argparse.Namespace) -> int:
    (train_set, val_set, test_set), data_mean_std, description = _load_data(
        args, args.val_size, "fine-tuning"
    )
    model = _load_model_for_cli(args)
    # The pretrained features expect the input distribution they were trained on.
    mean, std = _normalisation(model, *data_mean_std)
    batch_size = args.batch_size
    if batch_size is None:
        # Fine-tuning data sets are often small: one batch of all the images rather than no batch at all.
        batch_size = min(TrainConfig.batch_size, len(train_set))
    overrides = {
        "seed": args.seed,
        "limit_train_batches": args.limit_batches,
        "limit_eval_batches": args.limit_batches,
    }
    config = TrainConfig(
        batch_size=batch_size,
        device=args.device,
        out_dir=args.out,
        progress=not args.no_progress,
        **{k: v for k, v in overrides.items() if v is not None},
    )
    logger.info(
        "fine-tuning %s on %s: %d train, %d val, %d test images, %d classes",
        getattr(model, "model_name", type(model).__name__),
        description,
        len(train_set),
        len(val_set) if val_set is not None else 0,
        len(test_set) if test_set is not None else 0,
        train_set.num_classes,
    )
    cfg = getattr(model, "pretrained_cfg", None)
    categories = cfg.categories if cfg is not None else None
    if categories is not None and list(categories) == list(train_set.classes):
        logger.info("the model was trained on the same classes as the data's: its head is kept")
        num_classes = None
    else:
        num_classes = train_set.num_classes
    # The Trainer is the one place that builds loaders from a config (device, dtype, augmentation).
    quiet = dataclasses.replace(config, out_dir=None, progress=False)
    loaders = Trainer(model, quiet)
    train = loaders.make_loader(train_set, train=True, mean=mean, std=std)
    val = loaders.make_loader(val_set, train=False, mean=mean, std=std) if val_set is not None else None
    with logging_redirect_tqdm():
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
    tester = Trainer(model, quiet)
    metrics = _test_once(tester, test_set, mean, std)
    if not tester.is_main_process:
        return 0
    out = Path(args.out)
    selected = read_checkpoint(out / "best.pt", kind="best")  # what fine_tune returned, and from when
    if "val_top1" in selected["metrics"]:
        print(
            f"selected phase {selected['phase']}, epoch {selected['epoch']}: "
            f"val top-1 {100 * selected['metrics']['val_top1']:.2f}%"
        )
    _write_run_results(out, model, train_set, test_set, metrics, mean, std)
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    if args.checkpoint is not None and args.weights is None:
        checkpoint = read_checkpoint(args.checkpoint)
        name = args.model or checkpoint.get("model_name")
        if name is None:
            raise ValueError(f"{args.checkpoint} does not record its model; pass --model")
        model = create_model(name, **checkpoint.get("model_kwargs", {}))
        model.load_state_dict(checkpoint["model"])
    else:
        model = _load_model_for_cli(args)
    (train_set, val_set, test_set), data_mean_std, _ = _load_data(args, args.val_size, "evaluating")
    mean, std = _normalisation(model, *data_mean_std)
    dataset = {"train": train_set, "val": val_set, "test": test_set}[args.split]
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        logging.basicConfig(level=_log_level(args.log_level), format="%(levelname)s %(name)s: %(message)s")
        return args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError, ImportError, ResnetzooError) as err:
        # User errors: one clear line, no traceback.
        print(f"resnetzoo {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
