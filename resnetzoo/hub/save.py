"""Writing a resnetzoo repo: :func:`save_pretrained`, atomically, and adopting a folder's record."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save
from torch import nn

from .._files import atomic_write, temp_dir, write_error
from .._integrity import describe_nonfinite, nonfinite_keys
from .._record import record_metadata
from .._validate import check_bool, check_number, check_numbers, check_str
from ..data.constants import CLASSES
from ..errors import ArgumentError, ArgumentTypeError, ConfigError
from ..models import Weights, count_parameters
from ..models._builder import build_kwargs
from ..models.weights import Metric, Metrics
from ._state import check_state_dict, load_weights_file
from .card import model_card
from .config import (
    _NOT_IN_CONFIG,
    CARD_NAME,
    CONFIG_NAME,
    MODEL_KWARGS,
    WEIGHTS_NAME,
    _config_json,
    _parse_config,
    read_config,
)

__all__ = ["adopt_folder_record", "save_pretrained", "save_record", "unwrap_model", "write_repo_files"]

logger = logging.getLogger(__name__)

# Class names of the data sets resnetzoo knows.
_DATASET_CLASSES = CLASSES


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain model inside ``torch.compile`` and (Distributed)DataParallel wrappers."""
    while True:
        if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod"):  # torch.compile's OptimizedModule
            model = model._orig_mod
        else:
            return model


def _record_to_save(
    model: nn.Module,
    *,
    metrics: Metrics | None,
    recipe: str | None,
    categories: Sequence[str] | None,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
    dataset: str | None,
) -> Weights:
    """The record that ``config.json`` will hold (architecture and constructor arguments included),
    checked by the reader."""
    record = getattr(model, "pretrained_cfg", None)
    num_classes = getattr(model, "num_classes", None)
    if not isinstance(record, Weights) or not isinstance(num_classes, int):
        raise ValueError(
            f"cannot save a {type(model).__name__} that was not built by a registered factory "
            "(it has no pretrained_cfg record of its architecture and arguments); build it with "
            "resnetzoo.create_model(...)"
        )
    not_serialisable = sorted(set(record.model_kwargs) - set(MODEL_KWARGS))
    if not_serialisable:
        shown = ", ".join(f"{k}={record.model_kwargs[k]!r}" for k in not_serialisable)
        raise ValueError(
            f"cannot save {record.architecture}: its constructor arguments {shown} cannot be recorded in "
            f"{CONFIG_NAME}, which holds only {', '.join(sorted(MODEL_KWARGS))} so that loading never runs "
            "code. Save the state dict yourself (safetensors.torch.save_file(model.state_dict(), path))"
        )
    # The head may have been replaced since the record was attached.
    if record.num_classes != num_classes:
        record = record.for_new_head(num_classes)
    changes: dict[str, Any] = {
        "file": None,
        "input_size": (int(build_kwargs(record).get("in_chans", 3)), *record.input_size[1:]),
    }
    if dataset is not None:
        changes["dataset"] = dataset
    dataset = changes.get("dataset", record.dataset)
    if categories is None and record.categories is None:
        known = _DATASET_CLASSES.get(dataset or "", ())
        categories = known if len(known) == num_classes else None
    for field_name, value in (("categories", categories), ("mean", mean), ("std", std), ("recipe", recipe)):
        if value is not None:
            changes[field_name] = value
    if metrics is not None:
        changes["metrics"] = metrics
    try:
        record = dataclasses.replace(record, **changes)
        # What we write goes through the reader's checks, so a saved repo always loads back.
        source = f"the model being saved ({record.architecture})"
        return _parse_config(json.loads(json.dumps(_config_json(record))), source=source)[0]
    except ConfigError as err:
        raise ValueError(str(err)) from None


def write_repo_files(
    folder: Path,
    state: Mapping[str, torch.Tensor],
    record: Weights,
    card: str | None,
) -> None:
    """Write ``model.safetensors``, ``config.json`` and (if given) ``README.md`` into ``folder``.

    Raises:
        OSError: If a file cannot be written (disk full, no permission), with its errno and file name.
    """
    # Serialised here and written by Python, so that a full disk is an OSError with its errno (ENOSPC)
    # and its file, not a SafetensorError that names neither.
    # The safetensors header carries the record too (one codec, resnetzoo._record), so the file alone
    # says what it holds: the record as of writing the weights. config.json is the authority that the
    # loaders read, and save_record may add scores to it later without rewriting the weights.
    metadata = {"format": "pt", **record_metadata(record, exclude=_NOT_IN_CONFIG)}
    (folder / WEIGHTS_NAME).write_bytes(save(dict(state), metadata=metadata))
    config = json.dumps(_config_json(record), indent=2)
    (folder / CONFIG_NAME).write_text(config + "\n", encoding="utf-8")
    if card is not None:
        (folder / CARD_NAME).write_text(card, encoding="utf-8")


def _replace_all(staging: Path, target: Path, names: Sequence[str]) -> None:
    """Move ``staging/<name>`` over ``target/<name>`` for every name: all of them, or none.

    The files being replaced are kept in the staging folder first (hard links, or copies where
    the file system has none); if a rename fails halfway, those already replaced are put back,
    so the folder keeps the previous repo instead of new weights beside an old config.
    """
    previous = staging / ".previous"
    previous.mkdir()
    for name in names:
        if (target / name).is_file():
            try:
                os.link(target / name, previous / name)
            except OSError:
                shutil.copy2(target / name, previous / name)
    replaced: list[str] = []
    try:
        for name in names:
            os.replace(staging / name, target / name)
            replaced.append(name)
    except BaseException:
        for name in reversed(replaced):
            if (previous / name).is_file():
                os.replace(previous / name, target / name)
            else:  # the folder did not have this file before
                (target / name).unlink()
        raise


def save_pretrained(
    model: nn.Module,
    save_directory: str | os.PathLike[str],
    *,
    metrics: Mapping[str, float] | Sequence[Metric] | None = None,
    recipe: str | None = None,
    categories: Sequence[str] | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    dataset: str | None = None,
    repo_id: str | None = None,
    allow_nonfinite: bool = False,
    state_dict: Mapping[str, torch.Tensor] | None = None,
) -> Path:
    """Write a model as a resnetzoo repo folder: weights, ``config.json`` and a model card.

    Metadata not given is taken from ``model.pretrained_cfg`` (attached by the loaders) as long
    as the head still has the same number of classes.

    The folder is written atomically: a new folder appears complete or not at all; in an
    existing folder the three files are replaced together (if writing fails, the previous ones
    are kept or put back) and other files are left alone.

    Args:
        model: A model built by a registered factory (``torch.compile`` / DataParallel
            wrappers are unwrapped).
        save_directory: The folder to write.
        metrics: Evaluation results as fractions: :class:`~resnetzoo.Metric` entries (which say the split
            and the number of images), or ``{"top1": 0.941, "top1_jpeg": 0.908}``; the model
            card shows them in percent.
        recipe: Name of the training recipe that produced the weights.
        categories: Class names in logit order (``num_classes`` of them).
        mean: Per-channel input mean used in training.
        std: Per-channel input standard deviation used in training.
        dataset: The training data set (``"cifar10"``, ``"cifar100"`` or a free name); a known
            one also supplies the class names when ``categories`` is not given.
        repo_id: The Hub repo the folder is meant for, shown in the card's usage snippet.
        allow_nonfinite: Save weights that hold NaN or infinite values (those of a diverged run)
            instead of refusing them.
        state_dict: The weights to write instead of the model's current ones (a copy of a selected
            epoch's, say); the model then only describes them. Keys and shapes must be the model's.

    Returns:
        The folder written.

    Raises:
        ArgumentError: If the weights hold NaN or infinite values and not ``allow_nonfinite``
            (nothing is written).
        ValueError: If the model was not built by a registered factory, has constructor
            arguments that ``config.json`` cannot record (e.g. a custom ``norm_layer``), or the
            metadata is inconsistent (e.g. a wrong number of categories).
        FileExistsError: If ``save_directory`` is an existing file.
        OSError: If a file cannot be written (disk full, no permission); the folder keeps its
            previous files.
    """
    if not isinstance(model, nn.Module):
        raise ArgumentTypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if metrics is not None:
        if isinstance(metrics, Mapping):
            metrics = [Metric(str(k), check_number(f"metrics[{k!r}]", v)) for k, v in metrics.items()]
        elif isinstance(metrics, (str, bytes)) or not isinstance(metrics, Iterable):
            raise ArgumentTypeError(
                f"metrics must be Metric entries or a mapping of names to fractions; got {metrics!r}"
            )
        metrics = Metrics(metrics)
    mean = check_numbers("mean", mean, none=True)
    std = check_numbers("std", std, positive=True, none=True)
    for name, value in (("recipe", recipe), ("dataset", dataset), ("repo_id", repo_id)):
        check_str(name, value, none=True)
    if categories is not None and (
        isinstance(categories, str) or not all(isinstance(c, str) for c in categories)
    ):
        raise ArgumentTypeError(f"categories must be a sequence of class names (strings); got {categories!r}")
    model = unwrap_model(model)
    record = _record_to_save(
        model, metrics=metrics, recipe=recipe, categories=categories, mean=mean, std=std, dataset=dataset
    )
    if state_dict is not None:
        check_state_dict(model, state_dict, source="state_dict")
    weights = model.state_dict() if state_dict is None else state_dict
    state = {k: v.detach().to("cpu").contiguous() for k, v in weights.items()}
    bad = nonfinite_keys(state) if not check_bool("allow_nonfinite", allow_nonfinite) else []
    if bad:
        raise ArgumentError(
            f"the model's weights hold {describe_nonfinite(bad)}, as after a diverged run; nothing was "
            "written. Save them anyway with allow_nonfinite=True"
        )
    card = model_card(record, num_params=count_parameters(model), repo_id=repo_id)

    target = Path(os.path.abspath(save_directory))
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"cannot save into {target}: it is a file")
    existed = target.exists()
    kept = "the folder keeps its previous files" if existed else "nothing was written"
    staging = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = temp_dir(target)  # readable as the umask allows, not 0700 as from mkdtemp
        write_repo_files(staging, state, record, card)
        if not existed:
            os.rename(staging, target)  # atomic: the folder appears complete
        else:
            # Weights first and config last, so a reader never pairs a new config with old weights.
            _replace_all(staging, target, (WEIGHTS_NAME, CARD_NAME, CONFIG_NAME))
    except OSError as err:
        # Named after the file the user asked for: the staging folder's name means nothing to them.
        failed = target / Path(err.filename).name if err.filename and staging is not None else target
        raise write_error(err, "the saved model", failed, kept) from err
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    logger.debug("saved %s (%d classes) to %s", record.architecture, record.num_classes, target)
    return target


# Fields of a saved model's record that describe the task and the input, not the weights: a new set of
# weights converted into the folder for the same task keeps them.
_TASK_FIELDS = ("categories", "dataset", "mean", "std", "input_size")


def adopt_folder_record(model: nn.Module, folder: str | os.PathLike[str], *, force: bool) -> list[str]:
    """Before writing ``model`` into ``folder``: refuse to replace what is there, or carry its metadata over.

    ``resnetzoo convert ck.pt FOLDER`` replaced an existing ``config.json`` and erased the categories,
    mean, std and metrics it recorded. Now a folder that holds anything is refused unless ``force``, and
    with ``force`` the saved record becomes ``model.pretrained_cfg`` (what :func:`save_pretrained`
    writes from) with the architecture and head of ``model``: all of it when the weights are the same
    as the folder's, else what describes the task and the input (class names, data set, mean, std,
    input size) while what described the folder's weights (metrics, recipe, license, source) goes, and
    is named in the returned list.

    Args:
        model: The model about to be saved, built by a registered factory, with its new weights.
        folder: The target folder.
        force: Replace the weights of a folder that holds a saved model (or other files).

    Returns:
        The fields of the folder's record that were dropped because the weights changed.

    Raises:
        FileExistsError: If ``folder`` holds files and not ``force``, or holds a ``config.json`` that is not
            a saved model's (a training run's, say), which even ``force`` does not overwrite.
    """
    folder = Path(folder)
    if not folder.is_dir() or not any(folder.iterdir()):
        return []
    config_path = folder / CONFIG_NAME
    prior = None
    if config_path.is_file():
        try:
            prior, _ = read_config(config_path, source=str(folder))
        except ConfigError as err:
            raise FileExistsError(
                f"{folder} holds a {CONFIG_NAME} that is not a saved model's ({err}); write into another "
                "folder"
            ) from None
    if not force:
        what = f"a saved {prior.architecture} model ({CONFIG_NAME}, {WEIGHTS_NAME})" if prior else "files"
        raise FileExistsError(
            f"{folder} already holds {what}; pass --force (force=True) to replace its weights, keeping the "
            "class names, mean and std it records unless you pass new ones, or write into another folder"
        )
    if prior is None:
        return []
    current = getattr(model, "pretrained_cfg", None)
    if not isinstance(current, Weights):
        return []
    same_weights = False
    if (folder / WEIGHTS_NAME).is_file() and prior.architecture == current.architecture:
        saved = load_weights_file(folder / WEIGHTS_NAME)
        state = model.state_dict()
        same_weights = saved.keys() == state.keys() and all(
            torch.equal(saved[k], state[k].detach().cpu()) for k in state
        )
    fits = prior.architecture == current.architecture and prior.num_classes == current.num_classes
    if same_weights and fits:
        model.pretrained_cfg = dataclasses.replace(prior, file=None)
        return []
    kept = {
        name: getattr(prior, name)
        for name in _TASK_FIELDS
        if getattr(prior, name) is not None
        and (name != "categories" or len(prior.categories or ()) == current.num_classes)
        and (name != "input_size" or prior.input_size[0] == current.input_size[0])
    }
    model.pretrained_cfg = dataclasses.replace(current, **kept)
    described_weights = {
        "metrics": bool(prior.metrics),
        "recipe": prior.recipe is not None,
        "license": prior.license is not None,
        "source": prior.source is not None,
        "reported_top1": prior.reported_top1 is not None,
        "base_model": prior.base_model is not None,
    }
    dropped = [name for name, present in described_weights.items() if present]
    dropped += [name for name in ("categories",) if prior.categories and name not in kept]
    return dropped


def save_record(model: nn.Module, save_directory: str | os.PathLike[str]) -> Path:
    """Rewrite a saved folder's ``config.json`` and model card from ``model.pretrained_cfg``; the
    weights file is left as it is.

    For a record that changed while the weights did not (a test score added to the metrics). The
    caller vouches that ``model`` describes the folder's weights; the record goes through the same
    checks as :func:`save_pretrained`'s, and each file is replaced atomically, the config last.

    Returns:
        The folder.

    Raises:
        FileNotFoundError: If the folder has no weights file.
        ValueError: As :func:`save_pretrained`, for a model it cannot describe.
        OSError: If a file cannot be written; that file keeps its previous content.
    """
    model = unwrap_model(model)
    folder = Path(save_directory)
    if not (folder / WEIGHTS_NAME).is_file():
        raise FileNotFoundError(f"{folder} has no {WEIGHTS_NAME} whose record could be rewritten")
    record = _record_to_save(
        model, metrics=None, recipe=None, categories=None, mean=None, std=None, dataset=None
    )
    card = model_card(record, num_params=count_parameters(model), repo_id=None)
    atomic_write(folder / CARD_NAME, card, what="the model card")
    config = json.dumps(_config_json(record), indent=2) + "\n"
    atomic_write(folder / CONFIG_NAME, config, what="the model's config")
    return folder
