"""resnetzoo repos: ``model.safetensors`` + ``config.json`` + ``README.md``, written and read back.

The format (version 1) of ``config.json``::

    {
      "format_version": 1,
      "architecture": "resnet20_cifar",          # a registered model name
      "model_kwargs": {"num_classes": 10, "in_chans": 3, "zero_init_residual": false, "shortcut": "A"},
      "num_classes": 10,
      "categories": ["airplane", ...],           # or null
      "mean": [0.4914, 0.4822, 0.4465],          # or null
      "std": [0.247, 0.2435, 0.2616],            # or null
      "input_size": [3, 32, 32],
      "dataset": "cifar10",                      # or null
      "metrics": {"top1": 94.1},
      "recipe": "long",                          # or null
      "license": "apache-2.0",
      "resnetzoo_version": "0.1.0"
    }

Reading never executes anything from a repo: the architecture must be registered, every
field is type-checked, unknown fields are rejected, and only the constructor arguments in
:data:`MODEL_KWARGS` are passed on.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import EvalResult, ModelCardData
from safetensors.torch import save_file
from torch import nn

from .._version import __version__
from ..errors import ConfigError
from ..models import count_parameters
from ..models.registry import get_model_factory
from ._state import apply_state_dict, check_state_dict, load_weights_file
from .download import download_file
from .weights import dataset_categories

__all__ = [
    "CARD_NAME",
    "CONFIG_NAME",
    "FORMAT_VERSION",
    "HF_HUB_PREFIX",
    "MODEL_KWARGS",
    "WEIGHTS_NAME",
    "from_pretrained",
    "make_pretrained_cfg",
    "save_pretrained",
    "unwrap_model",
]

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
FORMAT_VERSION = 1
HF_HUB_PREFIX = "hf-hub:"

# The constructor arguments a config.json may carry, and their types: plain data only, so that
# rebuilding a model from a downloaded file cannot name a class or run code.
MODEL_KWARGS: dict[str, type] = {
    "num_classes": int,
    "in_chans": int,
    "zero_init_residual": bool,
    "shortcut": str,
}
_SHORTCUTS = ("A", "B")

# Hub dataset repos and display names of the data sets resnetzoo trains on, for the model card.
_HUB_DATASETS = {"cifar10": ("uoft-cs/cifar10", "CIFAR-10"), "cifar100": ("uoft-cs/cifar100", "CIFAR-100")}

_COMMIT_HASH = re.compile(r"[0-9a-f]{40}")
_REPO_ID = re.compile(r"[\w.-]+/[\w.-]+")


@dataclasses.dataclass(frozen=True)
class _RepoConfig:
    """The validated content of a ``config.json``."""

    architecture: str
    model_kwargs: dict[str, Any]
    num_classes: int
    resnetzoo_version: str
    categories: list[str] | None = None
    mean: list[float] | None = None
    std: list[float] | None = None
    input_size: list[int] = dataclasses.field(default_factory=lambda: [3, 32, 32])
    dataset: str | None = None
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    recipe: str | None = None
    license: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, **dataclasses.asdict(self)}


def make_pretrained_cfg(
    *,
    source: str,
    revision: str | None,
    architecture: str,
    num_classes: int,
    categories: Sequence[str] | None,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
    input_size: Sequence[int],
    dataset: str | None,
    metrics: Mapping[str, float],
    recipe: str | None,
    license: str | None,
) -> dict[str, Any]:
    """The ``model.pretrained_cfg`` dict that the loaders attach.

    It says where the weights came from and what a user needs to feed the model (class names,
    normalisation, input size) or to judge it (metrics, recipe).
    """
    return {
        "source": source,
        "revision": revision,
        "architecture": architecture,
        "num_classes": num_classes,
        "categories": list(categories) if categories is not None else None,
        "mean": list(mean) if mean is not None else None,
        "std": list(std) if std is not None else None,
        "input_size": list(input_size),
        "dataset": dataset,
        "metrics": dict(metrics),
        "recipe": recipe,
        "license": license,
    }


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


def _check_optional_str(name: str, value: Any) -> None:
    _check(
        value is None or (isinstance(value, str) and bool(value)), name, "a non-empty string or null", value
    )


def _check_rgb(name: str, value: Any, *, positive: bool) -> None:
    ok = value is None or (
        isinstance(value, list)
        and len(value) == 3
        and all(_is_number(v) and (v > 0 or not positive) for v in value)
    )
    _check(ok, name, f"null or a list of 3 {'positive ' if positive else ''}numbers", value)


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


# field -> (required, validator)
_FIELDS: dict[str, tuple[bool, Callable[[Any], None]]] = {
    "format_version": (True, lambda v: _check(_is_int(v), "format_version", "an integer", v)),
    "architecture": (True, lambda v: _check_str("architecture", v)),
    "model_kwargs": (True, _check_model_kwargs),
    "num_classes": (
        True,
        lambda v: _check(_is_int(v) and 0 <= v < _MAX_SIZE, "num_classes", _size_range(0), v),
    ),
    "resnetzoo_version": (True, lambda v: _check_str("resnetzoo_version", v)),
    "categories": (
        False,
        lambda v: _check(
            v is None or (isinstance(v, list) and all(isinstance(c, str) for c in v)),
            "categories",
            "null or a list of strings",
            v,
        ),
    ),
    "mean": (False, lambda v: _check_rgb("mean", v, positive=False)),
    "std": (False, lambda v: _check_rgb("std", v, positive=True)),
    "input_size": (False, _check_input_size),
    "dataset": (False, lambda v: _check_optional_str("dataset", v)),
    "metrics": (False, _check_metrics),
    "recipe": (False, lambda v: _check_optional_str("recipe", v)),
    "license": (False, lambda v: _check_optional_str("license", v)),
}


def _parse_config(data: Any, *, source: str) -> _RepoConfig:
    """Validate a decoded ``config.json`` and return it typed.

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
                f"({data['resnetzoo_version']}); this is {__version__}, which reads version "
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
        categories = data.get("categories")
        if categories is not None and len(categories) != data["num_classes"]:
            raise ConfigError(f"{len(categories)} categories for num_classes={data['num_classes']}")
        fields = {name: data[name] for name in _FIELDS if name in data and name != "format_version"}
        fields["model_kwargs"] = kwargs
        fields["metrics"] = data.get("metrics") or {}
        fields["input_size"] = data.get("input_size") or [in_chans, 32, 32]
        return _RepoConfig(**fields)
    except ConfigError as err:
        raise ConfigError(f"invalid {CONFIG_NAME} in {source}: {err}") from None


def _read_config(path: Path, *, source: str) -> _RepoConfig:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    # ValueError covers undecodable bytes, bad syntax and integers too long to convert;
    # RecursionError, arrays nested thousands deep.
    except (ValueError, RecursionError) as err:
        raise ConfigError(
            f"invalid {CONFIG_NAME} in {source}: not JSON ({type(err).__name__}: {err})"
        ) from None
    return _parse_config(data, source=source)


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


def _config_of(
    model: nn.Module,
    *,
    metrics: Mapping[str, float] | None,
    recipe: str | None,
    categories: Sequence[str] | None,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
    dataset: str | None,
) -> _RepoConfig:
    name = getattr(model, "model_name", None)
    recorded = getattr(model, "model_kwargs", None)
    if name is None or recorded is None:
        raise ValueError(
            f"cannot save a {type(model).__name__} that was not built by a registered factory "
            "(it has no model_name/model_kwargs); build it with resnetzoo.create_model(...)"
        )
    num_classes = int(getattr(model, "num_classes", recorded.get("num_classes", 0)))
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
    # Metadata not given falls back to what the loader attached, unless the head changed since.
    inherited = getattr(model, "pretrained_cfg", None) or {}
    if inherited.get("num_classes") != num_classes:
        inherited = {}
    dataset = dataset if dataset is not None else inherited.get("dataset")
    if categories is None:
        categories = inherited.get("categories")
    if categories is None and len(known := dataset_categories(dataset) or ()) == num_classes:
        categories = known
    config = {
        "format_version": FORMAT_VERSION,
        "architecture": name,
        "model_kwargs": kwargs,
        "num_classes": num_classes,
        "categories": list(categories) if categories is not None else None,
        "mean": [float(v) for v in mean] if mean is not None else inherited.get("mean"),
        "std": [float(v) for v in std] if std is not None else inherited.get("std"),
        "input_size": [int(kwargs.get("in_chans", 3)), *inherited.get("input_size", [3, 32, 32])[1:]],
        "dataset": dataset,
        "metrics": {
            k: float(v) for k, v in (metrics if metrics is not None else inherited.get("metrics", {})).items()
        },
        "recipe": recipe if recipe is not None else inherited.get("recipe"),
        "license": inherited.get("license") or "apache-2.0",
        "resnetzoo_version": __version__,
    }
    try:
        # What we write goes through the reader's checks, so a saved repo always loads back.
        return _parse_config(json.loads(json.dumps(config)), source=f"the model being saved ({name})")
    except ConfigError as err:
        raise ValueError(str(err)) from None


def _model_card(config: _RepoConfig, *, num_params: int, repo_id: str | None) -> str:
    hub_dataset, dataset_title = _HUB_DATASETS.get(config.dataset or "", (config.dataset, config.dataset))
    eval_results = None
    if config.metrics and hub_dataset:
        eval_results = [
            EvalResult(
                task_type="image-classification",
                task_name="Image Classification",
                dataset_type=hub_dataset,
                dataset_name=dataset_title,
                dataset_split="test",
                metric_type="accuracy" if key.startswith(("top", "acc")) else key,
                metric_name=key,
                metric_value=value,
            )
            for key, value in config.metrics.items()
        ]
    card_data = ModelCardData(
        library_name="resnetzoo",
        license=config.license,
        tags=["image-classification", "resnet", "cifar", "resnetzoo", "pytorch", "safetensors"],
        pipeline_tag="image-classification",
        datasets=[hub_dataset] if hub_dataset else None,
        metrics=["accuracy"] if eval_results else None,
        model_name=config.architecture,
        eval_results=eval_results,
    )
    source = f"hf-hub:{repo_id}" if repo_id else "path/to/this/folder"
    classes = str(config.num_classes)
    if config.categories:
        shown = ", ".join(config.categories[:10])
        classes += f" ({shown}, ...)" if len(config.categories) > 10 else f" ({shown})"
    rows = [
        ("architecture", f"`{config.architecture}` ({num_params:,} parameters)"),
        ("classes", classes),
        ("input", "x".join(str(v) for v in config.input_size)),
        (
            "normalisation",
            f"mean {config.mean}, std {config.std}" if config.mean and config.std else "unknown",
        ),
        ("trained on", dataset_title or "unknown"),
        ("training recipe", f"`{config.recipe}`" if config.recipe else "unknown"),
        ("resnetzoo", config.resnetzoo_version),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    results = "\n".join(f"| {k} | {v:g} |" for k, v in config.metrics.items()) or "| (none recorded) | |"
    if config.mean and config.std:
        normalise = (
            'mean = torch.tensor(cfg["mean"]).view(1, 3, 1, 1)\n'
            'std = torch.tensor(cfg["std"]).view(1, 3, 1, 1)\n'
            "x = (images / 255 - mean) / std"
        )
    else:
        normalise = "x = images / 255  # normalise as in training: this repo does not record mean/std"
    show = 'print([cfg["categories"][i] for i in predicted])' if config.categories else "print(predicted)"
    return f"""---
{card_data.to_yaml()}
---

# {config.architecture}{f" on {dataset_title}" if dataset_title else ""}

A residual network for 32x32 images from [resnetzoo](https://github.com/resnetzoo/resnetzoo),
stored as `model.safetensors` with its architecture and metadata in `config.json`.

| | |
|---|---|
{table}

## Results

Scores on the test split (accuracies in %).

| metric | value |
|---|---|
{results}

## Usage

```python
import torch
import resnetzoo as rz

model = rz.from_pretrained("{source}").eval()
cfg = model.pretrained_cfg  # categories, mean, std, input_size, metrics
images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)  # your uint8 RGB images
{normalise}
with torch.no_grad():
    predicted = model(x).argmax(dim=1).tolist()
{show}
```
"""


def _write_files(folder: Path, state: dict[str, torch.Tensor], config: _RepoConfig, card: str) -> None:
    save_file(state, folder / WEIGHTS_NAME, metadata={"format": "pt"})
    (folder / CONFIG_NAME).write_text(json.dumps(config.to_json(), indent=2) + "\n", encoding="utf-8")
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
        metrics: Evaluation results in percent, e.g. ``{"top1": 94.1, "top1_jpeg": 90.8}``.
        recipe: Name of the training recipe that produced the weights.
        categories: Class names in logit order (``num_classes`` of them).
        mean: Per-channel input mean used in training.
        std: Per-channel input standard deviation used in training.
        dataset: The training data set (``"cifar10"``, ``"cifar100"`` or a free name); a known
            one also supplies the class names when ``categories`` is not given.
        repo_id: The Hub repo the folder is meant for, shown in the card's usage snippet.

    Returns:
        The folder written.

    Raises:
        ValueError: If the model was not built by a registered factory, has constructor
            arguments that ``config.json`` cannot record (e.g. a custom ``norm_layer``), or the
            metadata is inconsistent (e.g. a wrong number of categories).
        FileExistsError: If ``save_directory`` is an existing file.
        OSError: If a file cannot be written (disk full, no permission); the folder keeps its
            previous files.
    """
    model = unwrap_model(model)
    config = _config_of(
        model, metrics=metrics, recipe=recipe, categories=categories, mean=mean, std=std, dataset=dataset
    )
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    card = _model_card(config, num_params=count_parameters(model), repo_id=repo_id)

    target = Path(os.path.abspath(save_directory))
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"cannot save into {target}: it is a file")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        _write_files(staging, state, config, card)
        if not target.exists():
            os.rename(staging, target)  # atomic: the folder appears complete
        else:
            # Weights first and config last, so a reader never pairs a new config with old weights.
            _replace_all(staging, target, (WEIGHTS_NAME, CARD_NAME, CONFIG_NAME))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("saved %s (%d classes) to %s", config.architecture, config.num_classes, target)
    return target


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
    """Rebuild a model from a resnetzoo repo: a local folder or ``"hf-hub:org/name"``.

    The architecture comes from ``config.json`` (registered models only, every field
    validated) and the weights load strictly. The metadata is attached as
    ``model.pretrained_cfg`` (``categories``, ``mean``, ``std``, ``input_size``, ``metrics``,
    ...). The model is returned in training mode, like every factory; call ``.eval()``.

    Args:
        source: A folder written by :func:`save_pretrained`, or ``"hf-hub:org/name"``.
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
        config = _read_config(config_path, source=label)
        weights_path = download_file(repo_id, WEIGHTS_NAME, revision=commit, **fetch)
    else:
        folder = Path(text)
        if not folder.is_dir():
            hint = (
                f"; for a Hub repo write {HF_HUB_PREFIX}{text}"
                if _REPO_ID.fullmatch(text) and not folder.exists()
                else ""
            )
            raise FileNotFoundError(f"{text} is not a folder{hint}")
        config_path = folder / CONFIG_NAME
        if not config_path.is_file():
            raise FileNotFoundError(
                f"{folder} has no {CONFIG_NAME}, so it is not a resnetzoo repo; write one with "
                "resnetzoo.save_pretrained(model, folder), or load foreign weights with "
                "resnetzoo.load_checkpoint"
            )
        commit, label = None, str(folder)
        config = _read_config(config_path, source=label)
        weights_path = folder / WEIGHTS_NAME
        if not weights_path.is_file():
            raise FileNotFoundError(f"{folder} has {CONFIG_NAME} but no {WEIGHTS_NAME}")

    state = load_weights_file(weights_path)
    factory = get_model_factory(config.architecture)
    # The weights must fit before the model is allocated: config.json may ask for any num_classes
    # or in_chans (a billion classes are gigabytes), so the check runs on a skeleton on the meta
    # device, which holds no memory.
    with torch.device("meta"):
        skeleton = factory(**config.model_kwargs)
    check_state_dict(skeleton, state, source=label)
    model = factory(**config.model_kwargs)
    apply_state_dict(model, state, strict=True, source=label)
    model.pretrained_cfg = make_pretrained_cfg(
        source=text,
        revision=commit,
        architecture=config.architecture,
        num_classes=config.num_classes,
        categories=config.categories,
        mean=config.mean,
        std=config.std,
        input_size=config.input_size,
        dataset=config.dataset,
        metrics=config.metrics,
        recipe=config.recipe,
        license=config.license,
    )
    logger.info("loaded %s from %s", config.architecture, label)
    return model
