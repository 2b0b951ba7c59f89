"""Fetching files from the Hub into the local cache, and checking them.

Everything goes through :func:`huggingface_hub.hf_hub_download`, so the Hub client's cache
(``HF_HOME`` / ``HF_HUB_CACHE``), endpoint (``HF_ENDPOINT``), offline mode (``HF_HUB_OFFLINE``)
and token handling apply unchanged. A file pinned to a commit hash that is already cached is
returned without any network request. The client's errors are turned into one
:class:`HubRequestError` whose message says what was missing and what to do.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
from pathlib import Path, PureWindowsPath

from huggingface_hub import constants as hf_constants
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import silent_tqdm

from .._version import __version__
from ..errors import ChecksumError, HubRequestError

__all__ = [
    "TRANSFER_ERRORS",
    "check_repo_file",
    "describe_request_error",
    "download_file",
    "remove_cached_file",
    "sha256_file",
    "verify_sha256",
]

logger = logging.getLogger(__name__)

try:  # huggingface_hub >= 2 re-exports its HTTP client (httpx2) under this name for libraries
    from huggingface_hub.utils import httpx as _hub_http

    # A connection dropped mid-file or a timeout surfaces as the client's transport error once
    # the Hub client has given up resuming; older clients raise OSError subclasses instead.
    TRANSFER_ERRORS: tuple[type[Exception], ...] = (OSError, _hub_http.TransportError)
except ImportError:  # pragma: no cover - huggingface_hub < 2 (requests/httpx based)
    TRANSFER_ERRORS = (OSError,)


# A part of a repo id: starts with a letter, digit or underscore, so neither "." nor ".." nor a
# hidden name; the Hub client applies its finer rules (length, "--") after this.
_REPO_PART = re.compile(r"\w[\w.-]*")

# Errors of the local file system, not of the transfer: retrying cannot help, the cache must change.
_CACHE_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("EACCES", "EPERM", "EROFS", "ENOTDIR", "EISDIR", "EEXIST", "ENOSPC", "EDQUOT")
    if hasattr(errno, name)  # EDQUOT is POSIX only
)


def check_repo_file(repo_id: str, filename: str) -> None:
    """Refuse a repo id or a file name that could address anything outside the repo's cache folder.

    Both may come from a user's string (``"hf-hub:org/name/path/in/repo"``) or a weights record,
    and both become path components in the cache: ``..``, an absolute path or a drive would
    leave it.

    Raises:
        ValueError: If ``repo_id`` is not ``"name"`` or ``"org/name"`` of letters, digits, ``_``,
            ``-`` and ``.`` (no ``..``), or ``filename`` is not a relative ``/``-separated path
            without empty, ``.`` or ``..`` parts.
    """
    parts = repo_id.split("/") if isinstance(repo_id, str) else []
    if not 1 <= len(parts) <= 2 or not all(_REPO_PART.fullmatch(p) and ".." not in p for p in parts):
        raise ValueError(
            f"invalid Hub repo id {repo_id!r}: expected 'org/name' made of letters, digits, '_', '-' "
            "and '.', without '..'"
        )
    if (
        not isinstance(filename, str)
        or "\\" in filename
        or PureWindowsPath(filename).drive
        or any(part in ("", ".", "..") for part in filename.split("/"))
    ):
        raise ValueError(
            f"invalid file name {filename!r} for Hub repo {repo_id!r}: expected a relative path inside the "
            "repo with '/' separators, without '..', '.' or empty parts (e.g. 'model.safetensors' or "
            "'checkpoints/resnet20.pth')"
        )


def download_file(
    repo_id: str,
    filename: str,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    progress: bool = True,
) -> Path:
    """Download ``filename`` of a Hub model repo into the cache (or find it there) and return its path.

    Args:
        repo_id: ``"org/name"``.
        filename: Path of the file in the repo.
        revision: Branch, tag or commit hash; ``None`` is the default branch.
        cache_dir: Cache folder; ``None`` uses ``HF_HUB_CACHE`` (``$HF_HOME/hub``).
        local_files_only: Never touch the network; the file must be cached.
        token: Hub token for private repos; ``None`` uses the logged-in token, if any.
        progress: Show a progress bar while downloading.

    Returns:
        The path of the cached file.

    Raises:
        ValueError: If ``repo_id`` or ``filename`` could address a path outside the repo's
            cache folder (see :func:`check_repo_file`).
        HubRequestError: If the repo, revision or file does not exist, the file is not cached
            while offline, the transfer failed (nothing partial is kept), or the cache folder
            cannot be written.
    """
    check_repo_file(repo_id, filename)
    where = f"{filename!r} of {repo_id!r} at revision {revision or 'main'!r}"
    cache = os.fspath(cache_dir) if cache_dir is not None else hf_constants.HF_HUB_CACHE
    try:
        path = hf_hub_download(
            repo_id,
            filename,
            revision=revision,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
            token=token,
            library_name="resnetzoo",
            library_version=__version__,
            tqdm_class=None if progress else silent_tqdm,
        )
    except GatedRepoError as err:
        raise HubRequestError(
            f"cannot download {where}: the repo is gated; accept its terms on the Hub and log in "
            "(`hf auth login` or HF_TOKEN)"
        ) from err
    except RepositoryNotFoundError as err:
        raise HubRequestError(
            f"cannot download {where}: repository not found on {hf_constants.ENDPOINT} (or it is private: "
            "log in with `hf auth login` or set HF_TOKEN)"
        ) from err
    except RevisionNotFoundError as err:
        raise HubRequestError(f"cannot download {where}: the revision does not exist in the repo") from err
    except RemoteEntryNotFoundError as err:
        raise HubRequestError(f"cannot download {where}: the repo has no such file") from err
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as err:
        raise HubRequestError(
            f"cannot find {where} in the cache ({cache}) and the Hub "
            "cannot be reached (offline: HF_HUB_OFFLINE=1 or local_files_only=True, or no network); "
            "download it once while online, or point HF_HOME at a cache that has it"
        ) from err
    except (HfHubHTTPError, *TRANSFER_ERRORS) as err:
        if isinstance(err, OSError) and err.errno in _CACHE_ERRNOS:
            raise HubRequestError(
                f"cannot store {where} in the Hub cache {cache} ({type(err).__name__}: {err}); make that "
                "folder writable (and give it free space), or point HF_HOME (or HF_HUB_CACHE, or cache_dir=) "
                "at one that is"
            ) from err
        raise HubRequestError(
            f"downloading {where} failed ({describe_request_error(err)}); nothing partial was kept in the "
            "cache, try again"
        ) from err
    return Path(path)


def describe_request_error(err: Exception) -> str:
    """One line for a failed Hub request: the HTTP status and the server's message, or the transport error.

    The full report stays on the exception, which callers chain.
    """
    if isinstance(err, HfHubHTTPError):
        response = err.response
        detail = err.server_message or response.reason_phrase
        return f"HTTP {response.status_code} from {response.request.url}" + (f": {detail}" if detail else "")
    return f"{type(err).__name__}: {' '.join(str(err).split())}"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def remove_cached_file(path: str | os.PathLike[str]) -> None:
    """Remove a file returned by :func:`download_file` and the cache blob it points to.

    The Hub cache stores content in ``blobs/`` and links it from ``snapshots/<commit>/``;
    removing both makes the next request download the file again.
    """
    blob = Path(os.path.realpath(path))
    Path(path).unlink(missing_ok=True)
    if blob != Path(path):
        blob.unlink(missing_ok=True)


def verify_sha256(path: str | os.PathLike[str], expected: str, *, what: str) -> None:
    """Check a downloaded file against its pinned sha256; on mismatch remove it from the cache.

    Args:
        path: The cached file.
        expected: Hex sha256 the file must have.
        what: How to name the file in the error message.

    Raises:
        ChecksumError: If the checksums differ; the cached copy has been removed.
    """
    actual = sha256_file(path)
    if actual != expected.lower():
        remove_cached_file(path)
        raise ChecksumError(
            f"{what}: sha256 is {actual}, expected {expected}. The file is corrupt or the repo does not hold "
            "the published weights; the cached copy was removed, so the next attempt downloads it again"
        )
    logger.debug("%s: sha256 %s verified", what, actual)
