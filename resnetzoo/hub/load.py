"""Reading models and weights back: :func:`from_pretrained` and :func:`load_checkpoint`.

Both take any source :func:`~resnetzoo.hub.source.resolve_source` knows and read it through
:func:`~resnetzoo.hub.source.read_source`, so every kind of source is found, checked and refused
the same way.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

import torch
from torch import nn

from .._validate import check_bool, check_choice
from ..errors import ArgumentTypeError
from ._state import LoadReport, apply_state_dict, verified_weights
from .config import WEIGHTS_NAME
from .convert import _LAYOUTS, Layout, convert_state_dict, extract_state_dict
from .download import HubOptions
from .save import unwrap_model
from .source import ModelSource, SourceWeights, load_model, read_source, resolve_source

__all__ = ["from_pretrained", "load_checkpoint", "read_state_dict"]


def from_pretrained(
    source: str | os.PathLike[str],
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    progress: bool = True,
    allow_nonfinite: bool = False,
) -> nn.Module:
    """Rebuild a model from anything that names its architecture: weights by name, a folder, a run, the Hub.

    The architecture comes from the source (``config.json``, registered models only, every field
    validated; a registered name; a training checkpoint) and the weights load strictly into a model
    built once. The metadata is attached as ``model.pretrained_cfg`` (``categories``, ``mean``,
    ``std``, ``input_size``, ``metrics``, ...). The model is returned in training mode, like every
    factory; call ``.eval()``.

    Args:
        source: A folder written by :func:`save_pretrained`; a training run's folder (its ``best/``);
            a Hub repo, ``"hf-hub:org/name"`` or ``"org/name"`` when no local folder has that name;
            weights by name, ``"resnet56_cifar.cifar10"``, or a bare ``"resnet56_cifar"`` for its default
            weights (what ``create_model(name, pretrained=True)`` loads); or a Trainer checkpoint file.
        revision: Branch, tag or commit of a Hub repo; both files come from the same commit.
        cache_dir: Hub cache folder; ``None`` uses ``HF_HUB_CACHE``.
        local_files_only: Use the cache only, never the network.
        token: Hub token for private repos.
        progress: Show download progress bars.
        allow_nonfinite: Load weights that hold NaN or infinite values instead of refusing them.

    Returns:
        The model with its weights.

    Raises:
        ValueError: If a Hub source is not ``hf-hub:org/name`` (e.g. it holds ``..``), or the source is a
            state dict that does not name its architecture (load it with :func:`load_checkpoint`).
        FileNotFoundError: If nothing of that name exists, or a folder has no ``config.json``.
        ConfigError: If ``config.json`` is invalid.
        CheckpointError: If the weights do not fit the architecture, cannot be read safely, or hold NaN or
            infinite values and not ``allow_nonfinite``.
        HubRequestError: If a Hub file cannot be downloaded.

    Example:
        >>> model = from_pretrained("hf-hub:resnetzoo/resnet20_cifar.cifar10")  # doctest: +SKIP
    """
    hub = HubOptions(revision, cache_dir, local_files_only, token, progress)
    return load_model(source, hub=hub, allow_nonfinite=allow_nonfinite)


def _read_weights(
    source: str | os.PathLike[str] | ModelSource, hub: HubOptions, allow_nonfinite: bool = False
) -> SourceWeights:
    """The weights of ``source`` alone: a Hub repo means its model.safetensors, without config.json."""
    src = resolve_source(source, what="checkpoint")
    if src.kind == "hub" and src.filename is None:
        src = dataclasses.replace(src, filename=WEIGHTS_NAME)
    return read_source(src, hub=hub, allow_nonfinite=allow_nonfinite)


def read_state_dict(
    source: str | os.PathLike[str] | ModelSource,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
) -> dict[str, torch.Tensor]:
    """The flat state dict of any source :func:`load_checkpoint` takes, wrapper prefixes removed.

    Reads with safetensors or the safe ``torch.load`` only. Arguments are those of
    :func:`load_checkpoint`.

    Raises:
        FileNotFoundError: If a local file does not exist.
        CheckpointError: If the file cannot be read safely, holds no state dict, or holds NaN or
            infinite values.
        HubRequestError: If a Hub file cannot be downloaded.
    """
    return _read_weights(source, HubOptions(revision, cache_dir, local_files_only, token)).state


def load_checkpoint(
    model: nn.Module,
    source: str | os.PathLike[str] | ModelSource | Mapping[str, torch.Tensor],
    *,
    strict: bool = True,
    layout: Layout = "auto",
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    allow_nonfinite: bool = False,
) -> LoadReport:
    """Load a checkpoint in a foreign layout into ``model`` and report what did not map.

    Args:
        model: The resnetzoo model to load into, built with the right ``num_classes``.
        source: A local file (``.safetensors``, ``.pt``, ``.pth``, ``.th``, ``.bin``,
            ``.pth.tar``; a Trainer checkpoint too), a saved model's folder, a training run's folder (its
            ``best/``), weights by name (``"resnet56_cifar.cifar10"``), ``"hf-hub:org/name[/filename]"``
            (the repo's model by default), or a state dict already read by :func:`read_state_dict`.
        strict: Raise unless every tensor maps; otherwise load what fits and report the rest.
        layout: ``"auto"`` detects it: ``linear``/``shortcut`` names are kuangliu's, or
            akamaster's when the model has option-A shortcuts; anything else is read as
            torchvision/timm/resnetzoo (and chenyaofo) names. Name a layout to override the detection.
        revision: Revision of a Hub source.
        cache_dir: Hub cache folder; ``None`` uses ``HF_HUB_CACHE``.
        local_files_only: Use the Hub cache only, never the network.
        token: Hub token for private repos.
        allow_nonfinite: Load weights that hold NaN or infinite values instead of refusing them.

    Returns:
        A :class:`LoadReport` naming the loaded, missing, unexpected and mis-shaped keys.

    Raises:
        ValueError: If ``layout`` or a Hub source is malformed.
        FileNotFoundError: If a local file does not exist.
        CheckpointError: If the file cannot be read safely, holds no state dict, or (when
            ``strict``) a key is missing, unexpected or of the wrong shape, or a tensor holds NaN or
            infinite values and not ``allow_nonfinite``; nothing is loaded then.
        HubRequestError: If a Hub file cannot be downloaded.
    """
    check_choice("layout", layout, _LAYOUTS)
    strict = check_bool("strict", strict)
    if not isinstance(model, nn.Module):
        raise ArgumentTypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    model = unwrap_model(model)
    allow_nonfinite = check_bool("allow_nonfinite", allow_nonfinite)
    if isinstance(source, Mapping):
        label = "state dict"
        state = extract_state_dict(source, label)
        verified_weights(state, source=label, allow_nonfinite=allow_nonfinite)
    else:
        hub = HubOptions(revision, cache_dir, local_files_only, token)
        found = _read_weights(source, hub, allow_nonfinite)
        label, state = found.label, found.state
    state, layout = convert_state_dict(model, state, layout)
    return apply_state_dict(model, state, strict=strict, source=label, layout=layout)
