"""One codec for weights records: :func:`encode_record` and :func:`decode_record`.

A :class:`~resnetzoo.Weights` record leaves Python in one JSON shape, written and read here and
nowhere else: a saved repo's ``config.json`` (:mod:`resnetzoo.hub.config`), the record inside
training checkpoints, the ``record`` entry of ONNX metadata (:func:`resnetzoo.export`, and the
int8 files of :func:`resnetzoo.quantize`) and of ``model.safetensors`` metadata. The model card is
written from the decoded record.

The shape is generated from the dataclass fields and their type hints, so a field added to
:class:`~resnetzoo.ModelSpec` or :class:`~resnetzoo.WeightsFile` is written, read and validated
without another table. ``model_kwargs`` (what rebuilds the network with ``architecture`` and
``num_classes``) is an object of the plain-data constructor arguments in :data:`MODEL_KWARGS`, so a
file cannot name a class to build. Tuples are JSON lists; ``metrics`` is a list of
``{"name", "value", "split", "num_images"}`` objects (values are fractions). Reading checks every
value with the argument checks of :mod:`resnetzoo._validate` (and the limits a field declares in
its ``metadata``: a pattern, a maximum, a length), refuses unknown keys, and names the file and
the key in its :class:`~resnetzoo.ConfigError`. The old ``{name: fraction}`` form of metrics is
read too.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import numbers
import re
from collections.abc import Collection, Mapping
from typing import Any, Literal, get_args, get_origin, get_type_hints

from ._validate import (
    check_bool,
    check_choice,
    check_int,
    check_number,
    check_numbers,
    check_str,
    unwrap_optional,
)
from .errors import ArgumentError, ConfigError
from .models.weights import Metric, Metrics, Weights

__all__ = [
    "MODEL_KWARGS",
    "RECORD_KEY",
    "check_model_kwargs",
    "decode_record",
    "encode_record",
    "from_percent",
    "record_from_metadata",
    "record_metadata",
]

# The constructor arguments a record may carry (``model_kwargs``), and their types: plain data only, so
# that rebuilding a model from a downloaded file cannot name a class or run code.
MODEL_KWARGS: dict[str, type] = {
    "num_classes": int,  # config.json spells it out; the record holds it as its own field
    "in_chans": int,
    "stem_width": int,
    "zero_init_residual": bool,
    "shortcut": str,
    # A structurally pruned network (resnetzoo.prune): per stage, per block, the widths of the block's
    # inner convolutions. Integers only: the shapes they give are checked against the weights file.
    "inner_channels": list,
    # timm's regularisers (dropout before the head, stochastic depth), recorded where they are not 0.
    "drop_rate": float,
    "drop_path_rate": float,
}
_SHORTCUTS = ("A", "B")
_MAX_SIZE = 2**31  # sizes beyond int32 do not fit torch's index types: an attack or damage

RECORD_KEY = "record"
"""The key of the JSON record in a file's string metadata: ONNX ``metadata_props``, safetensors headers."""


def encode_record(record: Weights, *, exclude: Collection[str] = ()) -> dict[str, Any]:
    """``record`` as plain JSON-ready values: every field but those in ``exclude``.

    Example:
        >>> from resnetzoo import Metric, Weights
        >>> encode_record(Weights(architecture="resnet20_cifar", metrics=[Metric("top1", 0.9, "test", 100)]))[
        ...     "metrics"
        ... ]
        [{'name': 'top1', 'value': 0.9, 'split': 'test', 'num_images': 100}]
    """
    return {
        f.name: _encode(getattr(record, f.name)) for f in dataclasses.fields(record) if f.name not in exclude
    }


def decode_record(data: Any, *, source: str, what: str = "record", exclude: Collection[str] = ()) -> Weights:
    """The :class:`~resnetzoo.Weights` record that :func:`encode_record` wrote, every value checked.

    Args:
        data: The decoded JSON object.
        source: The file (or repo, or checkpoint) it came from, named in errors.
        what: What ``data`` is, named in errors (``"config.json"``, ``"record"``).
        exclude: Fields that this kind of file never holds; one that is present is refused.

    Raises:
        ConfigError: ``"invalid <what> in <source>: ..."`` naming the first key that is unknown,
            missing or of a wrong value, or the fields that contradict each other.
    """
    try:
        values = _decode_dataclass(Weights, data, prefix="", exclude=exclude)
        return Weights(**values)
    except (ArgumentError, ValueError, TypeError) as err:  # ArgumentError is a ValueError, spelt out
        raise ConfigError(f"invalid {what} in {source}: {err}") from None


def record_metadata(record: Weights, *, exclude: Collection[str] = ()) -> dict[str, str]:
    """``{"record": "<JSON>"}``: the record as string metadata (ONNX ``metadata_props``, safetensors)."""
    return {RECORD_KEY: json.dumps(encode_record(record, exclude=exclude))}


def record_from_metadata(metadata: Mapping[str, str], *, source: str) -> Weights | None:
    """The record in a file's string metadata (see :func:`record_metadata`), or None if it has none.

    The records of files that resnetzoo 0.1.0 wrote (the int8 ONNX files of ``quantize``: the
    metadata's ``resnetzoo_version`` is ``0.1.x`` and metrics are an object) hold percent and the
    number of images as a metric, ``{"top1": 91.99, "top1_fp32": 92.5, "check_images": 200}``; they
    are read as fractions measured on that many images.

    Raises:
        ConfigError: If the record is not JSON or not a valid record, naming ``source``.
    """
    if RECORD_KEY not in metadata:
        return None
    try:
        data = json.loads(metadata[RECORD_KEY])
    except (ValueError, RecursionError) as err:
        raise ConfigError(f"invalid record in {source}: not JSON ({type(err).__name__}: {err})") from None
    version = metadata.get("resnetzoo_version")
    if isinstance(data, dict) and isinstance(version, str) and version.startswith("0.1."):
        data = {**data, "metrics": from_percent(data.get("metrics"), count="check_images")}
    return decode_record(data, source=source)


def from_percent(metrics: Any, *, count: str | None = None) -> Any:
    """Metrics of the old ``{name: percent}`` form as ``{name, value, split, num_images}`` fractions.

    What resnetzoo 0.1.0 wrote in percent: ``config.json`` format 1, and the record of its int8 ONNX
    files, where ``count`` names the entry that held the number of images the others were measured
    on. Anything else (the list form, a value that is not a number) is returned as it is, for the
    decoder to check and refuse.
    """
    if not isinstance(metrics, Mapping) or not all(_is_real(v) for v in metrics.values()):
        return metrics
    images = metrics.get(count) if count is not None else None
    if images is not None and not (isinstance(images, int) and not isinstance(images, bool) and images >= 0):
        return metrics  # not a count: left for the decoder to refuse
    try:
        return [
            {"name": name, "value": value / 100, "num_images": images}
            for name, value in metrics.items()
            if name != count
        ]
    except OverflowError:  # an integer beyond float range: left for the decoder, which names the key
        return metrics


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# Writing


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):  # model_kwargs
        # A constructor argument that is no data (norm_layer=<a class>) has no JSON form and is left out:
        # save_pretrained refuses such a model; a checkpoint or an export keeps the rest.
        return {k: _encode(v) for k, v in value.items() if _is_plain(v)}
    return value


def _is_plain(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    return isinstance(value, (str, int, float, bool, type(None)))


# ---------------------------------------------------------------------------------------------
# Reading


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _decode_dataclass(cls: type, data: Any, *, prefix: str, exclude: Collection[str] = ()) -> dict[str, Any]:
    """Checked constructor arguments of ``cls`` from a JSON object; null in an optional field: its default."""
    where = f"{prefix.rstrip('.')!r}" if prefix else "it"
    if not isinstance(data, Mapping):
        raise ArgumentError(f"{where} must be a JSON object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in exclude}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ArgumentError(
            f"unexpected fields {_names(prefix, unknown)}; a resnetzoo record has only {sorted(fields)}"
        )
    required = [
        name
        for name, f in fields.items()
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = sorted(name for name in required if name not in data)
    if missing:
        raise ArgumentError(f"missing required fields {_names(prefix, missing)}")
    hints = _hints(cls)
    values = {}
    for name, value in data.items():
        hint, optional = unwrap_optional(hints[name])
        if value is None and optional:
            continue  # null: the field's default, None
        values[name] = _decode_value(prefix + name, value, hint, optional, fields[name].metadata)
    return values


def _names(prefix: str, names: list[str]) -> str:
    """``['metrics[0].name']``: keys in one quoting, however nested."""
    return "[" + ", ".join(f"'{prefix}{name}'" for name in names) + "]"


def _bad(label: str, accepted: str, value: Any, optional: bool) -> ArgumentError:
    return ArgumentError(f"{label} must be {'null or ' if optional else ''}{accepted}, got {value!r}")


def _decode_value(name: str, value: Any, hint: Any, optional: bool, meta: Mapping[str, Any]) -> Any:
    label = f"'{name}'"
    origin, args = get_origin(hint), get_args(hint)
    if hint is Metrics:
        return _decode_metrics(name, value)
    if origin is Mapping:  # model_kwargs
        return check_model_kwargs(value)
    if origin is Literal:
        return check_choice(label, value, args)
    if hint is bool:
        return check_bool(label, value)
    if hint is int:
        accepted = meta.get("accepted", "an integer >= 0")
        return check_int(
            label,
            value,
            minimum=0,
            maximum=meta.get("maximum"),
            accepted=("None or " if optional else "") + accepted,
        )
    if hint is float:
        return check_number(label, value, none=optional)
    if hint is str:
        text = check_str(label, value, none=optional)
        pattern = meta.get("pattern")
        if pattern is not None and not re.fullmatch(pattern, text):
            raise _bad(label, meta["accepted"], value, optional)
        return text
    if origin is tuple and args[1:] == (Ellipsis,):  # a list of any length: categories, mean, std
        low, high = meta.get("length", (0, None))
        if (
            not isinstance(value, (list, tuple))
            or len(value) < low
            or (high is not None and len(value) > high)
        ):
            raise _bad(label, _list_text(args[0], low, high, meta), value, optional)
        if args[0] is str:
            if not all(isinstance(v, str) for v in value):
                raise _bad(label, _list_text(str, low, high, meta), value, optional)
            return tuple(value)
        try:
            return check_numbers(label, value, positive=meta.get("positive", False))
        except ArgumentError:
            raise _bad(label, _list_text(args[0], low, high, meta), value, optional) from None
    if origin is tuple:  # fixed length: input_size (channels, height, width)
        maximum = meta.get("maximum")
        accepted = f"a list of {len(args)} positive integers" + (
            f", height and width <= {maximum}" if maximum is not None else ""
        )
        ok = (
            isinstance(value, (list, tuple))
            and len(value) == len(args)
            and all(_is_count(v, 1) for v in value)
            and (maximum is None or max(value[1:]) <= maximum)
        )
        if not ok:
            raise _bad(label, accepted, value, optional)
        return tuple(int(v) for v in value)
    raise TypeError(f"the record codec has no JSON form for {name!r} of type {hint!r}")  # a programming error


def check_model_kwargs(value: Any) -> dict[str, Any]:
    """Checked constructor arguments of a record (``model_kwargs``): only those of :data:`MODEL_KWARGS`.

    Raises:
        ArgumentError: Naming ``'model_kwargs.<name>'``, or the arguments that a record cannot hold.
    """
    if not isinstance(value, Mapping):
        raise ArgumentError(f"'model_kwargs' must be an object, got {value!r}")
    unknown = sorted(set(value) - set(MODEL_KWARGS))
    if unknown:
        raise ArgumentError(
            f"'model_kwargs' has unsupported arguments {unknown}; allowed: {sorted(MODEL_KWARGS)}"
        )
    kwargs = dict(value)
    for name, low in (("num_classes", 0), ("in_chans", 1), ("stem_width", 1)):
        if name in kwargs:
            accepted = f"an integer >= {low} and < 2**31"
            label = f"'model_kwargs.{name}'"
            kwargs[name] = check_int(
                label, kwargs[name], minimum=low, maximum=_MAX_SIZE - 1, accepted=accepted
            )
    if "zero_init_residual" in kwargs:
        kwargs["zero_init_residual"] = check_bool(
            "'model_kwargs.zero_init_residual'", kwargs["zero_init_residual"]
        )
    if "shortcut" in kwargs:
        check_choice("'model_kwargs.shortcut'", kwargs["shortcut"], _SHORTCUTS)
    for name in ("drop_rate", "drop_path_rate"):
        if name in kwargs:
            kwargs[name] = check_number(f"'model_kwargs.{name}'", kwargs[name], minimum=0, maximum=1)
    if "inner_channels" in kwargs and not _is_inner_channels(kwargs["inner_channels"]):
        raise ArgumentError(
            "'model_kwargs.inner_channels' must be per stage (3 or 4), per block, a list of 1 or 2 "
            f"channel counts >= 1, got {kwargs['inner_channels']!r}"
        )
    return kwargs


def _is_inner_channels(stages: Any) -> bool:
    return (
        isinstance(stages, (list, tuple))
        and 3 <= len(stages) <= 4
        and all(
            isinstance(blocks, (list, tuple))
            and 1 <= len(blocks) <= 1024
            and all(
                isinstance(widths, (list, tuple))
                and 1 <= len(widths) <= 2
                and all(isinstance(w, int) and not isinstance(w, bool) and 1 <= w < _MAX_SIZE for w in widths)
                for widths in blocks
            )
            for blocks in stages
        )
    )


def _is_count(value: Any, minimum: int) -> bool:
    try:
        check_int("", value, minimum=minimum)
    except ArgumentError:
        return False
    return True


def _list_text(item: Any, low: int, high: int | None, meta: Mapping[str, Any]) -> str:
    what = "strings" if item is str else f"{'positive ' if meta.get('positive') else ''}numbers"
    if high is None:
        return f"a list of {what}"
    return f"a list of {low} to {high} {what}"


def _decode_metrics(name: str, value: Any) -> Metrics:
    accepted = "a list of {name, value, split, num_images} objects (or an object of numbers, the old form)"
    if isinstance(value, Mapping):  # the old form, {name: fraction}
        entries = [{"name": k, "value": v} for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        entries = list(value)
    else:
        raise _bad(f"'{name}'", accepted, value, False)
    metrics = []
    for i, entry in enumerate(entries):
        if isinstance(entry, Metric):
            metrics.append(entry)
            continue
        label = (
            f"{name}[{entry['name']!r}]" if isinstance(entry, Mapping) and "name" in entry else f"{name}[{i}]"
        )
        metrics.append(Metric(**_decode_dataclass(Metric, entry, prefix=f"{label}.")))
    return Metrics(metrics)
