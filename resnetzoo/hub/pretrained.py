"""Loading published weights into models: :func:`load_pretrained` and the factories' hook."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TypeVar

from torch import nn

from ..models.registry import split_model_name
from ._state import apply_state_dict, load_weights_file
from .download import download_file, verify_sha256
from .serialization import HF_HUB_PREFIX, make_pretrained_cfg, unwrap_model
from .weights import Weights, require_published, resolve_weights

__all__ = ["build_with_weights", "load_pretrained"]

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=nn.Module)


def load_pretrained(
    model: M,
    weights: str | Weights,
    *,
    reset_head: bool = False,
    progress: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
) -> M:
    """Load published weights into ``model``, verified against the record's sha256.

    The file is downloaded once into the Hub cache (``HF_HOME``); later loads read the cache
    without any network request, also with ``HF_HUB_OFFLINE=1``. The record's metadata is
    attached as ``model.pretrained_cfg`` (``categories``, ``mean``, ``std``, ...).

    Args:
        model: A model built by a registered factory (or any model with the same state-dict
            layout when ``weights`` is a record or full name).
        weights: A tag of the model's weights (``"cifar10"``), a full name
            (``"resnet56_cifar.cifar10"``) or a :class:`Weights` record.
        reset_head: When the model's head size differs from the weights', load everything but
            the head and keep the model's own head (logged as a warning) instead of raising.
        progress: Show a download progress bar.
        cache_dir: Hub cache folder; ``None`` uses ``HF_HUB_CACHE``.
        local_files_only: Use the cache only, never the network.

    Returns:
        ``model``, with the weights loaded.

    Raises:
        ValueError: If the weights are unknown, belong to another architecture, or have a
            different number of classes than the model (without ``reset_head``).
        WeightsNotPublishedError: If the weights are not published yet.
        HubRequestError: If the file cannot be downloaded.
        ChecksumError: If the file does not match the record's sha256 (it is removed from the cache).
        CheckpointError: If the weights do not fit the model's layers.
    """
    target = unwrap_model(model)  # DataParallel / torch.compile wrappers share the inner module's tensors
    model_name = getattr(target, "model_name", None)
    if isinstance(weights, Weights):
        record = weights if model_name is None else resolve_weights(model_name, weights)
    elif model_name is not None:
        record = resolve_weights(model_name, weights)
    elif "." in weights:
        record = resolve_weights(split_model_name(weights)[0], weights)
    else:
        raise ValueError(
            f"cannot tell which model the weights tag {weights!r} belongs to: {type(target).__name__} was "
            "not built by a registered factory; pass a full name such as 'resnet18_cifar.cifar10'"
        )
    require_published(record)
    num_classes = getattr(target, "num_classes", record.num_classes)
    head_differs = num_classes != record.num_classes
    if head_differs and not reset_head:
        raise ValueError(
            f"weights {record.name!r} have {record.num_classes} classes but the model has {num_classes}: "
            f"leave num_classes unset to get {record.num_classes}, or pass reset_head=True to load the "
            f"backbone and start a new {num_classes}-class head"
        )

    what = f"weights {record.name!r} ({record.repo_id}@{record.revision}, {record.filename})"
    path = download_file(
        record.repo_id,
        record.filename,
        revision=record.revision,
        cache_dir=cache_dir,
        local_files_only=local_files_only,
        progress=progress,
    )
    if record.sha256 is not None:
        verify_sha256(path, record.sha256, what=what)
    apply_state_dict(
        target,
        load_weights_file(path),
        strict=True,
        source=f"{HF_HUB_PREFIX}{record.repo_id}",
        ignore_prefixes=("fc.",) if head_differs else (),
    )
    if head_differs:
        logger.warning(
            "%s: loaded the backbone; the %d-class head was not loaded (the weights have %d classes) and "
            "keeps its own initialisation, so train it before use",
            record.name,
            num_classes,
            record.num_classes,
        )
    target.pretrained_cfg = make_pretrained_cfg(
        source=f"{HF_HUB_PREFIX}{record.repo_id}",
        revision=record.revision,
        architecture=record.model_name,
        num_classes=num_classes,
        # Class names and scores describe the head that was trained; a new head has neither.
        categories=None if head_differs else record.categories,
        mean=record.mean,
        std=record.std,
        input_size=record.input_size,
        dataset=record.dataset,
        metrics={} if head_differs else record.metrics,
        recipe=record.recipe,
        license=record.license,
    )
    logger.info("loaded %s", what)
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
    """The factories' weights loader (installed with ``registry.set_weights_loader``).

    Resolves the weights first, so an unknown or unpublished tag fails before anything is
    built, then builds with the weights' class count unless ``num_classes`` says otherwise.
    """
    record = resolve_weights(model_name, weights)
    require_published(record)
    model = build(record.num_classes if num_classes is None else num_classes)
    return load_pretrained(model, record, reset_head=reset_head, progress=progress)
