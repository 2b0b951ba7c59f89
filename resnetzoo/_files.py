"""Temporary files and folders for atomic writes, made with the user's permissions.

``tempfile.mkstemp`` creates files readable by their owner only (0600) and ``mkdtemp`` such folders
(0700): renamed into place, a checkpoint, ``metrics.csv`` or a saved model folder kept those modes,
so a run folder shared with a team could not be read by it. These helpers create them as ``open``
and ``mkdir`` do, with the modes the process's umask allows (0644 and 0755 for the usual 022).
Their names start with a dot and hold a random part, so concurrent writers and directory listings
do not trip on them; an error names the file being written, never the temporary one.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

__all__ = ["temp_dir", "temp_file", "write_error"]


def _temp_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")


def temp_file(target: Path) -> tuple[int, Path]:
    """A new, empty file beside ``target``, open for writing: ``(file descriptor, path)``.

    Raises:
        OSError: If it cannot be created (the folder is missing, read-only or full).
    """
    path = _temp_path(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    return os.open(path, flags, 0o666), path  # 0o666 less the umask, as open() creates files


def temp_dir(target: Path) -> Path:
    """A new, empty folder beside ``target``.

    Raises:
        OSError: If it cannot be created.
    """
    path = _temp_path(target)
    os.mkdir(path, 0o777)  # less the umask, as mkdir does
    return path


def write_error(err: OSError, what: str, path: Path, kept: str) -> OSError:
    """``err`` (same errno: ENOSPC stays ENOSPC, EACCES a PermissionError) as a message naming ``path``.

    A bare ``[Errno 28] No space left on device`` does not say what was being written, and the name of
    a temporary file says nothing to the user.

    Args:
        err: The error of the write.
        what: What was being written, e.g. ``"checkpoint"``.
        path: The file (or folder) the user asked for.
        kept: What stayed as it was, e.g. ``"the previous best.pt, if any, is unchanged"``.
    """
    message = f"could not write {what} {path} ({err.strerror or err}); {kept}"
    return OSError(err.errno, message) if err.errno is not None else OSError(message)
