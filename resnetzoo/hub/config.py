"""A resnetzoo repo's ``config.json``: its schema, and reading and writing it.

A repo is ``model.safetensors`` + ``config.json`` + ``README.md`` (:mod:`.save` writes it,
:mod:`.load` reads it back, :mod:`.card` writes the model card).

``config.json`` is the model's :class:`~resnetzoo.Weights` record in the one JSON shape of
:mod:`resnetzoo._record` (format version 3), its ``model_kwargs`` (the record's field) spelled out
with ``num_classes`` and the usual defaults, as every version wrote them::

    {
      "format_version": 3,
      "architecture": "resnet20_cifar",          # a registered model name
      "model_kwargs": {"num_classes": 10, "in_chans": 3, "zero_init_residual": false, "shortcut": "A"},
      "num_classes": 10,
      "categories": ["airplane", ...],           # or null
      "mean": [0.4914, 0.4822, 0.4465],          # or null
      "std": [0.247, 0.2435, 0.2616],            # or null
      "input_size": [3, 32, 32],
      "dataset": "cifar10",                      # or null
      "metrics": [{"name": "top1", "value": 0.941, "split": "test", "num_images": 10000}],  # fractions
      "recipe": "long",                          # or null
      "license": "Apache-2.0",                   # or null
      "tag": null, "url": null, "sha256": null, ... # the other Weights fields: provenance and credit
      "resnetzoo_version": "0.1.0"
    }

Older files are read too: version 2 (metrics ``{"top1": 0.941}``, fractions) and version 1
(without the provenance fields, metrics in percent). Reading never executes anything from a
repo: the architecture must be registered, every field is type-checked, unknown fields are
rejected, and only the constructor arguments in :data:`MODEL_KWARGS` are passed on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .._record import MODEL_KWARGS, check_model_kwargs, decode_record, encode_record, from_percent
from .._validate import check_int, check_str
from .._version import __version__
from ..errors import ArgumentError, ConfigError
from ..models import Weights
from ..models._builder import build_kwargs
from ..models.registry import get_model_factory

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
FORMAT_VERSION = 3  # 3: metrics as a list of {name, value, split, num_images}; 2: {name: fraction}

_MAX_SIZE = 2**31  # sizes beyond int32 do not fit torch's index types: an attack or damage

# The keys of config.json beside the record's fields, and the record's fields it never holds (they
# describe this copy of a model, not the weights).
_CONFIG_KEYS = ("format_version", "resnetzoo_version")
_REQUIRED = ("format_version", "architecture", "model_kwargs", "num_classes", "resnetzoo_version")
_NOT_IN_CONFIG = ("file", "planned")


def _count(name: str, value: Any, low: int) -> int:
    accepted = f"an integer >= {low} and < 2**31"
    return check_int(name, value, minimum=low, maximum=_MAX_SIZE - 1, accepted=accepted)


def _parse_config(data: Any, *, source: str) -> tuple[Weights, dict[str, Any]]:
    """Validate a decoded ``config.json``; return its weights record and the model's constructor arguments.

    Raises:
        ConfigError: Naming the first field that is missing, unknown or of the wrong type.
    """
    try:
        if not isinstance(data, dict):
            raise ArgumentError(f"must hold a JSON object, got {type(data).__name__}")
        missing = sorted(name for name in _REQUIRED if name not in data)
        if missing:
            raise ArgumentError(f"missing required fields {missing}")
        version = check_int("'format_version'", data["format_version"], minimum=1)
        if version > FORMAT_VERSION:
            raise ArgumentError(
                f"format_version {version} was written by a newer resnetzoo ({data['resnetzoo_version']!r}); "
                f"this is {__version__}, which reads versions up to {FORMAT_VERSION}: upgrade resnetzoo"
            )
        check_str("'resnetzoo_version'", data["resnetzoo_version"])
        architecture = check_str("'architecture'", data["architecture"])
        try:
            get_model_factory(architecture)
        except ValueError as err:
            raise ArgumentError(f"architecture {architecture!r} is not a registered model: {err}") from None
        kwargs = check_model_kwargs(data["model_kwargs"])
        num_classes = _count("'num_classes'", data["num_classes"], 0)
        if kwargs.setdefault("num_classes", num_classes) != num_classes:
            raise ArgumentError(
                f"num_classes is {num_classes} but model_kwargs.num_classes is {kwargs['num_classes']}"
            )
        in_chans = kwargs.get("in_chans", 3)
        size = data.get("input_size")
        if isinstance(size, list) and size and size[0] != in_chans:
            raise ArgumentError(f"input_size {size} has {size[0]} channels but the model takes {in_chans}")
    except ArgumentError as err:
        raise ConfigError(f"invalid {CONFIG_NAME} in {source}: {err}") from None
    fields = {name: value for name, value in data.items() if name not in _CONFIG_KEYS}
    fields.setdefault("input_size", [in_chans, 32, 32])
    if version == 1 and "metrics" in fields:  # version 1 wrote percent
        fields["metrics"] = from_percent(fields["metrics"])
    record = decode_record(fields, source=source, what=CONFIG_NAME, exclude=_NOT_IN_CONFIG)
    return record, build_kwargs(record)


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


def _config_json(record: Weights) -> dict[str, Any]:
    """``config.json`` of ``record``: its encoding, with ``model_kwargs`` spelled out as every version
    wrote it (``num_classes`` and the usual defaults too: ``build_kwargs``), so 0.1.0 and 0.2.0 read it."""
    return {
        "format_version": FORMAT_VERSION,
        **encode_record(record, exclude=_NOT_IN_CONFIG),
        "model_kwargs": build_kwargs(record),
        "resnetzoo_version": __version__,
    }
