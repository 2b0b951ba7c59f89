"""Atomic writes, with the user's permissions: the one way resnetzoo writes a file.

``tempfile.mkstemp`` creates files readable by their owner only (0600) and ``mkdtemp`` such folders
(0700): renamed into place, a checkpoint, ``metrics.csv`` or a saved model folder kept those modes,
so a run folder shared with a team could not be read by it. These helpers create them as ``open``
and ``mkdir`` do, with the modes the process's umask allows (0644 and 0755 for the usual 022).
Their names start with a dot and hold a random part, so concurrent writers and directory listings
do not trip on them; an error names the file being written, never the temporary one.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write", "temp_dir", "write_error"]


def _temp_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")


@contextlib.contextmanager
def atomic_path(target: Path, *, what: str) -> Iterator[Path]:
    """A temporary path beside ``target`` to write to; it replaces ``target`` when the block ends.

    A crash or an error leaves the previous ``target`` (or none) and no temporary file: the rename is
    atomic on POSIX and Windows, the temporary file is in the same folder (the same file system), and
    its name starts with a dot, so directory listings and concurrent writers do not trip on it.

    Args:
        target: The file to write; its folder is created if needed.
        what: What it is, for the error message (``"checkpoint"``, ``"the test metrics"``).

    Raises:
        OSError: If the folder, the temporary file or the rename fails, with the errno of the failure and
            ``target`` named (never the temporary file).
    """
    target = Path(target)
    tmp = _temp_path(target)
    kept = f"the previous {target.name}, if any, is unchanged and no partial file was left"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, target)
    except OSError as err:
        raise write_error(err, what, target, kept) from err
    finally:
        tmp.unlink(missing_ok=True)  # only still there if something above failed


def atomic_write(target: Path, data: bytes | str, *, what: str) -> Path:
    """Write ``data`` (text is UTF-8) to ``target`` atomically and durably (fsynced); returns ``target``.

    Raises:
        OSError: As :func:`atomic_path`.
    """
    payload = data.encode() if isinstance(data, str) else data
    with atomic_path(target, what=what) as tmp, open(tmp, "xb") as f:  # mode 0666 less the umask
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())
    return Path(target)


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
