"""Training checkpoints: written atomically, read safely, pruned, found again after a crash.

A checkpoint is one ``torch.save`` file holding only plain Python values and tensors, so it
loads with ``torch.load(weights_only=True)``: reading a checkpoint never runs code from the
file. It carries a format name and version so a foreign or future file is refused with a
clear :class:`~resnetzoo.errors.CheckpointError` rather than a ``KeyError`` deep in a resume.

Layout inside ``TrainConfig.out_dir``::

    checkpoints/epoch_0001.pt ...   resumable training state, the newest ``keep_checkpoints`` kept

beside the rest of the run folder (:mod:`resnetzoo.train.run`).
"""

from __future__ import annotations

import logging
import os
import random
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._files import atomic_path
from .._integrity import CHECKPOINT_FORMAT, checksum, verify_checksum
from ..errors import CheckpointError
from ..hub._state import safe_torch_load, verified_weights

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "capture_rng_state",
    "checkpoint_path",
    "find_latest_checkpoint",
    "list_checkpoints",
    "prune_checkpoints",
    "read_checkpoint",
    "restore_rng_state",
    "write_checkpoint",
]

logger = logging.getLogger(__name__)

FORMAT = CHECKPOINT_FORMAT  # the value of the "format" key that marks our files
FORMAT_VERSION = 1  # bump when the layout changes; readers refuse newer versions
_KIND = "train"  # the only kind there is: resumable training state (the selected model is a folder, best/)
_REQUIRED = ("model", "optimizer", "scheduler", "epoch", "step", "config", "rng", "history")
_NAME = re.compile(r"^epoch_(\d+)\.pt$")
# Exact types: a subclass (numpy.float64, torch.__version__'s TorchVersion) is refused by
# weights_only=True even though isinstance(x, float or str) holds.
_SCALARS = (str, int, float, bool, type(None), torch.dtype, torch.device, torch.Size)


def checkpoint_path(directory: str | os.PathLike[str], epoch: int) -> Path:
    """``directory/epoch_NNNN.pt`` for the checkpoint written after ``epoch`` completed epochs."""
    return Path(directory) / f"epoch_{epoch:04d}.pt"


def list_checkpoints(directory: str | os.PathLike[str]) -> list[Path]:
    """The ``epoch_*.pt`` files in ``directory``, oldest first (empty if it does not exist)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def _check_plain(value: Any, where: str = "checkpoint") -> None:
    # Catch at save time what weights_only=True would refuse at load time, when the cause
    # (say a class in model_kwargs) is still easy to see.
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(
                    f"{where} has a key of type {type(key).__name__}; only str and int are allowed"
                )
            _check_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
    elif type(value) not in _SCALARS and not isinstance(value, torch.Tensor):
        raise TypeError(
            f"{where} is a {type(value).__module__}.{type(value).__qualname__}; a checkpoint holds only "
            "plain Python values and tensors so that it loads with torch.load(weights_only=True)"
        )


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable: without it a power cut can forget the new name.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_checkpoint(path: str | os.PathLike[str], state: Mapping[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically: a crash leaves the old file or the new one, never half.

    The data goes to a temporary file in the same directory, is flushed and fsynced, then
    ``os.replace`` renames it over ``path`` (atomic on POSIX and Windows) and the directory
    is fsynced.

    Args:
        path: Destination file; its directory is created if needed.
        state: Plain values and tensors (nested dicts, lists, tuples).

    Returns:
        The path written.

    Raises:
        TypeError: If ``state`` holds anything other than plain values and tensors.
        OSError: If the file cannot be written (disk full, no permission), with the errno of the
            failure and the file named; the previous file is unchanged and no temporary file is left.
    """
    from .. import __version__  # here, not at import time: resnetzoo/__init__ imports this module

    path = Path(path)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": _KIND,
        "resnetzoo_version": __version__,
        "torch_version": str(torch.__version__),
        **state,
    }
    _check_plain(payload)
    payload["crc32"] = checksum(payload)
    with atomic_path(path, what="checkpoint") as tmp, open(tmp, "xb") as f:
        torch.save(payload, f)
        f.flush()
        os.fsync(f.fileno())
    _fsync_directory(path.parent)
    return path


def read_checkpoint(
    path: str | os.PathLike[str],
    map_location: str | torch.device = "cpu",
    *,
    allow_nonfinite: bool = False,
) -> dict[str, Any]:
    """Load and check a checkpoint written by :func:`write_checkpoint`.

    The model weights pass the same integrity gate as every other load path
    (:func:`resnetzoo.hub._state.verified_weights`).

    Args:
        path: The file.
        map_location: Where tensors are loaded (CPU by default).
        allow_nonfinite: Accept model weights that hold NaN or infinite values instead of refusing them.

    Returns:
        The checkpoint dictionary.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        CheckpointError: If the file is corrupted or truncated, not a resnetzoo checkpoint, from a
            newer format version, not a training checkpoint, missing required entries, or its model
            weights hold NaN or infinite values and not ``allow_nonfinite``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    obj = safe_torch_load(path, map_location)  # unsafe or damaged files raise CheckpointError naming path
    verify_checksum(obj, path)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        what = (
            f"a dict with keys {sorted(map(str, obj))[:8]}" if isinstance(obj, dict) else type(obj).__name__
        )
        raise CheckpointError(
            f"{path} is not a resnetzoo checkpoint (it holds {what}); a bare state dict loads with "
            "model.load_state_dict(torch.load(path, weights_only=True))"
        )
    version = obj.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {version!r}, written by resnetzoo "
            f"{obj.get('resnetzoo_version', '?')}; this resnetzoo reads versions up to {FORMAT_VERSION}: "
            "upgrade resnetzoo"
        )
    found = obj.get("kind")
    if found != _KIND:
        raise CheckpointError(
            f"{path} is a {found!r} checkpoint, not a training checkpoint; the selected model of a run is "
            "its best/ folder (resnetzoo.from_pretrained, --weights)"
        )
    missing = [key for key in _REQUIRED if key not in obj]
    if missing:
        raise CheckpointError(f"{path} lacks the entries {missing}; it is incomplete or was edited")
    if isinstance(obj["model"], Mapping):
        verified_weights(obj["model"], source=str(path), allow_nonfinite=allow_nonfinite)
    return obj


def find_latest_checkpoint(directory: str | os.PathLike[str]) -> tuple[Path, dict[str, Any]] | None:
    """The newest readable training checkpoint in ``directory``, or None if there is none.

    An unreadable newest file (say a disk error after it was written) is skipped with a
    warning in favour of the one before it, so a resume never loses more than one interval.

    Raises:
        CheckpointError: If checkpoint files exist but none of them can be read.
    """
    paths = list_checkpoints(directory)
    errors = []
    for path in reversed(paths):
        try:
            return path, read_checkpoint(path)
        except CheckpointError as err:
            logger.warning("skipping unreadable checkpoint: %s", err)
            errors.append(str(err))
    if paths:
        raise CheckpointError(f"none of the {len(paths)} checkpoints in {directory} is readable: {errors}")
    return None


def prune_checkpoints(directory: str | os.PathLike[str], keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` epoch checkpoints; returns the deleted paths."""
    old = list_checkpoints(directory)[:-keep] if keep > 0 else list_checkpoints(directory)
    for path in old:
        path.unlink(missing_ok=True)
    return old


def capture_rng_state() -> dict[str, Any]:
    """The state of every random generator a training step may draw from, as plain values.

    torch's CPU generator, the current CUDA device's generator (if CUDA is initialised),
    Python's ``random`` and NumPy's global generator.
    """
    version, keys, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": {"version": version, "keys": torch.tensor(keys, dtype=torch.int64), "gauss": gauss},
        "numpy": {
            "name": np_name,
            "keys": torch.from_numpy(np_keys.astype(np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "gauss": float(np_gauss),
        },
        "cuda": torch.cuda.get_rng_state()
        if torch.cuda.is_available() and torch.cuda.is_initialized()
        else None,
    }
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Put every generator back where :func:`capture_rng_state` found it."""
    torch.set_rng_state(state["torch"])
    py = state["python"]
    random.setstate((py["version"], tuple(py["keys"].tolist()), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state(
        (npy["name"], npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"], npy["gauss"])
    )
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])
