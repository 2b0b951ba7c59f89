"""Fetching files into the local cache, and checking them.

Hub files go through :func:`huggingface_hub.hf_hub_download`, so the Hub client's cache
(``HF_HOME`` / ``HF_HUB_CACHE``), endpoint (``HF_ENDPOINT``), offline mode (``HF_HUB_OFFLINE``)
and token handling apply unchanged. A file pinned to a commit hash that is already cached is
returned without any network request. The client's errors are turned into one
:class:`HubRequestError` whose message says what was missing and what to do.

Files at plain URLs go through :func:`torch.hub.download_url_to_file` into resnetzoo's own cache
(:func:`resnetzoo_cache_dir`), which writes a temporary file and moves it into place only after
its sha256 matched: a cut-off or altered download never lands in the cache.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import logging
import os
import re
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import torch.hub
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
from ..models.weights import check_repo_file

__all__ = [
    "TRANSFER_ERRORS",
    "HubOptions",
    "check_repo_file",
    "describe_request_error",
    "download_file",
    "download_url",
    "remove_cached_file",
    "resnetzoo_cache_dir",
    "sha256_file",
    "verify_hub_etag",
    "verify_sha256",
]

logger = logging.getLogger(__name__)

try:  # huggingface_hub >= 2 re-exports its HTTP client (httpx2) under this name for libraries
    from huggingface_hub.utils import httpx as _hub_http
except ImportError:  # huggingface_hub 1.x calls httpx itself
    import httpx as _hub_http

# A connection dropped mid-file or a timeout surfaces as the HTTP client's transport error once the Hub
# client has given up resuming; some failures surface as OSError subclasses instead.
TRANSFER_ERRORS: tuple[type[Exception], ...] = (OSError, _hub_http.TransportError)


# Errors of the local file system, not of the transfer: retrying cannot help, the cache must change.
_CACHE_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("EACCES", "EPERM", "EROFS", "ENOTDIR", "EISDIR", "EEXIST", "ENOSPC", "EDQUOT")
    if hasattr(errno, name)  # EDQUOT is POSIX only
)


@dataclass(frozen=True)
class HubOptions:
    """How Hub files are fetched: what every loader passes through to :func:`download_file`.

    Args:
        revision: Branch, tag or commit hash; ``None`` is the default branch.
        cache_dir: Cache folder; ``None`` uses ``HF_HUB_CACHE`` (``$HF_HOME/hub``).
        local_files_only: Never touch the network; the file must be cached.
        token: Hub token for private repos; ``None`` uses the logged-in token, if any.
        progress: Show a progress bar while downloading.
    """

    revision: str | None = None
    cache_dir: str | os.PathLike[str] | None = None
    local_files_only: bool = False
    token: str | bool | None = None
    progress: bool = True


def download_file(repo_id: str, filename: str, options: HubOptions | None = None) -> Path:
    """Download ``filename`` of a Hub model repo into the cache (or find it there) and return its path.

    Args:
        repo_id: ``"org/name"``.
        filename: Path of the file in the repo.
        options: Revision, cache, token and progress bar; ``None``: the defaults of :class:`HubOptions`.

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
    options = options or HubOptions()
    where = f"{filename!r} of {repo_id!r} at revision {options.revision or 'main'!r}"
    cache_dir = options.cache_dir
    cache = os.fspath(cache_dir) if cache_dir is not None else hf_constants.HF_HUB_CACHE
    try:
        path = hf_hub_download(
            repo_id,
            filename,
            revision=options.revision,
            cache_dir=cache_dir,
            local_files_only=options.local_files_only,
            token=options.token,
            library_name="resnetzoo",
            library_version=__version__,
            tqdm_class=None if options.progress else silent_tqdm,
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


def verify_sha256(path: str | os.PathLike[str], expected: str, *, what: str, remove: bool = True) -> str:
    """Check a file against its pinned sha256 (or the prefix of one); on mismatch remove it from the cache.

    Args:
        path: The cached file.
        expected: Hex sha256 the file must have, or its first 8 or more digits.
        what: How to name the file in the error message.
        remove: Remove the file (and its cache blob) on a mismatch; ``False`` for files that are
            not ours to delete, such as a mirror's.

    Returns:
        The file's full sha256.

    Raises:
        ChecksumError: If the checksums differ; the cached copy has been removed.
    """
    actual = sha256_file(path)
    if not actual.startswith(expected.lower()):
        if remove:
            remove_cached_file(path)
        kept = (
            "the cached copy was removed, so the next attempt downloads it again" if remove else "not loaded"
        )
        raise ChecksumError(
            f"{what}: sha256 is {actual}, expected {'one starting with ' if len(expected) < 64 else ''}"
            f"{expected}. The file is cut short, corrupt, or not the file the record names; {kept}"
        )
    logger.debug("%s: sha256 %s verified", what, actual)
    return actual


_GIT_SHA1 = re.compile(r"[0-9a-f]{40}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def verify_hub_etag(path: str | os.PathLike[str], *, what: str) -> str | None:
    """Re-hash a file downloaded from the Hub and compare it with the ETag the Hub sent.

    ``hf_hub_download`` checks only a file's size. The Hub's ETag is the sha256 of an LFS file and
    the git blob sha1 of a small one, and the client stores the file under that name in its cache
    (``blobs/<etag>``), so the content can be checked against it afterwards.

    Returns:
        The file's sha256, or ``None`` when the cache keeps no ETag to check against (a cache
        without symlinks, as on Windows without developer mode; a warning is logged).

    Raises:
        ChecksumError: If the content does not hash to the ETag; the cached copy has been removed.
    """
    etag = Path(os.path.realpath(path)).name
    if _SHA256.fullmatch(etag):
        return verify_sha256(path, etag, what=f"{what} (checked against the Hub's ETag)")
    if _GIT_SHA1.fullmatch(etag):
        data = Path(path).read_bytes()
        actual = hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
        if actual != etag:
            remove_cached_file(path)
            raise ChecksumError(
                f"{what}: git blob sha1 is {actual}, but the Hub's ETag is {etag}. The file is cut short or "
                "corrupt; the cached copy was removed, so the next attempt downloads it again"
            )
        return hashlib.sha256(data).hexdigest()
    logger.warning(
        "%s: the Hub cache keeps no ETag for this file (a cache without symlinks), so its content was not "
        "re-hashed; only its size was checked",
        what,
    )
    return None


def resnetzoo_cache_dir() -> Path:
    """resnetzoo's own cache, ``$HF_HOME/resnetzoo``: files from plain URLs and converted weights."""
    return Path(hf_constants.HF_HOME) / "resnetzoo"


def download_url(
    url: str, destination: Path, *, sha256: str | None, what: str, progress: bool = True
) -> Path:
    """Download ``url`` to ``destination``, unless a file is there already (the caller verifies it).

    The file is written under a temporary name and moved to ``destination`` only once its sha256
    matched, so a cut-off or altered download never stays in the cache.

    Args:
        url: An ``http(s)://`` or ``file://`` URL.
        destination: Where the file is kept.
        sha256: The file's full sha256, or its first 8 or more hex digits; ``None`` checks nothing.
        what: How to name the file in error messages.
        progress: Show a progress bar.

    Returns:
        ``destination``.

    Raises:
        HubRequestError: If the download fails, or the file is not there and ``HF_HUB_OFFLINE`` is set.
        ChecksumError: If the downloaded file does not have the sha256 (nothing is kept).
    """
    if destination.is_file():
        return destination
    if hf_constants.HF_HUB_OFFLINE and not url.startswith("file:"):
        raise HubRequestError(
            f"cannot download {what} from {url}: offline (HF_HUB_OFFLINE=1) and not in the cache "
            f"({destination}); download it once while online, or serve it from a mirror "
            "(RESNETZOO_WEIGHTS_MIRROR=<folder>)"
        )
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(
            url, os.fspath(destination), hash_prefix=sha256.lower() if sha256 else None, progress=progress
        )
    except RuntimeError as err:
        if "invalid hash value" not in str(err):
            raise
        raise ChecksumError(
            f"{what}: the file downloaded from {url} does not have the expected sha256 ({err}). It was cut "
            "short, corrupted in transit, or the server holds another file; nothing was kept, so the next "
            "attempt downloads it again"
        ) from err
    except urllib.error.HTTPError as err:
        raise HubRequestError(f"cannot download {what}: HTTP {err.code} {err.reason} from {url}") from err
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        if isinstance(err, OSError) and err.errno in _CACHE_ERRNOS:
            raise HubRequestError(
                f"cannot store {what} in {destination.parent} ({type(err).__name__}: {err}); make that "
                "folder writable (and give it free space), or point HF_HOME at one that is"
            ) from err
        reason = getattr(err, "reason", err)
        raise HubRequestError(
            f"downloading {what} from {url} failed ({type(err).__name__}: {reason}); nothing partial was "
            "kept, try again"
        ) from err
    return destination
