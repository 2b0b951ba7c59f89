"""Argument checks shared by every public function, class and command: one helper, one wording.

Each check names the parameter, says which values it accepts and what it got, and returns the
value in plain Python form (a numpy integer becomes an ``int``), so that a caller writes::

    batch_size = check_int("batch_size", batch_size, minimum=1)

A value of the wrong type raises :class:`~resnetzoo.ArgumentTypeError` (a ``TypeError`` and a
``ValueError``), one of the right type but out of range :class:`~resnetzoo.ArgumentError` (a
``ValueError``): both are :class:`~resnetzoo.ResnetzooError`, so the command line reports them
as one line.
"""

from __future__ import annotations

import difflib
import math
import numbers
import types
from collections.abc import Iterable, Sequence
from typing import Any, Union, get_args, get_origin

import torch

from .errors import ArgumentError, ArgumentTypeError

__all__ = [
    "SEED_RANGE",
    "check_bool",
    "check_callable",
    "check_choice",
    "check_device",
    "check_fraction",
    "check_hinted",
    "check_input_size",
    "check_instance",
    "check_int",
    "check_number",
    "check_numbers",
    "check_real",
    "check_seed",
    "check_size",
    "check_str",
    "check_tensor",
    "is_int",
    "suggest",
    "unwrap_optional",
]

# Seeds go to torch.manual_seed (which takes [0, 2**64)), numpy's SeedSequence (non-negative), and
# get a process's rank added under torchrun: [0, 2**63) fits all of them with room to spare.
SEED_RANGE = (0, 2**63 - 1)


def _got(value: Any) -> str:
    kind = type(value)
    if hasattr(value, "shape") and hasattr(value, "dtype"):  # an array or tensor: its repr is its values
        return (
            f"got a {kind.__module__}.{kind.__name__} of shape {tuple(value.shape)} and dtype {value.dtype}"
        )
    text = repr(value)
    return f"got {text if len(text) <= 80 else text[:77] + '...'} of type {kind.__name__}"


def _type_error(name: str, accepted: str, value: Any, hint: str = "") -> ArgumentTypeError:
    return ArgumentTypeError(f"{name} must be {accepted}; {_got(value)}{hint}", param=name)


def _range_text(minimum: float | None, maximum: float | None, *, exclusive_min: bool = False) -> str:
    low = f"> {minimum}" if exclusive_min else f">= {minimum}"
    if minimum is not None and maximum is not None:
        return f"in {'(' if exclusive_min else '['}{minimum}, {maximum}]"
    if minimum is not None:
        return low
    if maximum is not None:
        return f"<= {maximum}"
    return ""


def is_int(value: Any) -> bool:
    """Whether ``value`` is an integer: a Python or numpy integer, but not ``True``/``False``."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _accepted_text(kind: str, bounds: str, *, none: bool, accepted: str | None) -> str:
    """How messages word the accepted values: ``accepted``, else ``kind`` with its bounds (and None)."""
    text = accepted or (f"{kind} {bounds}" if bounds else kind)
    return f"None or {text}" if none and accepted is None else text


def check_int(
    name: str,
    value: Any,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    none: bool = False,
    accepted: str | None = None,
) -> Any:
    """``value`` as an ``int`` (or None when ``none``), refusing floats, bools and out-of-range values.

    Args:
        name: The parameter as the caller knows it, e.g. ``"batch_size"`` or ``"TrainConfig.epochs"``.
        value: What was passed.
        minimum: The smallest value accepted.
        maximum: The largest value accepted.
        none: Accept None too.
        accepted: Describes the accepted values in the message instead of the range.

    Raises:
        ArgumentTypeError: If ``value`` is not an integer (``2.5``, ``True``, ``"3"``).
        ArgumentError: If it is out of range.
    """
    if value is None and none:
        return None
    text = _accepted_text("an integer", _range_text(minimum, maximum), none=none, accepted=accepted)
    if not is_int(value):
        raise _type_error(name, text, value)
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ArgumentError(f"{name} must be {text}; got {value!r}", param=name)
    return value


def check_number(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_min: bool = False,
    none: bool = False,
    accepted: str | None = None,
) -> Any:
    """``value`` as a finite ``float`` (or None when ``none``) within the bounds.

    Raises:
        ArgumentTypeError: If ``value`` is not a real number (a string, a bool, a tensor).
        ArgumentError: If it is NaN, infinite or out of range.
    """
    if value is None and none:
        return None
    bounds = _range_text(minimum, maximum, exclusive_min=exclusive_min)
    text = _accepted_text("a finite number", bounds, none=none, accepted=accepted)
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise _type_error(name, text, value)
    try:
        number = float(value)
    except OverflowError:  # an integer beyond the float range (a JSON number can be any size)
        raise ArgumentError(
            f"{name} must be {text}; got an integer beyond the float range", param=name
        ) from None
    too_low = minimum is not None and (number <= minimum if exclusive_min else number < minimum)
    too_high = maximum is not None and number > maximum
    if not math.isfinite(number) or too_low or too_high:
        raise ArgumentError(f"{name} must be {text}; got {value!r}", param=name)
    return number


def check_numbers(
    name: str, value: Any, *, length: int | None = None, positive: bool = False, none: bool = False
) -> Any:
    """A sequence of finite numbers as a tuple of floats (e.g. a per-channel mean or std).

    Raises:
        ArgumentTypeError: If ``value`` is not a sequence of real numbers.
        ArgumentError: If it has the wrong length, or holds a NaN, an infinity or (``positive``) a
            number <= 0.
    """
    if value is None and none:
        return None
    count = f"{length} " if length is not None else ""
    text = f"a sequence of {count}{'positive ' if positive else ''}finite numbers"
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    values = list(value) if isinstance(value, Iterable) and not isinstance(value, (str, bytes)) else None
    if values is None or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
        raise _type_error(name, text, value)
    try:
        floats = tuple(float(v) for v in values)
    except OverflowError:  # an integer beyond the float range (a JSON number can be any size)
        raise ArgumentError(
            f"{name} must be {text}; got an integer beyond the float range", param=name
        ) from None
    bad = not all(math.isfinite(v) and (v > 0 or not positive) for v in floats)
    if bad or (length is not None and len(floats) != length) or not floats:
        raise ArgumentError(f"{name} must be {text}; got {value!r}", param=name)
    return floats


def check_size(name: str, value: Any, *, none: bool = False) -> Any:
    """An image size as a ``(height, width)`` pair of ints: ``32`` means ``(32, 32)``.

    Args:
        name: The parameter, e.g. ``"size"``.
        value: An int, or a pair (tuple, list) of ints; each positive.
        none: Accept None too (then None is returned).

    Raises:
        ArgumentTypeError: If ``value`` or one of its items is not an integer (``32.5``, ``"32"``, ``True``).
        ArgumentError: If it is not positive, or a sequence of other than two sizes.
    """
    if value is None and none:
        return None
    text = f"{'None or ' if none else ''}a positive integer or a (height, width) pair of them"
    if is_int(value):
        pair: tuple[Any, ...] = (value, value)
    elif isinstance(value, (tuple, list)):
        pair = tuple(value)
        if len(pair) != 2:
            raise ArgumentError(f"{name} must be {text}; got {value!r}", param=name)
    else:
        raise _type_error(name, text, value)
    if not all(is_int(v) for v in pair):
        raise _type_error(name, text, value)
    if not all(v > 0 for v in pair):
        raise ArgumentError(f"{name} must be {text}; got {value!r}", param=name)
    return (int(pair[0]), int(pair[1]))


def check_input_size(name: str, value: Any, *, none: bool = False) -> Any:
    """A model's input size as a ``(channels, height, width)`` tuple of positive ints.

    Raises:
        ArgumentTypeError: If ``value`` is not a sequence of three integers (``(3, 32.5, 32)``).
        ArgumentError: If it has another length, or a size that is not positive.
    """
    if value is None and none:
        return None
    text = f"{'None or ' if none else ''}(channels, height, width), three positive integers"
    if isinstance(value, torch.Size):
        value = tuple(value)
    if not isinstance(value, (tuple, list)) or not all(is_int(v) for v in value):
        raise _type_error(name, text, value)
    if len(value) != 3 or not all(v > 0 for v in value):
        raise ArgumentError(f"{name} must be {text}; got {tuple(value)!r}", param=name)
    return tuple(int(v) for v in value)


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is True or False (a numpy bool too); not ``"false"``, ``0`` or None.

    Raises:
        ArgumentTypeError: Otherwise.
    """
    if isinstance(value, bool) or type(value).__name__ == "bool_":  # numpy.bool_ without importing numpy
        return bool(value)
    raise _type_error(name, "True or False", value)


def check_str(name: str, value: Any, *, none: bool = False, accepted: str | None = None) -> Any:
    """``value`` if it is a non-empty string (or None when ``none``).

    Raises:
        ArgumentTypeError: If it is not a string.
        ArgumentError: If it is empty.
    """
    if value is None and none:
        return None
    text = accepted or ("None or a non-empty string" if none else "a non-empty string")
    if not isinstance(value, str):
        raise _type_error(name, text, value)
    if not value.strip():
        raise ArgumentError(f"{name} must be {text}; got {value!r}", param=name)
    return value


def suggest(value: Any, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest choice, matching case first; ``""`` if none is close."""
    choices = list(choices)
    if isinstance(value, str):
        by_case = {c.lower(): c for c in choices}
        if value.lower() in by_case:
            return f" (did you mean {by_case[value.lower()]!r}?)"
        close = difflib.get_close_matches(value, choices, n=1)
        if close:
            return f" (did you mean {close[0]!r}?)"
    return ""


def check_choice(name: str, value: Any, choices: Sequence[str], *, none: bool = False) -> Any:
    """``value`` if it is one of ``choices`` (or None when ``none``), suggesting the closest one if not.

    Raises:
        ArgumentError: Naming the choices.
    """
    if value is None and none:
        return None
    if isinstance(value, str) and value in choices:
        return value
    allowed = ", ".join(repr(c) for c in choices)
    if none:
        allowed += " or None"
    raise ArgumentError(
        f"{name} must be one of {allowed}; got {value!r}{suggest(value, choices)}", param=name
    )


def check_callable(name: str, value: Any, *, what: str, none: bool = True) -> Any:
    """``value`` if it can be called (a class or a function), or None when ``none``.

    Args:
        name: The parameter.
        value: What was passed.
        what: What a valid value looks like, e.g. ``"a class such as torch.nn.BatchNorm2d"``.
        none: Accept None (the default) too.

    Raises:
        ArgumentTypeError: If ``value`` is a string (``norm_layer='bn'``) or anything else not callable.
    """
    if (value is None and none) or callable(value):
        return value
    hint = "; pass the class itself, not its name" if isinstance(value, str) else ""
    raise _type_error(name, f"{'None or ' if none else ''}{what}", value, hint)


def check_tensor(name: str, value: Any, *, what: str = "a torch.Tensor") -> torch.Tensor:
    """``value`` if it is a tensor; a numpy array or a list is refused with the conversion to use.

    Raises:
        ArgumentTypeError: If ``value`` is not a ``torch.Tensor``.
    """
    if isinstance(value, torch.Tensor):
        return value
    hint = ""
    if type(value).__module__ == "numpy":
        hint = "; convert it with torch.from_numpy(x)"
    elif isinstance(value, (list, tuple)):
        hint = "; convert it with torch.tensor(x)"
    raise _type_error(name, what, value, hint)


def check_seed(name: str, value: Any, *, none: bool = False) -> Any:
    """``value`` if it is an integer seed every random generator accepts: in [0, 2**63).

    Raises:
        ArgumentTypeError: If it is not an integer.
        ArgumentError: If it is negative or 2**63 or more.
    """
    return check_int(
        name,
        value,
        minimum=SEED_RANGE[0],
        maximum=SEED_RANGE[1],
        none=none,
        accepted=f"{'None or ' if none else ''}an integer in [0, 2**63)",
    )


def check_device(name: str, value: Any) -> torch.device:
    """``value`` as a ``torch.device`` that exists here: ``"cuda"`` needs a GPU that torch can use.

    Raises:
        ArgumentError: If ``value`` is not a device string or ``torch.device``, or names a CUDA device
            this machine does not have.
    """
    try:
        device = torch.device(value)
    except (RuntimeError, TypeError):
        raise ArgumentError(
            f"{name} must be a torch device such as 'cpu', 'cuda' or 'cuda:1'; got {value!r}", param=name
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ArgumentError(
                f"{name}={value!r} asks for CUDA, which is not available here (no GPU that torch can use, or "
                "a torch build without CUDA); use 'cpu'",
                param=name,
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ArgumentError(
                f"{name}={value!r} asks for GPU {device.index}, but this machine has "
                f"{torch.cuda.device_count()} (cuda:0 to cuda:{torch.cuda.device_count() - 1})",
                param=name,
            )
    return device


def check_real(name: str, value: Any, *, none: bool = False, accepted: str | None = None) -> Any:
    """``value`` as a finite ``float`` of any sign (or None when ``none``): a number without bounds.

    Raises:
        ArgumentTypeError: If ``value`` is not a real number (a string, a bool, a tensor).
        ArgumentError: If it is NaN or infinite.
    """
    return check_number(name, value, none=none, accepted=accepted)


def check_fraction(
    name: str,
    value: Any,
    *,
    exclusive_min: bool = False,
    exclusive_max: bool = False,
    none: bool = False,
    accepted: str | None = None,
) -> Any:
    """``value`` as a ``float`` in [0, 1] (a share, a weight, a probability), or None when ``none``.

    Args:
        name: The parameter.
        value: What was passed.
        exclusive_min: Refuse 0.
        exclusive_max: Refuse 1.
        none: Accept None too.
        accepted: Describes the accepted values in the message instead of the interval.

    Raises:
        ArgumentTypeError: If ``value`` is not a real number.
        ArgumentError: If it is outside the interval, NaN or infinite.
    """
    interval = f"{'(' if exclusive_min else '['}0, 1{')' if exclusive_max else ']'}"
    text = _accepted_text("a number", f"in {interval}", none=none, accepted=accepted)
    number = check_number(name, value, none=none, accepted=text)
    if number is None:
        return None
    low = number <= 0 if exclusive_min else number < 0
    high = number >= 1 if exclusive_max else number > 1
    if low or high:
        raise ArgumentError(f"{name} must be {text}; got {value!r}", param=name)
    return number


def check_instance(
    name: str, value: Any, kind: type | tuple[type, ...], *, what: str, none: bool = False, hint: str = ""
) -> Any:
    """``value`` if it is an instance of ``kind`` (or None when ``none``).

    Args:
        name: The parameter.
        value: What was passed.
        kind: The accepted class, or a tuple of them.
        what: The accepted values in words, e.g. ``"a torch.nn.Module"``.
        none: Accept None too.
        hint: Appended to the message, e.g. ``"; build one with TrainConfig(**settings)"``.

    Raises:
        ArgumentTypeError: Otherwise.
    """
    if (value is None and none) or isinstance(value, kind):
        return value
    raise _type_error(name, f"{'None or ' if none else ''}{what}", value, hint)


def unwrap_optional(hint: Any) -> tuple[Any, bool]:
    """``(X, True)`` for the type hint ``X | None`` (``Optional[X]``), else ``(hint, False)``.

    The one reading of optional hints: the record codec's fields, TrainConfig's and the command line's.
    """
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(get_args(hint)) == 2:
            return args[0], True
    return hint, False


# The kinds a dataclass field may declare for check_hinted, as messages word them.
_KINDS: dict[type, str] = {int: "an integer", float: "a number", bool: "True or False", str: "a string"}


def _is_kind(value: Any, kind: type) -> bool:
    if kind is int:
        return is_int(value)
    if kind is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if kind is bool:
        return isinstance(value, bool) or type(value).__name__ == "bool_"  # numpy.bool_, as check_bool
    return isinstance(value, kind)


def _as_kind(value: Any, kind: type) -> Any:
    # numpy scalars become Python ones: checkpoints and JSON files hold plain values only.
    if kind in (int, bool) or (kind is float and type(value) not in (int, float)):
        return kind(value)
    return value


def check_hinted(name: str, value: Any, hint: Any) -> Any:
    """``value`` checked against the type hint a dataclass field declares, in plain Python form.

    The hints are ``int``, ``float``, ``bool``, ``str``, ``tuple[X, ...]`` or ``tuple[X, X]`` of one of
    them (a list is taken too, and becomes a tuple) and any of them ``| None``. Only the type is
    checked: a float may be NaN and an int negative, for the field's own check (``check_number``,
    ``check_int``), which then words the range. numpy scalars become Python ones.

    Raises:
        ArgumentTypeError: ``"<name> must be an integer; got 2.5 of type float"``, with ``or None`` for
            an optional field.
        TypeError: If ``hint`` is none of those (a programming error).
    """
    kind, optional = unwrap_optional(hint)
    if value is None and optional:
        return None
    or_none = " or None" if optional else ""
    args = get_args(kind)
    if get_origin(kind) is tuple and args and all(a in (args[0], Ellipsis) for a in args):
        item = args[0]  # the length is the field's own check, e.g. two betas
        if isinstance(value, (tuple, list)) and all(_is_kind(v, item) for v in value):
            return tuple(_as_kind(v, item) for v in value)
        items = _KINDS[item].split(" ", 1)[1]  # "integer"
        raise _type_error(name, f"a tuple of {items}s{or_none}", value)
    if kind not in _KINDS:
        raise TypeError(f"check_hinted has no check for {name} of type {hint!r}")
    if not _is_kind(value, kind):
        raise _type_error(name, _KINDS[kind] + or_none, value)
    return _as_kind(value, kind)
