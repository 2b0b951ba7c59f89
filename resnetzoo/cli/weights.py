"""``resnetzoo list | export | convert | push``: the models and weights, and moving them in and out."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import get_args

import torch
from torch import nn

from .._record import record_from_metadata
from ..compress.quantize import DEFAULT_MAX_TOP1_DROP, MIN_CHECK_IMAGES, quantize
from ..errors import ArgumentError
from ..export import FORMATS, ExportCheckError, export, onnx_opset
from ..hub import load_checkpoint, push_to_hub, save_pretrained
from ..hub.convert import Layout
from ..hub.save import adopt_folder_record
from ..models import count_flops, count_parameters, create_model, get_weights, list_models, list_pretrained
from ._common import add_model_arguments, load_model, normalisation

__all__ = ["COMMANDS"]


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


def _cmd_export(args: argparse.Namespace) -> int:
    if args.quantize is not None and args.format != "onnx":
        raise ValueError("--quantize int8 writes an ONNX file; drop --format torchscript")
    if args.quantize is not None and args.calibration_data is None:
        raise ValueError(
            "--quantize int8 needs --calibration-data: images to fix the activation ranges on "
            "(cifar10, sample, or an image folder DIR)"
        )
    model = load_model(args)
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
    from ..data import DeviceLoader, load_splits

    splits = load_splits(args.calibration_data, args.data_dir)
    mean, std = normalisation(model, splits.mean, splits.std)
    check_set, check_name = (splits.test, "test") if splits.test is not None else (splits.val, "validation")
    if check_set is None:
        raise ValueError(
            f"{splits.description} has no test or validation split to check the int8 model's accuracy on"
        )
    train_set = splits.train
    # Shuffled, not augmented: the calibration images are a sample of every class, as the model sees them.
    calibration = DeviceLoader(train_set, 256, train=True, augment=None, mean=mean, std=std)
    check = DeviceLoader(check_set, 500, train=False, mean=mean, std=std)
    try:
        path = quantize(
            model,
            calibration,
            args.output,
            calibration_images=args.calibration_images,
            check_loader=check,
            max_top1_drop=args.max_top1_drop,
        )
    except ExportCheckError as err:  # in the command line's words
        message = str(err).replace("max_top1_drop=None", "--max-top1-drop none")
        raise ExportCheckError(message.replace("max_top1_drop=", "--max-top1-drop ")) from None
    import onnx  # present: quantize needed it

    metadata = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    record = record_from_metadata(metadata, source=str(path))
    accuracy = ""
    if record is not None and "top1" in record.metrics and "top1_fp32" in record.metrics:
        # Percent for a person; the record holds fractions and the split and images they were measured on.
        top1, fp32 = record.metrics.metric("top1"), record.metrics.metric("top1_fp32")
        where = {"check": check_name, "calibration": "calibration (training)"}.get(top1.split, top1.split)
        accuracy = f", top-1 {top1.percent:.2f}% vs {fp32.percent:.2f}% in fp32 on {top1.num_images:,}"
        accuracy += f" {where} images"
    if args.max_top1_drop is None:
        accuracy += ", not checked: --max-top1-drop none"
    print(f"wrote {path} (int8 ONNX, {path.stat().st_size / 1e6:.1f} MB{accuracy})")
    return 0


def _top1_points(text: str) -> float | None:
    """``--max-top1-drop``: top-1 points, or ``none`` to write the int8 file without the accuracy check."""
    if text.strip().lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of top-1 points or 'none', got {text!r}"
        ) from None


def _cmd_convert(args: argparse.Namespace) -> int:
    # Half a normalisation would be saved with the other half of the model's default record; into a
    # saved model's folder (--force) the other half is the one that folder records, and is kept.
    adopting = args.force and (Path(args.out_dir) / "config.json").is_file()
    if (args.mean is None) != (args.std is None) and not adopting:
        given, missing = ("--mean", "--std") if args.std is None else ("--std", "--mean")
        raise ArgumentError(f"{given} is given without {missing}: pass both (one normalisation) or neither")
    model = create_model(args.model, num_classes=args.num_classes)
    report = load_checkpoint(model, args.src, layout=args.layout)
    dropped = adopt_folder_record(model, args.out_dir, force=args.force)
    out = save_pretrained(model, args.out_dir, mean=args.mean, std=args.std, dataset=args.dataset)
    print(f"{report.describe()}\nwrote {out}")
    if dropped:
        print(f"dropped what described the folder's previous weights: {', '.join(dropped)}")
    return 0


def _cmd_push(args: argparse.Namespace) -> int:
    from ..hub import from_pretrained

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


def _list_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("pattern", nargs="?", default=None, help="fnmatch filter, e.g. 'resnet1*'")
    p.add_argument("--verbose", action="store_true", help="also print parameters and FLOPs per image")
    p.add_argument(
        "--pretrained",
        action="store_true",
        help="list the weights that load by name: source, license, reported and measured top-1, file size",
    )
    p.set_defaults(func=_cmd_list)


def _export_parser(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
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
        type=_top1_points,
        default=DEFAULT_MAX_TOP1_DROP,
        metavar="POINTS",
        help="top-1 points int8 may lose against fp32 on the test split, else no file is written; the check "
        f"must be able to show a loss (at least {MIN_CHECK_IMAGES} images, fp32 above chance); 'none' "
        f"writes the file unchecked (default: {DEFAULT_MAX_TOP1_DROP:g})",
    )
    p.set_defaults(func=_cmd_export)


def _convert_parser(p: argparse.ArgumentParser) -> None:
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


def _push_parser(p: argparse.ArgumentParser) -> None:
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


# Each command's arguments, added to its subparser (resnetzoo.cli builds only the one that runs).
COMMANDS = {"list": _list_parser, "export": _export_parser, "convert": _convert_parser, "push": _push_parser}
