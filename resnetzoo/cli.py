"""The ``resnetzoo`` command line: a thin layer over the public API."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

import torch

from . import __version__
from .hub import HubError, from_pretrained, load_checkpoint, push_to_hub, save_pretrained
from .hub.convert import Layout
from .hub.serialization import CONFIG_NAME
from .models import count_flops, count_parameters, create_model, list_models

__all__ = ["build_parser", "main"]


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


def _cmd_convert(args: argparse.Namespace) -> int:
    model = create_model(args.model, num_classes=args.num_classes)
    report = load_checkpoint(model, args.src, layout=args.layout)
    out = save_pretrained(model, args.out_dir, mean=args.mean, std=args.std, dataset=args.dataset)
    print(f"{report.describe()}\nwrote {out}")
    return 0


def _repo_folder(run_dir: Path) -> Path:
    """The save_pretrained folder of a run: RUN_DIR itself, or RUN_DIR/best written by the trainer."""
    for folder in (run_dir, run_dir / "best"):
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

    p = sub.add_parser("list", help="list the registered models")
    p.add_argument("pattern", nargs="?", default=None, help="fnmatch filter, e.g. 'resnet1*'")
    p.add_argument("--verbose", action="store_true", help="also print parameters and FLOPs per image")
    p.set_defaults(func=_cmd_list)

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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, HubError) as err:
        # User errors: one clear line, no traceback.
        print(f"resnetzoo {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
