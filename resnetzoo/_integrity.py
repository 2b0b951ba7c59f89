"""The CRC-32 that resnetzoo checkpoints carry, and its check: one place for every reader.

``torch.load`` does not check the CRCs of the zip file it reads, so a flipped byte in tensor data
would load silently. :func:`~resnetzoo.train.write_checkpoint` stores :func:`checksum` of the
contents under ``"crc32"``; :func:`verify_checksum` is called by every path that reads such a file:
:func:`~resnetzoo.train.read_checkpoint` (resume, ``resnetzoo eval``) and
:func:`~resnetzoo.load_checkpoint` (``predict``, ``convert`` and ``export --checkpoint``). It lives
here, below both ``resnetzoo.train`` and ``resnetzoo.hub``, so that neither imports the other.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping
from typing import Any

import torch

from .errors import CheckpointError

__all__ = ["CHECKPOINT_FORMAT", "checksum", "describe_nonfinite", "nonfinite_keys", "verify_checksum"]

CHECKPOINT_FORMAT = "resnetzoo.checkpoint"  # the value of the "format" key that marks our checkpoints


def checksum(value: Any, crc: int = 0) -> int:
    """CRC-32 over the structure, the scalars and the tensor bytes of ``value``."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        crc = zlib.crc32(f"T{tensor.dtype}{tuple(tensor.shape)}".encode(), crc)
        return zlib.crc32(tensor.view(-1).view(torch.uint8).numpy(), crc) if tensor.numel() else crc
    if isinstance(value, Mapping):
        crc = zlib.crc32(b"{", crc)
        for key, item in value.items():
            crc = checksum(item, zlib.crc32(repr(key).encode(), crc))
        return zlib.crc32(b"}", crc)
    if isinstance(value, (list, tuple)):
        crc = zlib.crc32(b"[" if isinstance(value, list) else b"(", crc)
        for item in value:
            crc = checksum(item, crc)
        return zlib.crc32(b"]", crc)
    return zlib.crc32(repr(value).encode(), crc)


def verify_checksum(obj: Any, path: str | os.PathLike[str]) -> None:
    """Check and remove the ``"crc32"`` entry of a checkpoint dict; anything without one passes.

    Raises:
        CheckpointError: If the contents do not match the stored CRC-32 (the file is corrupted).
    """
    if isinstance(obj, dict) and "crc32" in obj and obj.pop("crc32") != checksum(obj):
        raise CheckpointError(
            f"{os.fspath(path)} is corrupted: its contents do not match the CRC-32 stored when it was written"
        )


def nonfinite_keys(state: Mapping[str, Any]) -> list[str]:
    """The keys of ``state`` whose floating-point tensors hold a NaN or an infinity, in order."""
    return [
        key
        for key, value in state.items()
        if isinstance(value, torch.Tensor)
        and value.is_floating_point()
        and not bool(torch.isfinite(value).all())
    ]


def describe_nonfinite(keys: list[str]) -> str:
    """``"NaN or infinite values in 2 tensors (fc.weight, fc.bias)"``, at most 5 named."""
    shown = ", ".join(keys[:5]) + (", ..." if len(keys) > 5 else "")
    return f"NaN or infinite values in {len(keys)} tensor{'s' if len(keys) != 1 else ''} ({shown})"
