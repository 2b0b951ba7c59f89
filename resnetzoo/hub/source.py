"""Where a model comes from: one resolver for what a user typed, one reader, one builder.

:func:`resolve_source` turns a string (a registered name, a folder, a file, a Hub repo) into a
:class:`ModelSource`; :func:`read_source` reads the weights it names, and what it records about
them, through the one integrity gate (:func:`~resnetzoo.hub._state.verified_weights`);
:func:`load_model` builds the model once, on the ``meta`` device, and gives it those weights.
:func:`resnetzoo.from_pretrained`, :func:`resnetzoo.load_checkpoint`,
``create_model("hf-hub:...")`` and every command-line option that names a model
(``--weights``, ``--checkpoint``, ``--teacher``, ``convert``'s source) go through here.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from .._integrity import CHECKPOINT_FORMAT
from .._record import decode_record
from .._validate import check_bool
from ..errors import (
    ArgumentError,
    ArgumentTypeError,
    CheckpointError,
    HubRequestError,
    WeightsNotPublishedError,
)
from ..models import Weights
from ..models._builder import build_kwargs
from ..models.registry import (
    HF_HUB_PREFIX,
    get_model_factory,
    get_weights,
    require_loadable,
    split_model_name,
)
from ._state import LEGACY_SUFFIXES, apply_state_dict, check_state_dict, load_weights_file, verified_weights
from .config import CONFIG_NAME, WEIGHTS_NAME, read_config
from .convert import Layout, convert_state_dict, extract_state_dict
from .download import HubOptions, check_repo_file, download_file
from .pretrained import converted_state

__all__ = ["ModelSource", "SourceKind", "SourceWeights", "load_model", "read_source", "resolve_source"]

logger = logging.getLogger(__name__)

SourceKind = Literal["registered", "saved", "run", "checkpoint", "hub", "state_dict"]

RUN_BEST = "best"  # a training run's selected model inside its folder (resnetzoo.train.run.BEST_DIR)
_COMMIT_HASH = re.compile(r"[0-9a-f]{40}")
_REPO_ID = re.compile(r"[\w.-]+/[\w.-]+")  # "org/name"; download_file checks it strictly
_NAME = re.compile(r"[A-Za-z_]\w*(\.[\w-]+)?")  # "resnet56_cifar" or "resnet56_cifar.cifar10"
_WEIGHTS_SUFFIXES = (".safetensors", *LEGACY_SUFFIXES)
_TRIED = (
    "a registered model name (NAME or NAME.TAG, see resnetzoo.list_models()), a saved model's folder "
    "(config.json + model.safetensors), a training run's folder (best/), a training checkpoint or state-dict "
    f"file ({', '.join(_WEIGHTS_SUFFIXES)}), or a Hub repo ({HF_HUB_PREFIX}org/name or org/name)"
)


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from, as :func:`resolve_source` found it.

    Args:
        kind: ``"registered"`` (weights by name), ``"saved"`` (a folder of :func:`save_pretrained`),
            ``"run"`` (a training run's folder: its ``best/``), ``"checkpoint"`` (a Trainer checkpoint
            file), ``"hub"`` (a Hub repo, or one file of it) or ``"state_dict"`` (a weights file in any
            layout :func:`load_checkpoint` knows).
        spec: What the user typed.
        path: The folder (``saved``; ``run``: its ``best/``) or file (``checkpoint``, ``state_dict``).
        name: The registered model name, without the tag (``registered``).
        tag: The weights tag, ``None`` for the model's default weights (``registered``).
        repo_id: ``"org/name"`` (``hub``).
        filename: One file of the repo (``hub`` as :func:`load_checkpoint` reads it); ``None`` for the
            repo's model (``config.json`` + ``model.safetensors``).
    """

    kind: SourceKind
    spec: str
    path: Path | None = None
    name: str | None = None
    tag: str | None = None
    repo_id: str | None = None
    filename: str | None = None

    @property
    def label(self) -> str:
        """How messages name the source: the path of a local one, else what was typed."""
        return str(self.path) if self.path is not None else self.spec


@dataclass(frozen=True)
class SourceWeights:
    """The weights a source holds, and what it records about them (``None`` where it records nothing)."""

    state: dict[str, torch.Tensor]
    label: str
    record: Weights | None = None  # says what the model is, its constructor arguments too
    architecture: str | None = None
    # The constructor arguments of a checkpoint that holds no record (only beside the record, as 0.1.0
    # wrote them); where there is a record they are its own.
    model_kwargs: dict[str, Any] | None = None


def resolve_source(spec: str | os.PathLike[str] | ModelSource, *, what: str = "model source") -> ModelSource:
    """Find what ``spec`` names, without reading any weights.

    Tried in order: ``hf-hub:org/name[/filename]``; an existing folder (a saved model, or a run's
    ``best/``) or file (a training checkpoint, else a state dict); a registered name or ``NAME.TAG``;
    ``org/name``, a Hub repo (only when no local path has that name).

    Args:
        spec: What the user typed (a :class:`ModelSource` is returned as it is).
        what: How messages call it (``"checkpoint"``, ``"--weights"``, ...).

    Raises:
        ArgumentTypeError: If ``spec`` is not a string or path.
        ArgumentError: If ``spec`` is empty, a malformed Hub name, or looks like a model name that is not
            registered (the message suggests close names).
        FileNotFoundError: If nothing matches; the message lists what was tried.
        CheckpointError: If a folder holds neither a saved model nor a run, or a file is of an unsupported
            type or cannot be read.
    """
    if isinstance(spec, ModelSource):
        return spec
    if not isinstance(spec, (str, os.PathLike)):
        raise ArgumentTypeError(f"{what} must be a string or a path; got {type(spec).__name__}")
    text = os.fspath(spec)
    if not isinstance(text, str) or not text:
        raise ArgumentError(f"{what} is empty; name {_TRIED}")
    if text.startswith(HF_HUB_PREFIX):
        parts = text[len(HF_HUB_PREFIX) :].split("/")
        if len(parts) < 2 or not all(parts) or not _REPO_ID.fullmatch("/".join(parts[:2])):
            raise ArgumentError(f"{what} {text!r}: expected {HF_HUB_PREFIX}org/name[/filename]")
        return ModelSource("hub", text, repo_id="/".join(parts[:2]), filename="/".join(parts[2:]) or None)
    path = Path(text)
    if path.is_dir():
        return _local_folder(path, text, what)
    if path.is_file():
        if not path.name.lower().endswith(_WEIGHTS_SUFFIXES):
            raise CheckpointError(
                f"unsupported weights file {path.name!r}: expected .safetensors or one of "
                f"{', '.join(LEGACY_SUFFIXES)}"
            )
        kind: SourceKind = "checkpoint" if _is_training_checkpoint(path) else "state_dict"
        return ModelSource(kind, text, path=path)
    if _NAME.fullmatch(text) and not text.lower().endswith(_WEIGHTS_SUFFIXES):
        name, tag = split_model_name(text)
        try:
            get_model_factory(name)
        except ArgumentError as err:
            raise ArgumentError(
                f"{what} {text!r}: {err}; and no file or folder of that name exists"
            ) from None
        return ModelSource("registered", text, name=name, tag=tag)
    if _REPO_ID.fullmatch(text) and not text.lower().endswith(_WEIGHTS_SUFFIXES):
        return ModelSource("hub", text, repo_id=text)
    raise FileNotFoundError(f"{what} {text} does not exist; expected {_TRIED}")


def _local_folder(path: Path, text: str, what: str) -> ModelSource:
    if (path / CONFIG_NAME).is_file():
        if not (path / WEIGHTS_NAME).is_file():
            raise FileNotFoundError(f"{path} has {CONFIG_NAME} but no {WEIGHTS_NAME}")
        return ModelSource("saved", text, path=path)
    best = path / RUN_BEST
    if (best / CONFIG_NAME).is_file():
        return ModelSource("run", text, path=best)  # a run folder: its selected model (resnetzoo.train.run)
    raise FileNotFoundError(
        f"{what} {path} has no {CONFIG_NAME}, so it is not a resnetzoo repo (nor a run folder with "
        f"{RUN_BEST}/{CONFIG_NAME}); write one with resnetzoo.save_pretrained(model, folder), or load "
        "foreign weights with resnetzoo.load_checkpoint"
    )


def _is_training_checkpoint(path: Path) -> bool:
    """Whether ``path`` is a resnetzoo Trainer checkpoint, from the first bytes of its pickle alone.

    :func:`~resnetzoo.train.write_checkpoint` puts ``"format": "resnetzoo.checkpoint"`` first, so the
    marker sits in the first bytes of the archive's ``data.pkl``: no need to read a file of optimizer
    state twice. Anything unreadable is left to :func:`read_source`, which names the damage.
    """
    try:
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as archive:
            member = next((n for n in archive.namelist() if n.endswith("/data.pkl")), None)
            if member is None:
                return False
            with archive.open(member) as f:
                head = f.read(256)
    except Exception:  # a damaged archive (BadZipFile, OSError, ...): read_source reports it
        return False
    return CHECKPOINT_FORMAT.encode() in head


def read_source(
    source: str | os.PathLike[str] | ModelSource,
    *,
    hub: HubOptions | None = None,
    allow_nonfinite: bool = False,
) -> SourceWeights:
    """The weights ``source`` names and what it records about them, through the integrity gate.

    Registered weights are fetched, verified (sha256, size, ETag) and converted to resnetzoo's layout;
    a folder's or Hub repo's ``config.json`` is validated; a file is read with safetensors or the safe
    ``torch.load``. The state dict is the one inside the container, with wrapper prefixes removed, still
    in its own layout.

    Raises:
        CheckpointError: If a file cannot be read safely, holds no state dict, or holds NaN or infinite
            values and not ``allow_nonfinite``.
        ChecksumError, HubRequestError, ConfigError, WeightsNotPublishedError: As the source's kind brings.
    """
    src = resolve_source(source)
    allow_nonfinite = check_bool("allow_nonfinite", allow_nonfinite)
    hub = hub or HubOptions()
    if src.kind == "registered":
        record = _registered_record(src)
        state = converted_state(
            record, progress=hub.progress, cache_dir=hub.cache_dir, local_files_only=hub.local_files_only
        )
        found = SourceWeights(state, record.name, record, record.architecture)
    elif src.kind in ("saved", "run"):
        assert src.path is not None
        record, _ = read_config(src.path / CONFIG_NAME, source=str(src.path))
        state = load_weights_file(src.path / WEIGHTS_NAME)
        found = SourceWeights(state, str(src.path), _own_source(record, file=str(src.path)))
    elif src.kind == "hub" and src.filename is None:
        found = _read_hub_repo(src, hub)
    elif src.kind == "hub":
        assert src.repo_id is not None
        assert src.filename is not None
        path = download_file(src.repo_id, src.filename, hub)
        found = SourceWeights(extract_state_dict(load_weights_file(path), src.spec), src.spec)
    else:
        assert src.path is not None
        obj = load_weights_file(src.path)
        state = extract_state_dict(obj, src.label)
        found = SourceWeights(state, src.label)
        if src.kind == "checkpoint":
            found = _checkpoint_facts(obj, state, src.path)
    verified_weights(found.state, source=found.label, allow_nonfinite=allow_nonfinite)
    return found


def _registered_record(src: ModelSource) -> Weights:
    """The loadable record a registered name means; for a bare name, the model's default weights."""
    try:
        record = get_weights(src.spec)
    except ArgumentError as err:
        if src.tag is not None:
            raise
        raise ArgumentError(
            f"{src.spec!r} is a registered architecture with no default weights to load ({err}). For random "
            f"weights call resnetzoo.create_model({src.spec!r}); for trained ones name them as in "
            "resnetzoo.list_pretrained()"
        ) from None
    try:
        require_loadable(record)
    except WeightsNotPublishedError as err:
        if src.tag is not None:
            raise
        raise WeightsNotPublishedError(
            f"{err} For random weights call resnetzoo.create_model({src.spec!r})."
        ) from None
    return record


def _own_source(record: Weights, **here: Any) -> Weights:
    """Weights of the repo's own making name this repo as their source."""
    return dataclasses.replace(record, **here) if record.source is None else record


def _read_hub_repo(src: ModelSource, hub: HubOptions) -> SourceWeights:
    assert src.repo_id is not None
    bare = not src.spec.startswith(HF_HUB_PREFIX)
    try:
        config_path = download_file(src.repo_id, CONFIG_NAME, hub)
    except HubRequestError as err:
        if not bare:
            raise
        raise HubRequestError(
            f"{err}. ({src.spec!r} is no local folder either, so it was taken for a Hub repo.)"
        ) from err
    # Pin the weights to the commit the config came from (the cache keeps files under
    # snapshots/<commit>/), so a push in between cannot pair files of two commits.
    commit = config_path.parent.name if _COMMIT_HASH.fullmatch(config_path.parent.name) else hub.revision
    label = f"{HF_HUB_PREFIX}{src.repo_id}@{commit or 'main'}"
    record, _ = read_config(config_path, source=label)
    weights_path = download_file(src.repo_id, WEIGHTS_NAME, dataclasses.replace(hub, revision=commit))
    state = load_weights_file(weights_path)
    record = _own_source(record, hf_hub_id=src.repo_id, hf_hub_revision=commit)
    return SourceWeights(state, label, record)


def _checkpoint_facts(obj: Mapping[str, Any], state: dict[str, torch.Tensor], path: Path) -> SourceWeights:
    """What a Trainer checkpoint records about its model: its record, else architecture and arguments.

    The record holds the constructor arguments; checkpoints of 0.1.0 and 0.2.0 kept them beside it
    (``model_kwargs``), where they are read into the record.
    """
    name = obj.get("model_name")
    kwargs = obj.get("model_kwargs")
    record = None
    saved = obj.get("pretrained_cfg")
    if isinstance(saved, dict) and (name is None or saved.get("architecture") == name):
        if "model_kwargs" not in saved and isinstance(kwargs, Mapping):
            saved = {**saved, "model_kwargs": dict(kwargs)}
        record = _own_source(decode_record(saved, source=str(path)), file=str(path))
    return SourceWeights(
        state,
        str(path),
        record,
        name if isinstance(name, str) else None,
        dict(kwargs) if isinstance(kwargs, Mapping) and record is None else None,
    )


def load_model(
    source: str | os.PathLike[str] | ModelSource,
    *,
    model: str | None = None,
    layout: Layout = "auto",
    hub: HubOptions | None = None,
    allow_nonfinite: bool = False,
) -> nn.Module:
    """The model ``source`` names, built once and given its weights; see :func:`resolve_source`.

    The architecture comes from the source (a registered name, ``config.json``, a training
    checkpoint) or, for a bare state-dict file, from ``model``; the head and stem sizes of a state
    dict are read from its shapes. The network is built on the ``meta`` device and takes the checked
    tensors as they are: no random initialisation that the weights would overwrite. The record is
    attached as ``model.pretrained_cfg`` where the source has one.

    Args:
        source: What to load.
        model: The registered architecture for a source that does not name one (a state-dict file);
            overrides a training checkpoint's.
        layout: The key layout of a state-dict file (see :func:`resnetzoo.load_checkpoint`).
        hub: How Hub files are fetched (revision, cache, token, progress bar).
        allow_nonfinite: Load weights that hold NaN or infinite values instead of refusing them.

    Raises:
        ArgumentError: If the source names no architecture and ``model`` is not given.
        CheckpointError: If the weights do not fit, cannot be read safely, or are not finite.
    """
    src = resolve_source(source)
    if src.kind == "hub" and src.filename is not None:
        check_repo_file(src.spec[len(HF_HUB_PREFIX) :], CONFIG_NAME)  # "org/name/../x": refused as a repo id
        raise ArgumentError(
            f"{src.spec!r} names a file of a Hub repo, which does not say what architecture it holds: load "
            f"the repo ({HF_HUB_PREFIX}{src.repo_id}), or the file into a model you built with "
            f"resnetzoo.load_checkpoint(model, {src.spec!r})"
        )
    found = read_source(src, hub=hub, allow_nonfinite=allow_nonfinite)
    named = found.record.architecture if found.record is not None else found.architecture
    architecture = split_model_name(model)[0] if model is not None else named
    if architecture is None:
        raise ArgumentError(
            f"{found.label} is a state dict that does not name its architecture: pass model='NAME' "
            "(--model NAME on the command line), or load it into a model you built with "
            "resnetzoo.load_checkpoint(model, source)"
        )
    if architecture == named and found.record is not None:
        kwargs = build_kwargs(found.record)  # the record says completely how to rebuild the network
    elif architecture == named and found.model_kwargs is not None:
        kwargs = dict(found.model_kwargs)
    else:
        kwargs = _sizes_from_state(found.state)
    factory = get_model_factory(architecture)
    with torch.device("meta"):  # holds no memory: config.json may ask for any size, checked before allocating
        net = factory(**kwargs)
    state, layout = convert_state_dict(net, found.state, layout)
    expected = net.state_dict()
    check_state_dict(net, state, source=found.label)
    state = {key: value.to(dtype=expected[key].dtype) for key, value in state.items()}
    for key, value in expected.items():  # checkpoints from before PyTorch 0.4.1 have no BN step counters
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros_like(value, device="cpu")
    apply_state_dict(net, state, strict=True, source=found.label, layout=layout, assign=True)
    if found.record is not None and found.record.architecture == architecture:
        net.pretrained_cfg = found.record
    logger.info("loaded %s from %s", architecture, found.label)
    return net


def _sizes_from_state(state: Mapping[str, torch.Tensor]) -> dict[str, int]:
    """The head and stem sizes a state dict implies: a CIFAR-100 or grayscale model builds without flags."""
    kwargs = {}
    for key, dim, kwarg in (
        ("fc.weight", 0, "num_classes"),
        ("linear.weight", 0, "num_classes"),
        ("conv1.weight", 1, "in_chans"),
    ):
        if key in state and state[key].dim() > dim:
            kwargs[kwarg] = int(state[key].shape[dim])
    return kwargs
