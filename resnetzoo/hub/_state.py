"""Reading weights files safely and loading state dicts with a per-key report."""

from __future__ import annotations

import io
import logging
import os
import pickletools
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from .._integrity import CHECKPOINT_FORMAT, describe_nonfinite, nonfinite_keys, verify_checksum
from ..errors import CheckpointError

__all__ = [
    "LEGACY_SUFFIXES",
    "LoadReport",
    "apply_state_dict",
    "check_state_dict",
    "load_weights_file",
    "safe_torch_load",
    "torch_detail",
    "verified_weights",
]

logger = logging.getLogger(__name__)

# Pickle-based formats; read only with torch.load(weights_only=True), which refuses to run code.
LEGACY_SUFFIXES = (".bin", ".pt", ".pth", ".th", ".pth.tar")


def load_weights_file(path: str | os.PathLike[str]) -> Any:
    """Read a weights file without ever executing code from it.

    ``.safetensors`` files hold only tensors. Legacy pickles (``.bin .pt .pth .th .pth.tar``)
    are read with :func:`safe_torch_load`; a resnetzoo checkpoint among them has its CRC-32
    checked, as :func:`~resnetzoo.train.read_checkpoint` does.

    Returns:
        A state dict, or for legacy files whatever container of tensors the file holds.

    Raises:
        CheckpointError: If the file type is not supported, the file cannot be read safely, or a
            resnetzoo checkpoint does not match its CRC-32.
    """
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".safetensors"):
        try:
            return load_file(path, device="cpu")
        except (SafetensorError, OSError) as err:
            raise CheckpointError(f"cannot read {path}: not a valid safetensors file ({err})") from err
    if name.endswith(LEGACY_SUFFIXES):
        obj = safe_torch_load(path)
        if isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT:
            verify_checksum(obj, path)  # a resnetzoo checkpoint (best.pt, epoch_NNNN.pt) carries a CRC-32
        return obj
    raise CheckpointError(
        f"unsupported weights file {path.name!r}: expected .safetensors or one of "
        f"{', '.join(LEGACY_SUFFIXES)}"
    )


def safe_torch_load(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(weights_only=True)`` with one set of messages: every ``.pt`` read goes through here.

    A file whose pickle names a callable or class beyond tensors and plain containers is called
    UNSAFE and never unpickled; anything else that fails is damage. torch's advice to retry with
    ``weights_only=False`` (how an untrusted file runs code) never reaches the message.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        CheckpointError: If the file is unsafe, corrupted, truncated or not a PyTorch file; the
            message names it.
    """
    path = Path(path)
    with open(path, "rb") as f:  # a missing or unreadable file fails here, as the OSError it is
        try:
            return torch.load(f, map_location=map_location, weights_only=True)
        except Exception as err:  # damage surfaces as UnpicklingError, RuntimeError, EOFError, KeyError ...
            failure = err
    unsafe = _unsafe_globals(path)
    if unsafe:
        shown = ", ".join(unsafe[:5]) + (", ..." if len(unsafe) > 5 else "")
        raise CheckpointError(
            f"cannot read checkpoint {path}: the file is UNSAFE: its pickle names Python objects ({shown}) "
            "that unpickling would create or call, so it cannot be loaded safely and resnetzoo never "
            "unpickles it. If you trust the file, re-save only its tensors where you made it: "
            "torch.save(model.state_dict(), 'clean.pt')"
        ) from failure
    raise CheckpointError(
        f"cannot read checkpoint {path}: the file is corrupted or truncated, or not a PyTorch checkpoint "
        f"({type(failure).__name__}: {torch_detail(failure)})"
    ) from failure


# Modules whose names a torch.save file of tensors and plain containers refers to.
_SAFE_MODULES = ("torch", "collections", "builtins", "__builtin__", "_codecs")
_STRING_OPS = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING"})


def _unsafe_globals(path: Path) -> list[str]:
    """The ``module.name`` globals in the file's pickle(s) outside torch and plain containers.

    Read with :mod:`pickletools`, which decodes opcodes and never creates an object.
    """
    try:
        if zipfile.is_zipfile(path):  # torch.save's format since 1.6: the pickle is .../data.pkl
            with zipfile.ZipFile(path) as archive:
                members = [n for n in archive.namelist() if n.endswith("data.pkl")]
                streams = [archive.read(n) for n in members[:1]]
        else:
            streams = [path.read_bytes()]
    except Exception:  # a damaged archive (BadZipFile, UnicodeDecodeError, ...): nothing to judge
        return []
    found: list[str] = []
    for data in streams:
        stream = io.BytesIO(data)
        while stream.tell() < len(data):  # the legacy format is several pickles in a row
            strings: list[str | None] = []  # the strings pushed so far (None: something else)
            memo: dict[int, str | None] = {}
            try:
                for opcode, arg, _ in pickletools.genops(stream):
                    name = opcode.name
                    if name in _STRING_OPS:
                        strings.append(str(arg))
                    elif name == "MEMOIZE":
                        memo[len(memo)] = strings[-1] if strings else None
                    elif name.endswith("PUT"):
                        memo[arg] = strings[-1] if strings else None
                    elif name.endswith("GET"):
                        strings.append(memo.get(arg))
                    elif name in ("GLOBAL", "INST"):
                        found.append(str(arg).replace(" ", "."))
                    elif name == "STACK_GLOBAL" and len(strings) >= 2:
                        found.append(f"{strings[-2]}.{strings[-1]}")
                    else:
                        strings.append(None)
            except Exception:  # damage: what was decoded before it is all there is to judge
                break
    unsafe = [name for name in found if name.split(".", 1)[0] not in _SAFE_MODULES]
    return list(dict.fromkeys(unsafe))


# Sentences of torch's messages that advise loading with weights_only=False, or point at its docs.
_ADVICE = re.compile(
    r"weights_only|re-running|trusted source|safe_globals|file an issue|check the documentation|"
    r"in pytorch 2\.6",
    re.IGNORECASE,
)


def torch_detail(err: BaseException) -> str:
    """What went wrong in ``torch.load``, without its advice to retry with ``weights_only=False``.

    That advice is how an untrusted file runs code; our messages name the safe way instead. torch
    has reworded it between releases (2.6's "WeightsUnpickler error:" prefix, 2.14's "Re-running
    `torch.load` with `weights_only` set to `False` will likely succeed"), so every sentence that
    mentions ``weights_only`` or retrying is dropped, whatever its wording.
    """
    sentences = re.split(r"(?<=[.!?:])\s+|\n+", str(err))
    kept = [s.strip() for s in sentences if s.strip() and not _ADVICE.search(s)]
    return " ".join(kept) or type(err).__name__


def verified_weights(
    state: Mapping[str, Any], *, source: str, allow_nonfinite: bool = False
) -> Mapping[str, Any]:
    """The integrity gate every load path runs on the tensors it is about to load: ``state``, if sound.

    Used by :func:`~resnetzoo.from_pretrained`, ``create_model(pretrained=...)``,
    :func:`~resnetzoo.load_checkpoint`, a Trainer resume, ``convert`` and the CLI, so that a diverged
    run's weights are refused with the same message wherever they are fed in.

    Raises:
        CheckpointError: If a floating-point tensor holds NaN or infinite values and not
            ``allow_nonfinite``; nothing was loaded.
    """
    bad = [] if allow_nonfinite else nonfinite_keys(state)
    if bad:
        raise CheckpointError(
            f"{source} holds {describe_nonfinite(bad)}, as a diverged run leaves them; nothing was loaded. "
            "Load it anyway with allow_nonfinite=True"
        )
    return state


Mismatch = tuple[str, tuple[int, ...], tuple[int, ...]]


@dataclass(frozen=True)
class LoadReport:
    """What loading a state dict into a model did, key by key.

    Args:
        source: Where the state dict came from (a path or Hub id), for messages.
        layout: The key layout it was read as (``"resnetzoo"``, ``"kuangliu"``, ...).
        loaded: Model keys that received a tensor.
        missing: Model keys the checkpoint has no tensor for (they keep their values).
        unexpected: Checkpoint keys with no place in the model (after renaming).
        mismatched: ``(key, checkpoint shape, model shape)`` for tensors of the wrong shape.
    """

    source: str
    layout: str
    loaded: tuple[str, ...]
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    mismatched: tuple[Mismatch, ...]

    @property
    def ok(self) -> bool:
        """Whether every model tensor was loaded and every checkpoint tensor was used."""
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self) -> str:
        """A human-readable summary naming every key that did not load."""
        lines = [f"{self.source} ({self.layout} layout): loaded {len(self.loaded)} tensors"]
        for key, ckpt_shape, model_shape in self.mismatched:
            lines.append(
                f"  shape mismatch {key}: checkpoint {list(ckpt_shape)} vs model {list(model_shape)}"
            )
        if self.missing:
            lines.append(f"  missing from the checkpoint ({len(self.missing)}): {', '.join(self.missing)}")
        if self.unexpected:
            lines.append(f"  not in the model ({len(self.unexpected)}): {', '.join(self.unexpected)}")
        return "\n".join(lines)


def apply_state_dict(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    *,
    strict: bool,
    source: str,
    layout: str = "resnetzoo",
    ignore_prefixes: Iterable[str] = (),
    assign: bool = False,
) -> LoadReport:
    """Copy the tensors of ``state`` whose names and shapes fit into ``model`` and report the rest.

    Nothing is copied unless everything fits when ``strict``: a half-loaded model is never
    left behind by an error.

    Args:
        model: The model to load into.
        state: Tensors by model key.
        strict: Raise unless every key loads.
        source: Where ``state`` came from, for messages.
        layout: The layout the keys were read as, for messages.
        ignore_prefixes: Keys starting with one of these are left out on both sides (e.g.
            ``("fc.",)`` to keep the model's own head).
        assign: Make the model's parameters and buffers the tensors of ``state`` instead of
            copying into them (for a model built on the ``meta`` device).

    Returns:
        The :class:`LoadReport`.

    Raises:
        CheckpointError: If ``strict`` and a key is missing, unexpected or of the wrong shape.
    """
    report, to_load = _match(model, state, source=source, layout=layout, ignore_prefixes=ignore_prefixes)
    if not report.ok:
        if strict:
            raise _does_not_fit(model, report)
        logger.warning("partial load into %s:\n%s", _model_label(model), report.describe())
    model.load_state_dict(to_load, strict=False, assign=assign)
    return report


def check_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor], *, source: str) -> LoadReport:
    """Check that ``state`` fits ``model`` key by key and shape by shape, without loading anything.

    Works on a model built on the ``meta`` device, which holds no memory: so a file can be
    checked against an architecture before that architecture is allocated.

    Raises:
        CheckpointError: If a key is missing, unexpected or of the wrong shape.
    """
    report, _ = _match(model, state, source=source, layout="resnetzoo", ignore_prefixes=())
    if not report.ok:
        raise _does_not_fit(model, report)
    return report


def _match(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    *,
    source: str,
    layout: str,
    ignore_prefixes: Iterable[str],
) -> tuple[LoadReport, dict[str, torch.Tensor]]:
    not_tensors = [key for key, value in state.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(
            f"{source} is not a state dict: {', '.join(not_tensors[:5])} do not hold tensors"
        )
    ignore = tuple(ignore_prefixes)
    model_state = model.state_dict()
    to_load: dict[str, torch.Tensor] = {}
    unexpected: list[str] = []
    mismatched: list[Mismatch] = []
    for key, tensor in state.items():
        if key.startswith(ignore):
            continue
        if key not in model_state:
            unexpected.append(key)
        elif tensor.shape != model_state[key].shape:
            mismatched.append((key, tuple(tensor.shape), tuple(model_state[key].shape)))
        else:
            to_load[key] = tensor
    # BatchNorm's step counter only matters for momentum=None; checkpoints from before
    # PyTorch 0.4.1 do not have it, and the model's own value is the right default.
    missing = [
        key
        for key in model_state
        if key not in state and not key.startswith(ignore) and not key.endswith("num_batches_tracked")
    ]
    report = LoadReport(
        source=source,
        layout=layout,
        loaded=tuple(to_load),
        missing=tuple(missing),
        unexpected=tuple(unexpected),
        mismatched=tuple(mismatched),
    )
    return report, to_load


def _does_not_fit(model: nn.Module, report: LoadReport) -> CheckpointError:
    return CheckpointError(
        f"the state dict does not fit {_model_label(model)}:\n{report.describe()}{_hint(report)}"
    )


def _model_label(model: nn.Module) -> str:
    return getattr(model, "model_name", None) or type(model).__name__


def _hint(report: LoadReport) -> str:
    hints = []
    if any(".downsample." in key for key in (*report.missing, *report.unexpected)):
        hints.append(
            "The checkpoint and the model differ in their shortcuts: option A pads with zeros and has no "
            "downsample weights, option B projects with them. Build the architecture the weights were made "
            "for (resnet20_cifar is option A, resnet20b_cifar option B; see resnetzoo.list_pretrained())."
        )
    for key, ckpt_shape, model_shape in report.mismatched:
        if key == "fc.weight" and ckpt_shape[1:] == model_shape[1:]:
            hints.append(
                f"The checkpoint's head has {ckpt_shape[0]} classes: build the model with "
                f"num_classes={ckpt_shape[0]}."
            )
        elif key == "conv1.weight" and ckpt_shape[2:] != model_shape[2:]:
            hints.append(
                f"The checkpoint's stem is a {ckpt_shape[2]}x{ckpt_shape[3]} convolution (an ImageNet "
                "ResNet); "
                f"this model's stem is {model_shape[2]}x{model_shape[3]}, so these weights do not fit it."
            )
    return "".join(f"\n{hint}" for hint in hints)
