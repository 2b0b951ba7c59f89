"""A resnetzoo repo's ``config.json``: its schema, and reading and writing it.

A repo is ``model.safetensors`` + ``config.json`` + ``README.md`` (:mod:`.save` writes it,
:mod:`.load` reads it back, :mod:`.card` writes the model card).

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

import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import ConfigError
from ..models import Weights
from ..models.registry import get_model_factory
from ..models.weights import SOURCE_LAYOUTS

__all__ = [
    "CARD_NAME",
    "CONFIG_NAME",
    "FORMAT_VERSION",
    "MODEL_KWARGS",
    "WEIGHTS_NAME",
    "read_config",
]

# The files of a resnetzoo repo.
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
