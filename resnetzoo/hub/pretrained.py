"""Loading registered weights into models: fetch once, verify, convert once, cache as safetensors.

The first load of a record (:class:`~resnetzoo.Weights`) fetches its source file: from the Hub
with :mod:`huggingface_hub`, from a plain URL into ``$HF_HOME/resnetzoo/downloads``, or from the
air-gapped mirror that ``RESNETZOO_WEIGHTS_MIRROR`` names. The file is checked against the record's
sha256 (or the sha256 prefix its name carries, or the Hub's ETag), read with
``torch.load(weights_only=True)`` if it is a pickle, converted from its layout to resnetzoo's, checked
key by key against the architecture, and written to ``$HF_HOME/resnetzoo/converted/<name>/`` as
``model.safetensors`` + ``config.json``. Every later load reads only that safetensors file, with no
network request at all.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

from .._files import temp_dir
from ..errors import CheckpointError, ChecksumError, ConfigError, HubRequestError
from ..models.registry import create_model, require_loadable, resolve_weights, split_model_name
from ..models.weights import Weights
from ._state import apply_state_dict, check_state_dict, load_weights_file, verified_weights
from .config import CONFIG_NAME, WEIGHTS_NAME, read_config
from .convert import convert_state_dict, extract_state_dict
from .download import (
    HubOptions,
    download_file,
    download_url,
    remove_cached_file,
    resnetzoo_cache_dir,
    verify_hub_etag,
    verify_sha256,
)
from .save import unwrap_model, write_repo_files

__all__ = ["MIRROR_ENV", "build_with_weights", "converted_state", "load_pretrained"]

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=nn.Module)

MIRROR_ENV = "RESNETZOO_WEIGHTS_MIRROR"
"""A folder or base URL that serves the records' files instead of their origins (air-gapped machines).

A Hub file is found at ``<mirror>/<repo_id>/<filename>``, a URL's file at ``<mirror>/<file name>``."""

# Bumped whenever a conversion changes, so that copies converted by an older resnetzoo are redone.
_CONVERSION = 1


def load_pretrained(
    model: M,
    weights: str | Weights,
    *,
    reset_head: bool = False,
    progress: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
) -> M:
    """Load registered weights into ``model``: fetched, verified and converted once, then cached.

    The record is attached as ``model.pretrained_cfg`` (categories, mean, std, license, ...).

    Args:
        model: A model built by a registered factory (or any model with the same state-dict
            layout when ``weights`` is a record or full name).
        weights: A tag of the model's weights (``"akamaster_cifar10"``), a data set's name for its
            default weights (``"cifar10"``), a full name (``"resnet56_cifar.cifar10"``) or a
            :class:`Weights` record.
        reset_head: When the model's head size differs from the weights', load everything but
            the head and keep the model's own head (logged as a warning) instead of raising.
        progress: Show a download progress bar.
        cache_dir: Hub cache folder for Hub sources; ``None`` uses ``HF_HUB_CACHE``.
        local_files_only: Use the caches only, never the network.

    Returns:
        ``model``, with the weights loaded.

    Raises:
        ValueError: If the weights are unknown, belong to another architecture, or have a
            different number of classes than the model (without ``reset_head``).
        WeightsNotPublishedError: If the weights are planned but not published yet.
        HubRequestError: If the file cannot be fetched (offline and not cached, a mirror without it,
            a failed download).
        ChecksumError: If the file fails its sha256 or ETag check (a cached copy is removed).
        CheckpointError: If the file cannot be read safely or does not fit the model's layers.
    """
    target = unwrap_model(model)  # DataParallel / torch.compile wrappers share the inner module's tensors
    model_name = getattr(target, "model_name", None)
    if model_name is not None:
        record = resolve_weights(model_name, weights)
    elif isinstance(weights, Weights):
        record = weights
    elif isinstance(weights, str) and "." in weights:
        record = resolve_weights(split_model_name(weights)[0], weights)
    else:
        raise ValueError(
            f"cannot tell which model the weights tag {weights!r} belongs to: {type(target).__name__} was "
            "not built by a registered factory; pass a full name such as 'resnet20_cifar.cifar10'"
        )
    require_loadable(record)
    num_classes = getattr(target, "num_classes", record.num_classes)
    _check_head(record, num_classes, reset_head)
    state = converted_state(record, progress=progress, cache_dir=cache_dir, local_files_only=local_files_only)
    _load(target, state, record, num_classes, assign=False)
    return model


def build_with_weights(
    model_name: str,
    build: Callable[[int], M],
    *,
    weights: str | Weights | None,
    num_classes: int | None,
    reset_head: bool,
    progress: bool,
) -> M:
    """The model builder's weights loader (``resnetzoo.models._builder.build_model`` calls it).

    Resolves the weights first, so an unknown or unpublished tag fails before anything is fetched
    or built. The network is built on the ``meta`` device and takes the loaded tensors as they
    are: no random initialisation that the weights would overwrite.
    """
    record = resolve_weights(model_name, weights)
    require_loadable(record)
    num_classes = record.num_classes if num_classes is None else num_classes
    _check_head(record, num_classes, reset_head)
    state = converted_state(record, progress=progress)
    with torch.device("meta"):
        model = build(num_classes)
    _load(model, state, record, num_classes, assign=True)
    return model


def _check_head(record: Weights, num_classes: int, reset_head: bool) -> None:
    if num_classes != record.num_classes and not reset_head:
        raise ValueError(
            f"weights {record.name!r} have {record.num_classes} classes but the model has {num_classes}: "
            f"leave num_classes unset to get {record.num_classes}, or pass reset_head=True to load the "
            f"backbone and start a new {num_classes}-class head"
        )


def _load(
    model: nn.Module, state: Mapping[str, torch.Tensor], record: Weights, num_classes: int, *, assign: bool
) -> None:
    head_differs = num_classes != record.num_classes
    apply_state_dict(
        model,
        state,
        strict=True,
        source=record.name,
        ignore_prefixes=("fc.",) if head_differs else (),
        assign=assign,
    )
    if head_differs:
        if assign:  # the head was left on the meta device: give it real, initialised tensors
            model.reset_classifier(num_classes)
        logger.warning(
            "%s: loaded the backbone; the %d-class head was not loaded (the weights have %d classes) and "
            "keeps its own initialisation, so train it before use",
            record.name,
            num_classes,
            record.num_classes,
        )
    model.pretrained_cfg = record.for_new_head(num_classes) if head_differs else record
    logger.info("loaded weights %s", record.name)


def converted_state(
    record: Weights,
    *,
    progress: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
) -> dict[str, torch.Tensor]:
    """The record's weights in resnetzoo's layout, from the converted cache or fetched and converted now.

    Arguments are those of :func:`load_pretrained`.

    Raises:
        HubRequestError, ChecksumError, CheckpointError: As :func:`load_pretrained`.
    """
    folder = resnetzoo_cache_dir() / "converted" / f"v{_CONVERSION}" / record.name
    state = _read_converted(folder, record)
    if state is not None:
        return dict(verified_weights(state, source=str(folder / WEIGHTS_NAME)))
    path, sha256 = _fetch(record, progress=progress, cache_dir=cache_dir, local_files_only=local_files_only)
    label = f"weights {record.name!r} ({path})"
    raw = extract_state_dict(load_weights_file(path), label)
    in_chans = record.input_size[0]
    with torch.device("meta"):  # the architecture the weights were made for, holding no memory
        skeleton = create_model(record.architecture, num_classes=record.num_classes, in_chans=in_chans)
    state, _ = convert_state_dict(skeleton, raw, record.layout)
    # Checkpoints from before PyTorch 0.4.1 have no BatchNorm step counters; 0 is what a new model has.
    for key, value in skeleton.state_dict().items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros_like(value, device="cpu")
    check_state_dict(skeleton, state, source=label)
    verified_weights(state, source=str(path))  # before caching: a mirror file with no sha256 pin may be NaN
    state = {key: value.contiguous() for key, value in state.items()}
    _write_converted(folder, state, dataclasses.replace(record, sha256=sha256 or record.sha256))
    return state


def _read_converted(folder: Path, record: Weights) -> dict[str, torch.Tensor] | None:
    """The converted weights cached in ``folder`` if they are those of ``record``; else ``None``."""
    if not (folder / CONFIG_NAME).is_file() or not (folder / WEIGHTS_NAME).is_file():
        return None
    try:
        cached, _ = read_config(folder / CONFIG_NAME, source=str(folder))
        if cached.name != record.name or not _same_file(record, cached.sha256):
            logger.info(
                "the converted copy in %s is of other weights than %s; converting again", folder, record.name
            )
            return None
        return load_weights_file(folder / WEIGHTS_NAME)
    except (ConfigError, CheckpointError, OSError) as err:
        logger.warning("the converted copy in %s cannot be read (%s); converting again", folder, err)
        return None


def _same_file(record: Weights, sha256: str | None) -> bool:
    """Whether a file of this sha256 is the one ``record`` names (any file, if the record pins none)."""
    expected = record.sha256 or record.hash_prefix
    return expected is None or (sha256 is not None and sha256.startswith(expected))


def _write_converted(folder: Path, state: Mapping[str, torch.Tensor], record: Weights) -> None:
    """Cache the converted weights; a cache that cannot be written only costs a conversion next time."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = temp_dir(folder)  # readable as the umask allows, not 0700 as from mkdtemp
        try:
            write_repo_files(staging, state, record, card=None)
            shutil.rmtree(folder, ignore_errors=True)  # a stale or damaged copy
            os.rename(staging, folder)  # atomic: the folder appears complete or not at all
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as err:  # read-only or full cache; or another process renamed its copy first
        if not (folder / CONFIG_NAME).is_file():
            logger.warning("could not cache the converted weights of %s in %s: %s", record.name, folder, err)
        return
    logger.info("converted %s to safetensors in %s", record.name, folder)


def _fetch(
    record: Weights, *, progress: bool, cache_dir: str | os.PathLike[str] | None, local_files_only: bool
) -> tuple[Path, str | None]:
    """The verified source file of ``record`` and its sha256 (``None`` where nothing could hash it)."""
    what = f"weights {record.name!r} ({record.source})"
    expected = record.sha256 or record.hash_prefix
    if record.hf_hub_id is not None:
        relative = f"{record.hf_hub_id}/{record.hf_hub_filename}"
    else:
        relative = record.source_file_name or ""  # a plain file name: the record checks it
    mirror = os.environ.get(MIRROR_ENV)
    if mirror:
        return _from_mirror(mirror, relative, record, expected, what=what, progress=progress)
    if record.hf_hub_id is not None:
        options = HubOptions(record.hf_hub_revision, cache_dir, local_files_only, progress=progress)
        path = download_file(record.hf_hub_id, record.hf_hub_filename, options)
        _check_size(path, record, what, remove=True)
        if expected is None:
            return path, verify_hub_etag(path, what=what)
        return path, verify_sha256(path, expected, what=what)
    destination = resnetzoo_cache_dir() / "downloads" / relative
    if local_files_only and not destination.is_file():
        raise HubRequestError(
            f"cannot find {what} in the cache ({destination}) and local_files_only=True forbids "
            "downloading it"
        )
    path = download_url(record.url, destination, sha256=expected, what=what, progress=progress)  # type: ignore[arg-type]  # a URL record has a source and a check
    _check_size(path, record, what, remove=True)
    return path, verify_sha256(path, expected, what=what)  # type: ignore[arg-type]


def _from_mirror(
    mirror: str, relative: str, record: Weights, expected: str | None, *, what: str, progress: bool
) -> tuple[Path, str | None]:
    origin = record.source
    if re.match(r"https?://", mirror):
        url = f"{mirror.rstrip('/')}/{relative}"
        destination = resnetzoo_cache_dir() / "downloads" / relative
        try:
            path = download_url(url, destination, sha256=expected, what=what, progress=progress)
        except HubRequestError as err:
            raise HubRequestError(
                f"{err} (from the mirror {MIRROR_ENV}={mirror}; the mirror must serve the file of {origin} "
                f"at {url})"
            ) from err
        remove = True
    else:
        path = Path(mirror.removeprefix("file://")) / relative
        if not path.is_file():
            raise HubRequestError(
                f"cannot find {what} in the mirror {MIRROR_ENV}={mirror}: no file {path}. Put the file of "
                f"{origin} there (Hub files go under <mirror>/<repo_id>/<filename>, URL files under "
                "<mirror>/<file name>), or unset the variable to download from the origin"
            )
        remove = False  # the mirror's files are not ours to delete
    _check_size(path, record, what, remove=remove)
    if expected is None:
        logger.warning(
            "%s: served by the mirror %s with no sha256 to check it against (the record pins none, and "
            "only the Hub sends an ETag); loaded after the safe-unpickling and key checks only",
            what,
            mirror,
        )
        return path, None
    return path, verify_sha256(path, expected, what=f"{what} from the mirror {mirror}", remove=remove)


def _check_size(path: Path, record: Weights, what: str, *, remove: bool) -> None:
    """A precise message for a file cut short, before the sha256 says only that it differs."""
    if record.file_size is None:
        return
    size = path.stat().st_size
    if size != record.file_size:
        if remove:
            remove_cached_file(path)
        raise ChecksumError(
            f"{what}: {path} has {size:,} bytes, expected {record.file_size:,}: the file is cut short or "
            f"not the one the record names; {'it was removed from the cache' if remove else 'not loaded'}"
        )
