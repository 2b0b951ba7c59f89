"""Reading a resnetzoo repo back: :func:`from_pretrained`."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
from pathlib import Path

import torch
from torch import nn

from ..errors import HubRequestError
from ..models.registry import HF_HUB_PREFIX, create_model, get_model_factory, get_weights
from ._state import apply_state_dict, check_state_dict, load_weights_file
from .config import CONFIG_NAME, WEIGHTS_NAME, read_config
from .download import download_file

__all__ = ["from_pretrained"]

logger = logging.getLogger(__name__)

_REPO_ID = re.compile(r"[\w.-]+/[\w.-]+")
_COMMIT_HASH = re.compile(r"[0-9a-f]{40}")
_RUN_BEST = "best"  # a training run's selected model inside its folder (resnetzoo.train.run.BEST_DIR)


def from_pretrained(
    source: str | os.PathLike[str],
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    progress: bool = True,
) -> nn.Module:
    """Rebuild a model from a resnetzoo repo: a local folder, a training run, a Hub repo, or weights by name.

    The architecture comes from ``config.json`` (registered models only, every field
    validated) and the weights load strictly. The metadata is attached as
    ``model.pretrained_cfg`` (``categories``, ``mean``, ``std``, ``input_size``, ``metrics``,
    ...). The model is returned in training mode, like every factory; call ``.eval()``.

    Args:
        source: A folder written by :func:`save_pretrained`; a training run's folder (its ``best/``);
            a Hub repo, ``"hf-hub:org/name"`` or ``"org/name"`` when no local folder has that name; or
            weights by name, ``"resnet56_cifar.cifar10"`` (what ``create_model(name, pretrained=True)``
            loads).
        revision: Branch, tag or commit of a Hub repo; both files come from the same commit.
        cache_dir: Hub cache folder; ``None`` uses ``HF_HUB_CACHE``.
        local_files_only: Use the cache only, never the network.
        token: Hub token for private repos.
        progress: Show download progress bars.

    Returns:
        The model with its weights.

    Raises:
        ValueError: If a Hub source is not ``hf-hub:org/name`` (e.g. it holds ``..``).
        FileNotFoundError: If a local folder or its ``config.json`` does not exist.
        ConfigError: If ``config.json`` is invalid.
        CheckpointError: If the weights do not fit the architecture or cannot be read.
        HubRequestError: If a Hub file cannot be downloaded.

    Example:
        >>> model = from_pretrained("hf-hub:resnetzoo/resnet20_cifar.cifar10")  # doctest: +SKIP
    """
    text = os.fspath(source)
    folder = Path(text)
    if (
        folder.is_dir()
        and not (folder / CONFIG_NAME).is_file()
        and (folder / _RUN_BEST / CONFIG_NAME).is_file()
    ):
        text = str(folder / _RUN_BEST)  # a run folder: its selected model (resnetzoo.train.run)
    elif not folder.exists() and "." in text and "/" not in text and not text.startswith(HF_HUB_PREFIX):
        with contextlib.suppress(ValueError):
            get_weights(text)  # weights by name, "resnet56_cifar.cifar10": the registry loads them
            return create_model(text, pretrained=True, progress=progress)
    bare_repo_id = not text.startswith(HF_HUB_PREFIX) and _REPO_ID.fullmatch(text) and not Path(text).exists()
    if bare_repo_id:  # "org/name" is a Hub repo unless a local path has that name
        try:
            return from_pretrained(
                HF_HUB_PREFIX + text,
                revision=revision,
                cache_dir=cache_dir,
                local_files_only=local_files_only,
                token=token,
                progress=progress,
            )
        except HubRequestError as err:
            raise HubRequestError(
                f"{err}. ({text!r} is no local folder either, so it was taken for a Hub repo.)"
            ) from err
    if text.startswith(HF_HUB_PREFIX):
        repo_id = text[len(HF_HUB_PREFIX) :]
        fetch = {
            "cache_dir": cache_dir,
            "local_files_only": local_files_only,
            "token": token,
            "progress": progress,
        }
        config_path = download_file(repo_id, CONFIG_NAME, revision=revision, **fetch)
        # Pin the weights to the commit the config came from (the cache keeps files under
        # snapshots/<commit>/), so a push in between cannot pair files of two commits.
        commit = config_path.parent.name if _COMMIT_HASH.fullmatch(config_path.parent.name) else revision
        label = f"{text}@{commit or 'main'}"
        record, kwargs = read_config(config_path, source=label)
        weights_path = download_file(repo_id, WEIGHTS_NAME, revision=commit, **fetch)
        here = {"hf_hub_id": repo_id, "hf_hub_revision": commit}
    else:
        folder = Path(text)
        if not folder.is_dir():
            raise FileNotFoundError(f"{text} is not a folder")
        config_path = folder / CONFIG_NAME
        if not config_path.is_file():
            raise FileNotFoundError(
                f"{folder} has no {CONFIG_NAME}, so it is not a resnetzoo repo; write one with "
                "resnetzoo.save_pretrained(model, folder), or load foreign weights with "
                "resnetzoo.load_checkpoint"
            )
        label = str(folder)
        record, kwargs = read_config(config_path, source=label)
        here = {"file": label}
        weights_path = folder / WEIGHTS_NAME
        if not weights_path.is_file():
            raise FileNotFoundError(f"{folder} has {CONFIG_NAME} but no {WEIGHTS_NAME}")

    state = load_weights_file(weights_path)
    factory = get_model_factory(record.architecture)
    # The weights must fit before the model is allocated: config.json may ask for any num_classes
    # or in_chans (a billion classes are gigabytes), so the check runs on a skeleton on the meta
    # device, which holds no memory.
    with torch.device("meta"):
        skeleton = factory(**kwargs)
    check_state_dict(skeleton, state, source=label)
    model = factory(**kwargs)
    apply_state_dict(model, state, strict=True, source=label)
    if record.source is None:  # weights of the repo's own making: this repo is their source
        record = dataclasses.replace(record, **here)
    model.pretrained_cfg = record
    logger.info("loaded %s from %s", record.architecture, label)
    return model
