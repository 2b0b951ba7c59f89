"""The ``resnetzoo`` command line: a thin layer over the public API.

One module per group of commands (:mod:`.weights`: list, export, convert, push; :mod:`.train`: train,
fine-tune, distill; :mod:`.evaluate`: eval, predict, explain). :func:`main` imports only the module of
the command it runs, so ``resnetzoo --version`` and ``resnetzoo --help`` answer without importing torch.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import shlex
import sys
from collections.abc import Sequence

from .._version import __version__
from ..errors import ArgumentError, ResnetzooError

__all__ = ["build_parser", "main"]

# command: (the module that runs it, what it does). The order is the help's.
_COMMANDS = {
    "list": ("weights", "list the registered models, or with --pretrained the weights that load by name"),
    "train": ("train", "train a model, select it on a validation split, then test it once"),
    "eval": ("evaluate", "evaluate a run, a saved model or weights by name on a data split"),
    "export": ("weights", "export a model to ONNX or TorchScript"),
    "explain": (
        "evaluate",
        "write one PNG per image: the image, a heatmap of what drove the prediction, the top-3 classes",
    ),
    "predict": ("evaluate", "print the top-k classes of image files"),
    "fine-tune": (
        "train",
        "fine-tune a model on new data: the new head first, then everything with per-stage lrs",
    ),
    "distill": (
        "train",
        "train a small student on a trained teacher's soft targets (knowledge distillation)",
    ),
    "convert": (
        "weights",
        "convert a torchvision/timm, kuangliu or akamaster checkpoint into a resnetzoo repo folder",
    ),
    "push": ("weights", "upload a saved model or a training run's best model to the Hugging Face Hub"),
}
_GLOBAL_OPTIONS_WITH_VALUE = ("-v", "--log-level")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of the ``resnetzoo`` command (also used to document the CLI).

    Args:
        command: Build only this command's arguments (and import only its module); the others get their
            one-line help. None builds every command.
    """
    parser = argparse.ArgumentParser(
        prog="resnetzoo", description="ResNets for 32x32 images: models, training, fine-tuning, weights."
    )
    parser.add_argument("--version", action="version", version=f"resnetzoo {__version__}")
    parser.add_argument("-v", "--log-level", default="INFO", help="logging level (default: INFO)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, summary) in _COMMANDS.items():
        p = sub.add_parser(name, help=summary)
        if command is None or name == command:
            importlib.import_module(f"{__name__}.{module}").COMMANDS[name](p)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The command ``argv`` runs: its first word that is not a global option or its value."""
    words = iter(argv)
    for word in words:
        if word in _GLOBAL_OPTIONS_WITH_VALUE:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _log_level(requested: str) -> str:
    """``requested`` on rank 0; under torchrun the other processes log errors only, so that each message
    appears once rather than once per process.

    Raises:
        ValueError: If torchrun's variables are set but invalid (:meth:`DistributedEnv.from_env`).
    """
    from ..train.distributed import DistributedEnv

    return requested.upper() if DistributedEnv.from_env().is_main else "ERROR"


# The library's name of a parameter -> the options that may set it, the likeliest first. Any other
# TrainConfig field ``x_y`` is ``--x-y``, an AugmentConfig field ``TrainConfig.augment.x`` is ``--x``.
_FLAGS = {
    "out_dir": ("--out",),
    "limit_train_batches": ("--limit-train-batches", "--limit-batches"),
    "limit_eval_batches": ("--limit-eval-batches", "--limit-batches"),
}


def _in_cli_words(err: Exception, parser: argparse.ArgumentParser, argv: Sequence[str]) -> str:
    """A library error in the words of the command line: an :class:`ArgumentError` about a parameter
    (``err.param``, e.g. ``TrainConfig.lr``) names the option that set it (``--lr``), where the command
    has one; ``resume='auto'`` is ``--resume auto``."""
    message = (
        _describe_os_error(err)
        if isinstance(err, OSError) and not isinstance(err, ResnetzooError)
        else str(err)
    )
    options = _options(parser)
    if "--resume" in options:
        message = message.replace("resume='auto'", "--resume auto")
    if "--out" in options:  # "TrainConfig.out_dir" or "out_dir" in a hint: the run folder is --out here
        message = message.replace("TrainConfig.out_dir", "--out").replace("out_dir", "--out")
    param = err.param if isinstance(err, ArgumentError) else None
    if param is None or not message.startswith(param):
        return message
    name = param.rsplit(".", 1)[-1]
    candidates = _FLAGS.get(name, ("--" + name.replace("_", "-"),))
    given = [flag for flag in candidates if flag in options and flag in argv]
    known = given or [flag for flag in candidates if flag in options]
    return known[0] + message[len(param) :] if known else message


def _options(parser: argparse.ArgumentParser) -> set[str]:
    """The option strings of the command ``parser`` was built for, e.g. ``{"--out", "--epochs", ...}``."""
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {
        option
        for command in subparsers.choices.values()
        for action in command._actions
        for option in action.option_strings
    }


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
    """What to do after Ctrl-C: for a command that writes a run (it has --resume), the same command with
    --resume auto."""
    if getattr(args, "out", None) is None or not hasattr(args, "resume"):
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
    command = _command_in(argv)
    parser = build_parser(command if command in _COMMANDS else "")
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
        print(f"resnetzoo {args.command}: error: {_in_cli_words(err, parser, argv)}", file=sys.stderr)
        return 2
