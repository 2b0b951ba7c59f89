"""The ``resnetzoo`` command line: a thin layer over the public API."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import pickle
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from . import __version__
from .export import FORMATS, export
from .models import count_flops, count_parameters, create_model, list_models
from .models.registry import split_model_name
from .predict import Prediction, predict

__all__ = ["build_parser", "main"]

logger = logging.getLogger(__name__)


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


def _load_model_for_cli(args: argparse.Namespace) -> nn.Module:
    """The model a command names: ``--model NAME``, with ``--checkpoint PATH`` weights if given.

    The one place where the CLI turns arguments into a model, so that every command accepts the same
    model options.

    Raises:
        ValueError: If no model is named, a weights tag is given, or the checkpoint does not fit.
        FileNotFoundError: If the checkpoint file does not exist.
    """
    if args.model is None:
        raise ValueError("name the architecture with --model NAME (see 'resnetzoo list')")
    name, tag = split_model_name(args.model)
    if tag is not None:
        raise ValueError(
            f"pretrained weights by name ({args.model!r}) are not available yet; "
            f"use --model {name} --checkpoint PATH"
        )
    if args.checkpoint is None:
        logger.warning("no --checkpoint given: %s has random weights", name)
        return create_model(name)
    path = Path(args.checkpoint)
    state_dict = _read_state_dict(path)
    # The head and stem sizes are in the checkpoint: a CIFAR-100 or grayscale model builds without flags.
    kwargs = {}
    if isinstance(state_dict.get("fc.weight"), torch.Tensor):
        kwargs["num_classes"] = state_dict["fc.weight"].shape[0]
    if isinstance(state_dict.get("conv1.weight"), torch.Tensor):
        kwargs["in_chans"] = state_dict["conv1.weight"].shape[1]
    model = create_model(name, **kwargs)
    try:
        missing, unexpected = model.load_state_dict(state_dict, strict=False)
    except RuntimeError as err:  # shape mismatches; PyTorch lists each on its own line
        details = [line.strip() for line in str(err).splitlines()[1:3]]
        raise ValueError(f"checkpoint {path} does not fit {name}: {'; '.join(details)}") from None
    problems = [
        f"{len(keys)} {kind} keys, e.g. {keys[:3]}"
        for kind, keys in (("missing", missing), ("unexpected", unexpected))
        if keys
    ]
    if problems:
        raise ValueError(f"checkpoint {path} does not fit {name}: {'; '.join(problems)}")
    return model


def _read_state_dict(path: Path) -> Mapping[str, torch.Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(path)
        except SafetensorError as err:
            raise ValueError(f"cannot read checkpoint {path}: {err}") from err
    try:
        # weights_only: a checkpoint from elsewhere must not run code when it is unpickled.
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
        raise ValueError(f"cannot read checkpoint {path}: {err}") from err
    # Training checkpoints wrap the state dict with optimizer state and the like.
    for key in ("state_dict", "model"):
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"checkpoint {path} holds no state dict (a mapping of names to tensors)")
    return obj


def _cmd_export(args: argparse.Namespace) -> int:
    model = _load_model_for_cli(args)
    # The ONNX exporter's optimiser logs each of its passes at INFO; keep those out of the command's output.
    quiet = max(logging.WARNING, logging.getLogger().getEffectiveLevel())
    for name in ("onnxscript", "onnx_ir"):
        logging.getLogger(name).setLevel(quiet)
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

    # The model every model-taking command starts from (see _load_model_for_cli).
    model_args = argparse.ArgumentParser(add_help=False)
    model_args.add_argument("--model", metavar="NAME", help="registered architecture, e.g. resnet20_cifar")
    model_args.add_argument(
        "--checkpoint", metavar="PATH", help="state-dict file to load (.safetensors, or a torch file)"
    )

    p = sub.add_parser("export", parents=[model_args], help="export a model to ONNX or TorchScript")
    p.add_argument("--format", choices=FORMATS, default="onnx", help="file format (default: onnx)")
    p.add_argument("--output", required=True, metavar="PATH", help="file to write")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default: PyTorch's recommended)")
    p.add_argument("--static-batch", action="store_true", help="fix the ONNX batch size to 1")
    p.add_argument("--no-check", action="store_true", help="skip comparing the exported model with PyTorch")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("predict", parents=[model_args], help="print the top-k classes of image files")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (any size; PNG, JPEG, ...)")
    p.add_argument("--topk", type=int, default=5, help="classes per image (default: 5)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--device", default=None, help="e.g. cpu, cuda (default: cpu)")
    p.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default: 256)")
    p.set_defaults(func=_cmd_predict)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, ImportError) as err:
        # User errors: one clear line, no traceback.
        print(f"resnetzoo {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
