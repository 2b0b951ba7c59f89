"""The registry: one name, one factory; one ``"<model>.<tag>"`` name, one weights record.

``create_model("resnet56_cifar")`` builds a registered architecture with random weights;
``create_model("resnet56_cifar.cifar10")`` (or ``pretrained=True``) also loads weights. A tag is a
record's own tag (``"akamaster_cifar10"``) or a data set's name (``"cifar10"``, ``"cifar100"``),
which means the most accurate loadable weights trained on it.

This package builds networks; the Hub is :mod:`resnetzoo.hub`'s, which imports the models. The
models reach the hub only at call time: the builder (:mod:`resnetzoo.models._builder`) imports its
weights loader when weights are asked for, and :func:`create_model` imports
:func:`resnetzoo.from_pretrained` for an ``"hf-hub:"`` name. Importing the models imports no hub code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import fnmatch
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from torch import nn

from .. import _EXPORTS
from .._validate import check_bool, check_callable, check_str
from ..errors import ArgumentError, ArgumentTypeError, WeightsNotPublishedError
from .weights import Weights

__all__ = [  # the public API (resnetzoo's lazy table lists it), and what the rest of resnetzoo uses
    *_EXPORTS[".models.registry"],
    "DEFAULT_DATASET",
    "get_model_factory",
    "require_loadable",
    "resolve_weights",
    "split_model_name",
]

F = TypeVar("F", bound=Callable[..., nn.Module])

DEFAULT_DATASET = "cifar10"  # what pretrained=True loads: the model's best CIFAR-10 weights
_DATASET_TAGS = ("cifar10", "cifar100")  # tags that select a data set's default weights, not one record

_model_factories: dict[str, Callable[..., nn.Module]] = {}
_weights: dict[str, dict[str, Weights]] = {}  # architecture -> tag -> record, in registration order

HF_HUB_PREFIX = "hf-hub:"


def register_model(fn: F) -> F:
    """Register a model factory under its function name (a decorator).

    Raises:
        ValueError: If a model of that name is already registered.
    """
    check_callable("fn", fn, what="a function that builds a model", none=False)
    name = fn.__name__
    if name in _model_factories:
        raise ValueError(f"a model named {name!r} is already registered; choose another function name")
    _model_factories[name] = fn
    return fn


def register_weights(records: Iterable[Weights], *, replace: bool = False) -> None:
    """Add weights records to the table that ``pretrained=True`` and tags look up.

    Args:
        records: The records; each is found by its ``"<architecture>.<tag>"`` name.
        replace: Replace a record of the same name instead of refusing it (in a test, inside
            :func:`registry_scope`, which restores the original when it ends).

    Raises:
        ValueError: If a record's architecture is not registered, it has no tag, its tag is a data
            set's name (those are reserved for the defaults), or its name is taken (unless ``replace``).
    """
    replace = check_bool("replace", replace)
    for record in records:
        get_model_factory(record.architecture)
        if record.tag is None or record.tag in (record.dataset, *_DATASET_TAGS):
            raise ValueError(
                f"weights for {record.architecture!r} need a tag of their own, not {record.tag!r}: "
                "data set names select the default weights"
            )
        tags = _weights.setdefault(record.architecture, {})
        if record.tag in tags and not replace:
            raise ValueError(f"weights {record.name!r} are already registered")
        tags[record.tag] = record


@contextlib.contextmanager
def registry_scope() -> Iterator[None]:
    """Register models and weights for the duration of a ``with`` block only (for tests).

    The model and weights tables are saved on entry and restored on exit, also when the block
    raises, so whatever the block registers or replaces is gone afterwards.

    Example:
        >>> from resnetzoo.models import registry_scope
        >>> with registry_scope():
        ...     @register_model
        ...     def tiny_cifar(**kwargs):
        ...         return create_model("resnet20_cifar", **kwargs)
        ...     "tiny_cifar" in list_models()
        True
        >>> "tiny_cifar" in list_models()
        False
    """
    models = dict(_model_factories)
    weights = {name: dict(tags) for name, tags in _weights.items()}
    try:
        yield
    finally:
        _model_factories.clear()
        _model_factories.update(models)
        _weights.clear()
        _weights.update(weights)


def list_models(pattern: str | None = None, *, pretrained: bool = False) -> list[str]:
    """Sorted names of the registered models, optionally filtered by an fnmatch pattern.

    Args:
        pattern: An fnmatch pattern such as ``"resnet1*"``.
        pretrained: List only the models that have weights ``pretrained=True`` can load.

    Example:
        >>> list_models("resnet1*")
        ['resnet101_cifar', 'resnet110_cifar', 'resnet1202_cifar', 'resnet152_cifar', 'resnet18_cifar']
    """
    check_str("pattern", pattern, none=True, accepted="None or an fnmatch pattern such as 'resnet1*'")
    names = sorted(_model_factories)
    if pretrained:
        names = [n for n in names if any(w.loadable for w in _weights.get(n, {}).values())]
    return names if pattern is None else fnmatch.filter(names, pattern)


def list_pretrained(pattern: str | None = None, *, include_planned: bool = False) -> list[str]:
    """Sorted ``"<model>.<tag>"`` names of the weights that can be loaded, optionally fnmatch-filtered.

    Args:
        pattern: An fnmatch pattern such as ``"resnet56*"`` or ``"*cifar100"``.
        include_planned: Also list the weights resnetzoo plans to train and publish (not loadable yet).

    Example:
        >>> list_pretrained("resnet56*")  # doctest: +NORMALIZE_WHITESPACE
        ['resnet56_cifar.akamaster_cifar10', 'resnet56b_cifar.chenyaofo_cifar10',
         'resnet56b_cifar.chenyaofo_cifar100']
    """
    names = sorted(
        w.name for tags in _weights.values() for w in tags.values() if w.loadable or include_planned
    )
    return names if pattern is None else fnmatch.filter(names, pattern)


def split_model_name(name: str) -> tuple[str, str | None]:
    """Split ``"resnet56_cifar.cifar10"`` into ``("resnet56_cifar", "cifar10")``.

    Raises:
        ArgumentTypeError: If ``name`` is not a string (a ``TypeError``).
        ArgumentError: If it is empty.
    """
    check_str("the model name", name, accepted="a registered model name such as 'resnet20_cifar'")
    model_name, _, tag = name.partition(".")
    return model_name, tag or None


def get_model_factory(name: str) -> Callable[..., nn.Module]:
    """The factory registered as ``name`` (without a weights tag).

    Raises:
        ArgumentError: If no model of that name is registered (a ``ValueError``); the message
            suggests close names, the right one first when only the case differs.
    """
    try:
        return _model_factories[name]
    except KeyError:
        by_case = {n.lower(): n for n in _model_factories}
        close = [by_case[name.lower()]] if isinstance(name, str) and name.lower() in by_case else []
        close = close or difflib.get_close_matches(str(name), _model_factories, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        raise ArgumentError(f"unknown model {name!r}; {hint}see resnetzoo.list_models()") from None


def _default(tags: dict[str, Weights], dataset: str) -> Weights | None:
    """The most accurate loadable record trained on ``dataset``, else a planned one, else ``None``."""
    candidates = [w for w in tags.values() if w.dataset == dataset]
    loadable = [w for w in candidates if w.loadable]
    if loadable:
        return max(loadable, key=lambda w: max(w.reported_top1 or 0.0, w.metrics.get("top1", 0.0)))
    return candidates[0] if candidates else None


def resolve_weights(model_name: str, weights: str | Weights | None) -> Weights:
    """The record that ``weights`` means for a model.

    Args:
        model_name: A registered model name without a tag.
        weights: A tag (``"akamaster_cifar10"``), a data set's name for its default weights
            (``"cifar10"``, ``"cifar100"``), a full name ``"resnet56_cifar.cifar10"``, a
            :class:`Weights` record, or ``None`` for the model's default CIFAR-10 weights.

    Raises:
        ValueError: If the model is unknown, the tag does not exist for it (the message lists the
            tags that do), or the weights belong to another architecture.
    """
    get_model_factory(model_name)  # a ValueError suggesting close names for an unknown model
    if isinstance(weights, Weights):
        if weights.architecture != model_name:
            raise ValueError(
                f"weights {weights.name!r} are for {weights.architecture!r} and cannot load into "
                f"{model_name!r}"
            )
        return weights
    if weights is not None and not isinstance(weights, str):
        raise ArgumentTypeError(
            f"weights must be None, a tag, a name or a resnetzoo.Weights record; got {weights!r} of type "
            f"{type(weights).__name__}"
        )
    tag = weights or DEFAULT_DATASET
    if "." in tag:
        other_model, tag = split_model_name(tag)
        if other_model != model_name:
            raise ValueError(
                f"weights {weights!r} are for {other_model!r} and cannot load into {model_name!r}"
            )
        tag = tag or DEFAULT_DATASET
    tags = _weights.get(model_name, {})
    record = tags.get(tag) or _default(tags, tag)
    if record is None:
        choices = sorted({*tags, *(w.dataset for w in tags.values() if w.dataset)})
        close = difflib.get_close_matches(tag, choices, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ArgumentError(
            f"unknown weights {tag!r} for {model_name!r}; {hint}available: "
            f"{', '.join(repr(c) for c in choices) or 'none'} (see resnetzoo.list_pretrained())"
        )
    return record


def get_weights(name: str) -> Weights:
    """The record called ``name``: ``"resnet56_cifar.cifar100"``, or ``"resnet56_cifar"`` for the default.

    Raises:
        ValueError: If the model or tag is unknown; the message lists what exists.

    Example:
        >>> w = get_weights("resnet20_cifar")
        >>> w.name, w.license, w.reported_top1
        ('resnet20_cifar.akamaster_cifar10', 'BSD-2-Clause', 0.9173)
    """
    model_name, tag = split_model_name(name)
    return resolve_weights(model_name, tag)


def require_loadable(record: Weights) -> None:
    """Raise unless ``pretrained=True`` can fetch ``record``.

    Raises:
        WeightsNotPublishedError: If the weights are planned but not published, or the record has
            no source to download from; the message lists weights that do load.
    """
    if record.loadable:
        return
    loadable = list_pretrained(f"{record.architecture}.*")
    others = f"Weights that load for {record.architecture}: {', '.join(loadable)}. " if loadable else ""
    if record.planned:
        what = (
            f"weights {record.name!r} are planned but not published yet: nothing has been pushed to "
            f"{record.hf_hub_id!r}. Train them with `resnetzoo train --model {record.architecture} "
            f"--data {record.dataset} --recipe {record.recipe}`. "
        )
    else:
        what = f"weights {record.name!r} have no source to download from ({record.source or 'none'}). "
    raise WeightsNotPublishedError(
        f"{what}{others}See resnetzoo.list_pretrained(); load your own with "
        "resnetzoo.from_pretrained(...) or resnetzoo.load_checkpoint(...)."
    )


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model by name.

    Args:
        name: A registered name, optionally with a weights tag (``"resnet56_cifar.cifar10"``),
            which loads those weights; or ``"hf-hub:org/name"``, a resnetzoo repo on the Hub (what
            :func:`resnetzoo.from_pretrained` loads).
        **kwargs: Passed to the model factory (``pretrained``, ``num_classes``, ``in_chans``,
            ``features_only``, ...); for a Hub repo, those of ``from_pretrained`` (``revision``, ...).

    Returns:
        The model, in training mode.

    Raises:
        ValueError: If the name is not registered, carries a tag while ``pretrained=False``, or a
            Hub repo is given arguments ``from_pretrained`` does not take.

    Example:
        >>> model = create_model("resnet20_cifar", num_classes=100)
        >>> model.fc.out_features
        100
    """
    if isinstance(name, str) and name.startswith(HF_HUB_PREFIX):
        return _create_from_repo(name, kwargs)
    model_name, tag = split_model_name(name)
    factory = get_model_factory(model_name)
    if tag is not None:
        if kwargs.get("pretrained") is False:
            raise ValueError(
                f"{name!r} names weights, which pretrained=False would not load: drop the tag for random "
                f"weights ({model_name!r}) or pretrained=False to load them"
            )
        kwargs["weights"] = tag
    return factory(**kwargs)


def _create_from_repo(name: str, kwargs: dict[str, Any]) -> nn.Module:
    if kwargs.pop("pretrained", True) is False:
        raise ValueError(f"{name!r} names a repo of weights, which pretrained=False would not load")
    from ..hub import from_pretrained  # models -> hub at call time only (see the module docstring)
    from ..hub.download import HubOptions

    options = [field.name for field in dataclasses.fields(HubOptions)]  # what from_pretrained passes on
    unknown = sorted(set(kwargs) - set(options))
    if unknown:
        raise ValueError(
            f"a Hub repo ({name!r}) is built from its config.json and takes only {', '.join(options)}, "
            f"not {', '.join(unknown)}; change the model after loading (e.g. model.reset_classifier(n))"
        )
    return from_pretrained(name, **kwargs)
