"""The model registry: one name, one factory.

``create_model("resnet56_cifar")`` builds a registered architecture. A name may carry a
weights tag after a dot (``"resnet56_cifar.cifar10"``), which is passed to the factory as
``weights=`` (see :mod:`resnetzoo.hub`).

This package builds networks and knows nothing about the Hub: dependencies point
hub -> models. A factory asked for weights hands its builder to a loader that
:mod:`resnetzoo.hub` installs here with :func:`set_weights_loader` when it is imported
(``import resnetzoo`` imports it), so the models never import the hub.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

__all__ = [
    "create_model",
    "get_model_factory",
    "list_models",
    "load_with_weights",
    "register_model",
    "set_weights_loader",
    "split_model_name",
]

F = TypeVar("F", bound=Callable[..., nn.Module])
M = TypeVar("M", bound=nn.Module)

_model_factories: dict[str, Callable[..., nn.Module]] = {}
_weights_loader: Callable[..., Any] | None = None


def register_model(fn: F) -> F:
    """Register a model factory under its function name (a decorator).

    Raises:
        ValueError: If a model of that name is already registered.
    """
    name = fn.__name__
    if name in _model_factories:
        raise ValueError(f"a model named {name!r} is already registered; choose another function name")
    _model_factories[name] = fn
    return fn


def list_models(pattern: str | None = None) -> list[str]:
    """Sorted names of the registered models, optionally filtered by an fnmatch pattern.

    Example:
        >>> list_models("resnet1*")
        ['resnet101_cifar', 'resnet110_cifar', 'resnet1202_cifar', 'resnet152_cifar', 'resnet18_cifar']
    """
    names = sorted(_model_factories)
    return names if pattern is None else fnmatch.filter(names, pattern)


def split_model_name(name: str) -> tuple[str, str | None]:
    """Split ``"resnet56_cifar.cifar10"`` into ``("resnet56_cifar", "cifar10")``."""
    model_name, _, tag = name.partition(".")
    return model_name, tag or None


def get_model_factory(name: str) -> Callable[..., nn.Module]:
    """The factory registered as ``name`` (without a weights tag).

    Raises:
        ValueError: If no model of that name is registered; the message suggests close names.
    """
    try:
        return _model_factories[name]
    except KeyError:
        close = difflib.get_close_matches(name, _model_factories, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        raise ValueError(f"unknown model {name!r}; {hint}see resnetzoo.list_models()") from None


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model by name.

    Args:
        name: A registered name, optionally with a weights tag (``"resnet56_cifar.cifar10"``).
        **kwargs: Passed to the model factory (``num_classes``, ``in_chans``, ...).

    Returns:
        The model, in training mode.

    Raises:
        ValueError: If the name is not registered.

    Example:
        >>> model = create_model("resnet20_cifar", num_classes=100)
        >>> model.fc.out_features
        100
    """
    model_name, tag = split_model_name(name)
    factory = get_model_factory(model_name)
    if tag is not None:
        kwargs["weights"] = tag
    return factory(**kwargs)


def set_weights_loader(loader: Callable[..., Any]) -> None:
    """Install the function that builds a model and loads published weights into it.

    Called once by :mod:`resnetzoo.hub` on import. The loader is called as
    ``loader(model_name, build, weights=, num_classes=, reset_head=, progress=)`` where
    ``build(num_classes)`` builds the bare architecture; it returns the loaded model.
    """
    global _weights_loader
    _weights_loader = loader


def load_with_weights(
    model_name: str,
    build: Callable[[int], M],
    *,
    weights: Any,
    num_classes: int | None,
    reset_head: bool,
    progress: bool,
) -> M:
    """Build ``model_name`` through ``build`` and load the requested weights (used by the factories).

    Args:
        model_name: The registered name of the architecture.
        build: Builds the bare architecture for a number of classes.
        weights: A weights tag, a :class:`resnetzoo.Weights` record, or ``None`` for the
            model's default weights.
        num_classes: Requested head size; ``None`` takes the weights' class count.
        reset_head: Load the backbone only and start a fresh head when ``num_classes``
            differs from the weights.
        progress: Show a download progress bar.

    Raises:
        RuntimeError: If no loader is installed (``resnetzoo.hub`` was never imported).
    """
    if _weights_loader is None:
        raise RuntimeError(
            f"cannot load weights for {model_name!r}: no weights loader is installed; import resnetzoo.hub"
        )
    return _weights_loader(
        model_name, build, weights=weights, num_classes=num_classes, reset_head=reset_head, progress=progress
    )
