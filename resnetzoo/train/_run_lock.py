"""A run owns its folder: one process at a time trains, fine-tunes or writes results in an ``out_dir``.

Two runs started into the same fresh folder both passed the "no checkpoints yet" check and then wrote
over each other, leaving checkpoints of one beside ``best/`` and metrics of the other. The lock is an
operating-system file lock (``flock`` on POSIX, ``LockFileEx`` on Windows, through the ``filelock``
package) on ``OUT/.resnetzoo.lock``: the kernel releases it when the process ends, however it ends,
so a killed run never leaves its folder locked. Within one process the lock is re-entrant: the
command line holds it for the whole command, and the :class:`~resnetzoo.Trainer` it runs takes it
again for ``fit``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from ..errors import RunFolderInUseError

__all__ = ["LOCK_NAME", "run_folder_lock"]

LOCK_NAME = ".resnetzoo.lock"

# One FileLock per folder in this process: a second FileLock object would open the file again, and
# the kernel would refuse that descriptor the lock held by the first one.
_locks: dict[str, FileLock] = {}
_registry = threading.Lock()


@contextlib.contextmanager
def run_folder_lock(folder: str | os.PathLike[str], *, what: str = "out_dir") -> Iterator[Path]:
    """Hold ``folder``'s lock for the duration of the block; the folder is created if needed.

    Args:
        folder: The run folder.
        what: How the caller names the folder in messages (``"out_dir"``, ``"--out"``).

    Yields:
        The folder.

    Raises:
        RunFolderInUseError: If another process holds the lock (another run uses the folder).
        NotADirectoryError: If ``folder`` is a file.
        OSError: If the folder or its lock file cannot be created (read-only, no permission).
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{what} {folder} is a file, not a folder: choose another {what}")
    folder.mkdir(parents=True, exist_ok=True)
    path = str((folder / LOCK_NAME).resolve())
    with _registry:
        lock = _locks.setdefault(path, FileLock(path, timeout=0, thread_local=False))
    try:
        lock.acquire()
    except Timeout:
        raise RunFolderInUseError(
            f"{folder} is in use by another run (a running process holds {folder / LOCK_NAME}): wait for it "
            f"to finish, or choose another {what}"
        ) from None
    try:
        yield folder
    finally:
        lock.release()
