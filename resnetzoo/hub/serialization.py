"""resnetzoo repos: ``model.safetensors`` + ``config.json`` + ``README.md``, written and read back.

``config.json`` is the model's :class:`~resnetzoo.Weights` record (format version 2), plus what
rebuilds the network::

    {
      "format_version": 2,
      "architecture": "resnet20_cifar",          # a registered model name
      "model_kwargs": {"num_classes": 10, "in_chans": 3, "zero_init_residual": false, "shortcut": "A"},
      "num_classes": 10,
      "categories": ["airplane", ...],           # or null
      "mean": [0.4914, 0.4822, 0.4465],          # or null
      "std": [0.247, 0.2435, 0.2616],            # or null
      "input_size": [3, 32, 32],
      "dataset": "cifar10",                      # or null
      "metrics": {"top1": 94.1},                 # percent
      "recipe": "long",                          # or null
      "license": "Apache-2.0",                   # or null
      "tag": null, "url": null, "sha256": null, ... # the other Weights fields: provenance and credit
      "resnetzoo_version": "0.1.0"
    }

Version 1 files (without the provenance fields) are read too. Reading never executes anything
from a repo: the architecture must be registered, every field is type-checked, unknown fields are
rejected, and only the constructor arguments in :data:`MODEL_KWARGS` are passed on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import EvalResult, ModelCardData
from safetensors.torch import save
from torch import nn

from .._files import temp_dir, write_error
from .._integrity import describe_nonfinite, nonfinite_keys
from .._validate import check_bool, check_number, check_numbers, check_str
from .._version import __version__
from ..data.constants import CIFAR10_CLASSES, CIFAR100_CLASSES
from ..errors import ArgumentError, ArgumentTypeError, ConfigError, HubRequestError
from ..models import Weights, count_parameters
from ..models.registry import HF_HUB_PREFIX, create_model, get_model_factory, get_weights
from ..models.weights import SOURCE_LAYOUTS
from ._state import apply_state_dict, check_state_dict, load_weights_file
from .download import download_file

__all__ = [
    "CARD_NAME",
    "CONFIG_NAME",
    "FORMAT_VERSION",
    "HF_HUB_PREFIX",
    "MODEL_KWARGS",
    "WEIGHTS_NAME",
    "adopt_folder_record",
    "from_pretrained",
    "read_config",
    "save_pretrained",
    "unwrap_model",
    "write_repo_files",
]

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
FORMAT_VERSION = 2

# The constructor arguments a config.json may carry, and their types: plain data only, so that
# rebuilding a model from a downloaded file cannot name a class or run code.
MODEL_KWARGS: dict[str, type] = {
    "num_classes": int,
    "in_chans": int,
    "zero_init_residual": bool,
    "shortcut": str,
    # A structurally pruned network (resnetzoo.prune): per stage, per block, the widths of the block's
    # inner convolutions. Integers only: the shapes they give are checked against the weights file.
    "inner_channels": list,
}
_SHORTCUTS = ("A", "B")

# Class names, Hub dataset repos and display names of the data sets resnetzoo knows.
_DATASET_CLASSES = {"cifar10": CIFAR10_CLASSES, "cifar100": CIFAR100_CLASSES}
_HUB_DATASETS = {"cifar10": ("uoft-cs/cifar10", "CIFAR-10"), "cifar100": ("uoft-cs/cifar100", "CIFAR-100")}

_COMMIT_HASH = re.compile(r"[0-9a-f]{40}")
_RUN_BEST = "best"  # a training run's selected model inside its folder (resnetzoo.train.run.BEST_DIR)
_REPO_ID = re.compile(r"[\w.-]+/[\w.-]+")


# ---------------------------------------------------------------------------------------------
# config.json validation


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON true is not a class count


def _is_number(value: Any) -> bool:
    # An int is always finite; math.isfinite would overflow on a JSON integer beyond float range.
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


# Sizes beyond int32 do not fit torch's index types; a larger one in a config is an attack or damage.
_MAX_SIZE = 2**31


def _size_range(low: int) -> str:
    return f"an integer >= {low} and < 2**31"


def _check(ok: bool, field_name: str, expected: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"config field {field_name!r} must be {expected}, got {value!r}")


def _check_str(name: str, value: Any) -> None:
    _check(isinstance(value, str) and bool(value), name, "a non-empty string", value)


def _optional_str(name: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        _check(
            value is None or (isinstance(value, str) and bool(value)),
            name,
            "a non-empty string or null",
            value,
        )

    return check


def _optional_count(name: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        _check(value is None or (_is_int(value) and value >= 0), name, "null or an integer >= 0", value)

    return check


def _check_channels(name: str, value: Any, *, positive: bool) -> None:
    ok = value is None or (
        isinstance(value, list)
        and 1 <= len(value) <= 4
        and all(_is_number(v) and (v > 0 or not positive) for v in value)
    )
    _check(ok, name, f"null or a list of 1 to 4 {'positive ' if positive else ''}numbers", value)


def _check_model_kwargs(value: Any) -> None:
    _check(isinstance(value, dict), "model_kwargs", "an object", value)
    unknown = sorted(set(value) - set(MODEL_KWARGS))
    if unknown:
        raise ConfigError(
            f"config field 'model_kwargs' has unsupported arguments {unknown}; "
            f"allowed: {sorted(MODEL_KWARGS)}"
        )
    for name, kind in MODEL_KWARGS.items():
        if name in value:
            ok = _is_int(value[name]) if kind is int else isinstance(value[name], kind)
            _check(ok, f"model_kwargs.{name}", kind.__name__, value[name])
    if "inner_channels" in value:
        stages = value["inner_channels"]
        ok = (
            isinstance(stages, list)
            and 3 <= len(stages) <= 4
            and all(
                isinstance(blocks, list)
                and 1 <= len(blocks) <= 1024
                and all(
                    isinstance(widths, list)
                    and 1 <= len(widths) <= 2
                    and all(_is_int(w) and 1 <= w < _MAX_SIZE for w in widths)
                    for widths in blocks
                )
                for blocks in stages
            )
        )
        _check(
            ok,
            "model_kwargs.inner_channels",
            "per stage (3 or 4), per block, a list of 1 or 2 channel counts >= 1",
            stages,
        )
    if "shortcut" in value:
        _check(value["shortcut"] in _SHORTCUTS, "model_kwargs.shortcut", "'A' or 'B'", value["shortcut"])
    for name, low in (("num_classes", 0), ("in_chans", 1)):
        if name in value:
            _check(low <= value[name] < _MAX_SIZE, f"model_kwargs.{name}", _size_range(low), value[name])


def _check_metrics(value: Any) -> None:
    ok = isinstance(value, dict) and all(isinstance(k, str) and _is_number(v) for k, v in value.items())
    _check(ok, "metrics", "an object of numbers", value)


_MAX_SIDE = 4096  # the largest input height or width a config may ask predict() to resize to


def _check_input_size(value: Any) -> None:
    ok = (
        isinstance(value, list)
        and len(value) == 3
        and all(_is_int(v) and v > 0 for v in value)
        and max(value[1:]) <= _MAX_SIDE
    )
    _check(ok, "input_size", f"a list of 3 positive integers, height and width <= {_MAX_SIDE}", value)


def _check_sha256(value: Any) -> None:
    _check(
        value is None or (isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value) is not None),
        "sha256",
        "null or 64 lowercase hex digits",
        value,
    )


# field -> (required, validator). The Weights fields a config may carry, and what rebuilds the model.
_FIELDS: dict[str, tuple[bool, Callable[[Any], None]]] = {
    "format_version": (True, lambda v: _check(_is_int(v), "format_version", "an integer", v)),
    "architecture": (True, lambda v: _check_str("architecture", v)),
    "model_kwargs": (True, _check_model_kwargs),
    "num_classes": (
        True,
        lambda v: _check(_is_int(v) and 0 <= v < _MAX_SIZE, "num_classes", _size_range(0), v),
    ),
    "resnetzoo_version": (True, lambda v: _check_str("resnetzoo_version", v)),
    "tag": (False, _optional_str("tag")),
    "categories": (
        False,
        lambda v: _check(
            v is None or (isinstance(v, list) and all(isinstance(c, str) for c in v)),
            "categories",
            "null or a list of strings",
            v,
        ),
    ),
    "mean": (False, lambda v: _check_channels("mean", v, positive=False)),
    "std": (False, lambda v: _check_channels("std", v, positive=True)),
    "input_size": (False, _check_input_size),
    "dataset": (False, _optional_str("dataset")),
    "metrics": (False, _check_metrics),
    "recipe": (False, _optional_str("recipe")),
    "license": (False, _optional_str("license")),
    "hf_hub_id": (
        False,
        lambda v: _check(
            v is None or (isinstance(v, str) and _REPO_ID.fullmatch(v) is not None),
            "hf_hub_id",
            "null or 'org/name'",
            v,
        ),
    ),
    "hf_hub_filename": (False, lambda v: _check_str("hf_hub_filename", v)),
    "hf_hub_revision": (False, _optional_str("hf_hub_revision")),
    "url": (False, _optional_str("url")),
    "sha256": (False, _check_sha256),
    "layout": (False, lambda v: _check(v in SOURCE_LAYOUTS, "layout", f"one of {list(SOURCE_LAYOUTS)}", v)),
    "origin_url": (False, _optional_str("origin_url")),
    "paper": (False, _optional_str("paper")),
    "reported_top1": (
        False,
        lambda v: _check(v is None or _is_number(v), "reported_top1", "null or a number", v),
    ),
    "reported_in": (False, _optional_str("reported_in")),
    "num_params": (False, _optional_count("num_params")),
    "flops": (False, _optional_count("flops")),
    "file_size": (False, _optional_count("file_size")),
    "base_model": (False, _optional_str("base_model")),
    "notes": (False, _optional_str("notes")),
}
# Weights fields that describe this copy of a model, not the weights: never written, never read.
_NOT_IN_CONFIG = ("file", "planned")


def _parse_config(data: Any, *, source: str) -> tuple[Weights, dict[str, Any]]:
    """Validate a decoded ``config.json``; return its weights record and the model's constructor arguments.

    Raises:
        ConfigError: Naming the first field that is missing, unknown or of the wrong type.
    """
    try:
        if not isinstance(data, dict):
            raise ConfigError(f"must hold a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise ConfigError(f"unexpected fields {unknown}; a resnetzoo config has only {sorted(_FIELDS)}")
        missing = sorted(name for name, (required, _) in _FIELDS.items() if required and name not in data)
        if missing:
            raise ConfigError(f"missing required fields {missing}")
        for name, value in data.items():
            _FIELDS[name][1](value)
        if data["format_version"] > FORMAT_VERSION:
            raise ConfigError(
                f"format_version {data['format_version']} was written by a newer resnetzoo "
                f"({data['resnetzoo_version']}); this is {__version__}, which reads versions up to "
                f"{FORMAT_VERSION}: upgrade resnetzoo"
            )
        if data["format_version"] < 1:
            raise ConfigError(f"format_version must be >= 1, got {data['format_version']}")
        try:
            get_model_factory(data["architecture"])
        except ValueError as err:
            raise ConfigError(
                f"architecture {data['architecture']!r} is not a registered model: {err}"
            ) from None
        kwargs = dict(data["model_kwargs"])
        if kwargs.setdefault("num_classes", data["num_classes"]) != data["num_classes"]:
            raise ConfigError(
                f"num_classes is {data['num_classes']} but model_kwargs.num_classes is "
                f"{kwargs['num_classes']}"
            )
        in_chans = kwargs.get("in_chans", 3)
        if "input_size" in data and data["input_size"][0] != in_chans:
            raise ConfigError(
                f"input_size {data['input_size']} has {data['input_size'][0]} channels but the model "
                f"takes {in_chans}"
            )
        fields = {
            name: value
            for name, value in data.items()
            if name not in ("format_version", "model_kwargs", "resnetzoo_version") and value is not None
        }
        fields.setdefault("input_size", [in_chans, 32, 32])
        if data["format_version"] == 1:  # version 1 wrote scores in percent; the API's unit is a fraction
            fields["metrics"] = {k: v / 100 for k, v in fields.get("metrics", {}).items()}
        try:
            record = Weights(**fields)
        except ValueError as err:  # the fields contradict each other (e.g. categories vs num_classes)
            raise ConfigError(str(err)) from None
        return record, kwargs
    except ConfigError as err:
        raise ConfigError(f"invalid {CONFIG_NAME} in {source}: {err}") from None


def read_config(path: Path, *, source: str) -> tuple[Weights, dict[str, Any]]:
    """Read and validate a ``config.json``: the weights record and the model's constructor arguments.

    Raises:
        ConfigError: If the file is not JSON or a field is missing, unknown or invalid.
        OSError: If the file cannot be read.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    # ValueError covers undecodable bytes, bad syntax and integers too long to convert;
    # RecursionError, arrays nested thousands deep.
    except (ValueError, RecursionError) as err:
        raise ConfigError(
            f"invalid {CONFIG_NAME} in {source}: not JSON ({type(err).__name__}: {err})"
        ) from None
    return _parse_config(data, source=source)


def _config_json(record: Weights, model_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in record.to_dict().items() if k not in _NOT_IN_CONFIG}
    return {
        "format_version": FORMAT_VERSION,
        **fields,
        "model_kwargs": dict(model_kwargs),
        "resnetzoo_version": __version__,
    }


# ---------------------------------------------------------------------------------------------
# Writing


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
    metrics: Mapping[str, float] | None,
    recipe: str | None,
    categories: Sequence[str] | None,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
    dataset: str | None,
) -> tuple[Weights, dict[str, Any]]:
    """The record and constructor arguments that ``config.json`` will hold, checked by the reader."""
    name = getattr(model, "model_name", None)
    recorded = getattr(model, "model_kwargs", None)
    record = getattr(model, "pretrained_cfg", None)
    if name is None or not recorded or not isinstance(record, Weights):
        raise ValueError(
            f"cannot save a {type(model).__name__} that was not built by a registered factory "
            "(it has no model_name, model_kwargs and pretrained_cfg); build it with "
            "resnetzoo.create_model(...)"
        )
    num_classes = int(model.num_classes)
    # The head may have been replaced since the model was built (reset_classifier, fine_tune).
    kwargs = {**recorded, "num_classes": num_classes}
    not_serialisable = sorted(set(kwargs) - set(MODEL_KWARGS))
    if not_serialisable:
        shown = ", ".join(f"{k}={kwargs[k]!r}" for k in not_serialisable)
        raise ValueError(
            f"cannot save {name}: its constructor arguments {shown} cannot be recorded in {CONFIG_NAME}, "
            f"which holds only {', '.join(sorted(MODEL_KWARGS))} so that loading never runs code. "
            "Save the state dict yourself (safetensors.torch.save_file(model.state_dict(), path))"
        )
    if record.num_classes != num_classes:
        record = record.for_new_head(num_classes)
    changes: dict[str, Any] = {
        "file": None,
        "input_size": (int(kwargs.get("in_chans", 3)), *record.input_size[1:]),
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
        changes["metrics"] = {k: float(v) for k, v in metrics.items()}
    try:
        record = dataclasses.replace(record, **changes)
        # What we write goes through the reader's checks, so a saved repo always loads back.
        return _parse_config(
            json.loads(json.dumps(_config_json(record, kwargs))), source=f"the model being saved ({name})"
        )
    except ConfigError as err:
        raise ValueError(str(err)) from None


def _base_model_repo(record: Weights) -> str | None:
    """The Hub repo of the weights these were fine-tuned from, for the card's ``base_model``, if any."""
    if record.base_model is None:
        return None
    try:
        base = get_weights(record.base_model)
    except ValueError:  # not a registered name: a path or a URL
        return None
    return base.hf_hub_id if base.hf_hub_id is not None and not base.planned else None


def _model_card(record: Weights, *, num_params: int, repo_id: str | None) -> str:
    # A data set resnetzoo knows has a Hub dataset repo; another keeps its own name in the model-index.
    hub_dataset, dataset_title = _HUB_DATASETS.get(record.dataset or "", (None, record.dataset))
    eval_results = None
    if record.metrics and dataset_title:
        eval_results = [
            EvalResult(
                task_type="image-classification",
                task_name="Image Classification",
                dataset_type=hub_dataset or dataset_title,
                dataset_name=dataset_title,
                dataset_split="test",
                metric_type="accuracy" if key.startswith(("top", "acc")) else key,
                metric_name=key,
                metric_value=round(100 * value, 4),
            )
            for key, value in record.metrics.items()
        ]
    card_data = ModelCardData(
        library_name="resnetzoo",
        license=record.license.lower() if record.license else None,
        tags=["image-classification", "resnet", "cifar", "resnetzoo", "pytorch", "safetensors"],
        pipeline_tag="image-classification",
        datasets=[hub_dataset] if hub_dataset else None,
        metrics=["accuracy"] if eval_results else None,
        model_name=record.architecture,
        eval_results=eval_results,
        base_model=_base_model_repo(record),
    )
    source = f"hf-hub:{repo_id}" if repo_id else "path/to/this/folder"
    classes = str(record.num_classes)
    if record.categories:
        shown = ", ".join(record.categories[:10])
        classes += f" ({shown}, ...)" if len(record.categories) > 10 else f" ({shown})"
    rows = [
        ("architecture", f"`{record.architecture}` ({num_params:,} parameters)"),
        ("classes", classes),
        ("input", "x".join(str(v) for v in record.input_size)),
        (
            "normalisation",
            f"mean {list(record.mean)}, std {list(record.std)}" if record.mean and record.std else "unknown",
        ),
        ("trained on", dataset_title or "unknown"),
        ("training recipe", f"`{record.recipe}`" if record.recipe else "unknown"),
        ("weights", f"`{record.name}`, from {record.source}" if record.source else None),
        ("fine-tuned from", f"`{record.base_model}`" if record.base_model else None),
        ("license", record.license),
        ("paper", record.paper),
        (
            "reported top-1",
            f"{record.reported_top1:.2%} ({record.reported_in})" if record.reported_top1 else None,
        ),
        ("resnetzoo", __version__),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows if v is not None)
    results = (
        "\n".join(f"| {k} | {100 * v:.2f} |" for k, v in record.metrics.items()) or "| (none recorded) | |"
    )
    transforms = (
        "\npreprocess = model.pretrained_cfg.transforms()  # the same preprocessing, for your own pipeline"
        if record.mean and record.std
        else ""
    )
    return f"""---
{card_data.to_yaml()}
---

# {record.architecture}{f" on {dataset_title}" if dataset_title else ""}

A residual network for 32x32 images from [resnetzoo](https://github.com/resnetzoo/resnetzoo),
stored as `model.safetensors` with its architecture and metadata in `config.json`.

| | |
|---|---|
{table}

## Results

Scores resnetzoo measured on the test split (accuracies in %).

| metric | value |
|---|---|
{results}

## Usage

```python
import torch
import resnetzoo as rz

model = rz.from_pretrained("{source}").eval()
image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)  # or an image file's path, a PIL image
[top5] = rz.predict(model, image)  # resized and normalised as in training
print([p.label for p in top5]){transforms}
```
"""


def write_repo_files(
    folder: Path,
    state: Mapping[str, torch.Tensor],
    record: Weights,
    model_kwargs: Mapping[str, Any],
    card: str | None,
) -> None:
    """Write ``model.safetensors``, ``config.json`` and (if given) ``README.md`` into ``folder``.

    Raises:
        OSError: If a file cannot be written (disk full, no permission), with its errno and file name.
    """
    # Serialised here and written by Python, so that a full disk is an OSError with its errno (ENOSPC)
    # and its file, not a SafetensorError that names neither.
    (folder / WEIGHTS_NAME).write_bytes(save(dict(state), metadata={"format": "pt"}))
    config = json.dumps(_config_json(record, model_kwargs), indent=2)
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
    metrics: Mapping[str, float] | None = None,
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
        metrics: Evaluation results as fractions, e.g. ``{"top1": 0.941, "top1_jpeg": 0.908}``; the model
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
        if not isinstance(metrics, Mapping):
            raise ArgumentTypeError(f"metrics must be a mapping of names to numbers; got {metrics!r}")
        metrics = {str(k): check_number(f"metrics[{k!r}]", v) for k, v in metrics.items()}
    mean = check_numbers("mean", mean, none=True)
    std = check_numbers("std", std, positive=True, none=True)
    for name, value in (("recipe", recipe), ("dataset", dataset), ("repo_id", repo_id)):
        check_str(name, value, none=True)
    if categories is not None and (
        isinstance(categories, str) or not all(isinstance(c, str) for c in categories)
    ):
        raise ArgumentTypeError(f"categories must be a sequence of class names (strings); got {categories!r}")
    model = unwrap_model(model)
    record, kwargs = _record_to_save(
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
    card = _model_card(record, num_params=count_parameters(model), repo_id=repo_id)

    target = Path(os.path.abspath(save_directory))
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"cannot save into {target}: it is a file")
    existed = target.exists()
    kept = "the folder keeps its previous files" if existed else "nothing was written"
    staging = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = temp_dir(target)  # readable as the umask allows, not 0700 as from mkdtemp
        write_repo_files(staging, state, record, kwargs, card)
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


# ---------------------------------------------------------------------------------------------
# Reading


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
