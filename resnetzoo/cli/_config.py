"""``resnetzoo train``'s settings: one option per :class:`~resnetzoo.TrainConfig` field, and the layers
they come from.

A run's settings are, from the bottom up: TrainConfig's defaults, the recipe's (``--recipe``, else the
config file's ``recipe``, else ``fast``), the config file's (``--config``) and the options'. The recipe
takes the file's values and the options' in one call of :func:`~resnetzoo.recipes.get_recipe`, so a
value moves the recipe's schedule the same way from either (``epochs = 3`` in a file is ``--epochs 3``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import docstring_parser
import tomli_w

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from .._validate import unwrap_optional
from .._version import __version__
from ..data import POLICIES, AugmentConfig
from ..errors import ArgumentError, ArgumentTypeError
from ..train import TrainConfig, get_recipe
from ..train.config import AMP_MODES, COMPILE_MODES, LOGGERS, OPTIMIZERS, SCHEDULES

__all__ = ["DEFAULT_RECIPE", "add_config_arguments", "field_docs", "to_toml", "train_config"]

DEFAULT_RECIPE = "fast"
# The TrainConfig fields that take one of a few names, and the augmentation policy.
_CHOICES = {
    "optimizer": OPTIMIZERS,
    "schedule": SCHEDULES,
    "amp": AMP_MODES,
    "compile_mode": COMPILE_MODES,
    "loggers": LOGGERS,
    "policy": POLICIES,
}
# Fields train sets with options of its own: the recipe is --recipe, out_dir is --out, and augment is one
# option per AugmentConfig field.
_NOT_OPTIONS = ("recipe", "out_dir", "augment")
_AUGMENT = "augment."  # the prefix of the augmentation options' destinations


def field_docs(cls: type) -> dict[str, str]:
    """The ``Attributes:`` section of dataclass ``cls``'s docstring (Google style): field -> its text."""
    parsed = docstring_parser.parse(cls.__doc__ or "", docstring_parser.DocstringStyle.GOOGLE)
    return {
        param.arg_name: " ".join((param.description or "").split())
        for param in parsed.params
        if param.args[0] == "attribute"
    }


def _optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse``, and ``none`` for None."""

    def parse_or_none(text: str) -> Any:
        return None if text.lower() == "none" else parse(text)

    parse_or_none.__name__ = parse.__name__  # argparse names the type in its error messages
    return parse_or_none


def _type_name(hint: Any) -> str:
    """``int | None``, ``tuple[float, ...]``: a type hint as the help shows it."""
    if get_origin(hint) in (Union, types.UnionType):
        return " | ".join(_type_name(arg) for arg in get_args(hint))
    if get_origin(hint) is tuple:
        return f"tuple[{', '.join('...' if arg is Ellipsis else _type_name(arg) for arg in get_args(hint))}]"
    return "None" if hint is type(None) else hint.__name__


def _option(name: str, hint: Any, doc: str, default: Any) -> dict[str, Any]:
    """argparse's keywords for a field of type ``hint`` (``int | None``, ``tuple[float, ...]``, ...);
    ``default`` is the default recipe's value, shown in the help (the option's own default is None:
    unset, the recipe's or the config file's value stands)."""
    kind, optional = unwrap_optional(hint)  # the reading of hints that TrainConfig's checks use
    shown = (
        "none" if default is None else " ".join(map(str, default)) if isinstance(default, tuple) else default
    )
    text = f"{doc} ({_type_name(hint)}; default: {shown}, from the {DEFAULT_RECIPE} recipe)"
    options: dict[str, Any] = {"default": None, "help": text.replace("%", "%%")}  # argparse formats help
    if kind is bool:
        options["action"] = argparse.BooleanOptionalAction
        return options
    options["metavar"] = name.upper()
    if get_origin(kind) is tuple:
        options["type"] = get_args(kind)[0]
        options["nargs"] = "*" if name == "loggers" else "+"
    else:
        options["type"] = _optional(kind) if optional else kind
    if name in _CHOICES:
        names = [*_CHOICES[name], *(["none"] if optional else [])]
        options["choices"] = (*_CHOICES[name], *((None,) if optional else ()))
        options["metavar"] = "{" + ",".join(names) + "}"
    return options


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    """One option per TrainConfig field (and per AugmentConfig field), from the dataclasses' types and
    docstrings, so an option and its field never disagree. Each defaults to None: unset, the recipe's or
    the config file's value stands."""
    group = p.add_argument_group(
        "training settings", "TrainConfig's fields (default: the recipe's, then --config's); none for None"
    )
    recipe = get_recipe(DEFAULT_RECIPE)
    for cls, prefix, values in ((TrainConfig, "", recipe), (AugmentConfig, _AUGMENT, recipe.augment)):
        docs, hints = field_docs(cls), get_type_hints(cls)
        for spec in dataclasses.fields(cls):
            if spec.name in _NOT_OPTIONS:
                continue
            default = getattr(values, spec.name)
            options = _option(spec.name, hints[spec.name], docs.get(spec.name, ""), default)
            group.add_argument("--" + spec.name.replace("_", "-"), dest=prefix + spec.name, **options)


def _read_config_file(path: str) -> dict[str, Any]:
    """TrainConfig fields from a TOML file, or a run's ``train_config.json``; ``"none"`` is None.

    Raises:
        FileNotFoundError: If the file does not exist.
        ArgumentError: If it cannot be parsed or names fields TrainConfig does not have.
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        values = json.loads(text) if path.endswith(".json") else tomllib.loads(text)
    except ValueError as err:  # json.JSONDecodeError and tomllib.TOMLDecodeError are ValueErrors
        raise ArgumentError(f"cannot read the config file {path}: {err}") from None
    if not isinstance(values, dict):
        what = type(values).__name__
        raise ArgumentError(f"the config file {path} holds a {what}, not a table of TrainConfig fields")
    names = {spec.name for spec in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ArgumentError(f"the config file {path} has fields TrainConfig does not have: {unknown}")
    if not isinstance(values.get("augment", {}), dict):
        raise ArgumentTypeError(
            f"the config file {path}: augment must be a table; got {values['augment']!r}", param="augment"
        )

    # TOML has no null: the string "none" stands for None, as on the command line.
    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return None if isinstance(v, str) and v.lower() == "none" else v

    return plain(values)


def _layered(recipe: str | None, values: Mapping[str, Any]) -> TrainConfig:
    """``recipe``'s config (TrainConfig's defaults for None) with ``values`` over it; an ``augment``
    mapping changes the recipe's augmentation field by field."""
    values = dict(values)
    base = get_recipe(recipe) if recipe is not None else TrainConfig()
    if "augment" in values:
        values["augment"] = {**dataclasses.asdict(base.augment), **values["augment"]}
    if recipe is None:
        return TrainConfig.from_dict({**base.to_dict(), **values})
    return get_recipe(recipe, **values)


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The settings of a run: TrainConfig's defaults < the recipe's < the config file's < the options'.

    Raises:
        ArgumentError: If the config file cannot be read or holds a bad value (the message names the
            file and the field), if ``--recipe`` and the file's ``recipe`` disagree, or if an option's
            value is bad (``param`` names the field).
    """
    from_file = _read_config_file(args.config) if args.config else {}
    recipe = args.recipe if args.recipe is not None else from_file.get("recipe", DEFAULT_RECIPE)
    if args.recipe is not None and from_file.get("recipe", args.recipe) != args.recipe:
        raise ArgumentError(
            f"--recipe {args.recipe} and recipe = {json.dumps(from_file['recipe'] or 'none')} in the config "
            f"file {args.config} disagree: the file's values are set on top of its recipe's; drop --recipe, "
            "or edit the file's recipe",
            param="recipe",
        )
    from_file.pop("recipe", None)
    if from_file:  # the file's values alone must hold, so that an error here is the file's
        try:
            _layered(recipe, from_file)
        except ArgumentError as err:
            raise type(err)(f"the config file {args.config}: {err}") from None
    given: dict[str, Any] = {}
    if args.limit_batches is not None:
        given.update(limit_train_batches=args.limit_batches, limit_eval_batches=args.limit_batches)
    augment = dict(from_file.pop("augment", {}))
    for dest, value in vars(args).items():
        if value is None:
            continue
        if dest.startswith(_AUGMENT):
            augment[dest.removeprefix(_AUGMENT)] = value
        elif dest in _OPTION_DESTS:
            given[dest] = value
    if args.out is not None:
        given["out_dir"] = args.out
    values = {**from_file, **given, **({"augment": augment} if augment else {})}
    config = _layered(recipe, values)
    if config.out_dir is None:
        config = dataclasses.replace(config, out_dir="runs/train")
    return config


_OPTION_DESTS = {spec.name for spec in dataclasses.fields(TrainConfig) if spec.name not in _NOT_OPTIONS}


def to_toml(config: TrainConfig) -> str:
    """``config`` as TOML that ``--config`` reads back to the same settings (``"none"`` for None)."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return "none" if value is None else value

    header = f"# resnetzoo {__version__}: resnetzoo train --config FILE reads this back\n"
    return header + tomli_w.dumps(plain(config.to_dict()))
