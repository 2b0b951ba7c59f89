"""The ``resnetzoo`` command line: a thin layer over the public API."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import torch

from . import __version__
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:
        # User errors: one clear line, no traceback.
        print(f"resnetzoo {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
