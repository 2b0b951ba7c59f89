"""What deployment code may read off a model: its name, weights record and the preprocessing it expects.

Models built by resnetzoo's factories carry their :class:`~resnetzoo.Weights` record as
``model.pretrained_cfg``; any other classifier works too, with the defaults below. Export, prediction
and evaluation all read the model through these helpers, so they agree on the defaults.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from ._validate import check_input_size
from .data.constants import CIFAR10_MEAN, CIFAR10_STD
from .data.preprocess import Preprocess
from .models.weights import Weights

__all__ = [
    "DEFAULT_IMAGE_SIZE",
    "eval_mode",
    "model_categories",
    "model_input_size",
    "model_name",
    "model_preprocess",
    "normalisation",
    "on_device",
    "pretrained_cfg",
    "resolve_data_config",
]

logger = logging.getLogger(__name__)

DEFAULT_IMAGE_SIZE = 32
"""Height and width of the images the zoo's models are built for (CIFAR)."""


def pretrained_cfg(model: nn.Module) -> Weights | None:
    """The model's weights record, or ``None`` for a model that resnetzoo did not build."""
    cfg = getattr(model, "pretrained_cfg", None)
    return cfg if isinstance(cfg, Weights) else None


def model_name(model: nn.Module) -> str:
    """The registered name the model was built under, else its class name."""
    return getattr(model, "model_name", None) or type(model).__name__


def model_input_size(model: nn.Module) -> tuple[int, int, int]:
    """``(channels, height, width)`` of one input image: the record's, else ``model.in_chans`` at 32x32."""
    cfg = pretrained_cfg(model)
    if cfg is not None:
        return cfg.input_size
    return (int(getattr(model, "in_chans", 3)), DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE)


def resolve_data_config(
    model: nn.Module,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    input_size: Sequence[int] | None = None,
) -> dict[str, Any]:
    """The preprocessing a model expects: input size, normalisation and interpolation.

    Explicit arguments win (with a warning when they differ from what the weights were trained
    with), then the model's weights record (``model.pretrained_cfg``), then CIFAR-10's statistics,
    with a warning: a model with random weights or of unknown origin records none.

    Args:
        model: A classifier, usually built by resnetzoo.
        mean: Per-channel mean to normalise with, in [0, 1] pixel units; one value is repeated.
        std: Per-channel standard deviation to normalise with.
        input_size: ``(channels, height, width)`` to resize to.

    Returns:
        ``{"input_size": (C, H, W), "mean": (...), "std": (...), "interpolation": "bilinear"}``, with
        one mean and std per channel.

    Raises:
        ValueError: If ``input_size`` is not three positive integers, ``mean``/``std`` do not fit the
            channel count, or a std is not positive.

    Example:
        >>> import resnetzoo as rz
        >>> cfg = rz.resolve_data_config(rz.resnet20_cifar(), mean=(0.5,), std=(0.25,))
        >>> cfg["input_size"], cfg["mean"], cfg["std"]
        ((3, 32, 32), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    """
    size = model_input_size(model) if input_size is None else check_input_size("input_size", input_size)
    channels = size[0]
    cfg = pretrained_cfg(model)
    resolved: dict[str, tuple[float, ...]] = {}
    defaults_used = []
    for name, given, default in (("mean", mean, CIFAR10_MEAN), ("std", std, CIFAR10_STD)):
        own = getattr(cfg, name, None)
        if given is not None:
            if own is not None and tuple(map(float, given)) != tuple(map(float, own)):
                logger.warning(
                    "%s=%s overrides the %s the weights were trained with, %s",
                    name,
                    tuple(given),
                    name,
                    tuple(own),
                )
            value = given
        elif own is not None:
            value = own
        else:
            value = default
            defaults_used.append(name)
        value = tuple(float(v) for v in value)
        if len(value) == 1:
            value = value * channels
        if len(value) != channels:
            raise ValueError(
                f"{name} has {len(value)} values for a model with {channels} input channel(s); "
                f"pass mean= and std= with {channels} value(s) each"
            )
        resolved[name] = value
    if defaults_used:
        logger.warning(
            "no %s given, none in model.pretrained_cfg; normalising with CIFAR-10's "
            "(mean %s, std %s). Pass mean= and std= if the model was trained on other data.",
            "/".join(defaults_used),
            CIFAR10_MEAN,
            CIFAR10_STD,
        )
    if not all(s > 0 for s in resolved["std"]):
        raise ValueError(f"std must be positive, got {resolved['std']}")
    return {"input_size": size, "mean": resolved["mean"], "std": resolved["std"], "interpolation": "bilinear"}


def model_preprocess(
    model: nn.Module,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    input_size: Sequence[int] | None = None,
) -> Preprocess:
    """The :class:`~resnetzoo.data.preprocess.Preprocess` of :func:`resolve_data_config`'s answer."""
    config = resolve_data_config(model, mean=mean, std=std, input_size=input_size)
    return Preprocess(config["input_size"], config["mean"], config["std"])


def normalisation(model: nn.Module, data_mean: Any, data_std: Any) -> tuple[Any, Any]:
    """The mean/std to feed ``model`` with: those its weights were trained with, else the data's own."""
    cfg = pretrained_cfg(model)
    if cfg is not None and cfg.mean is not None and cfg.std is not None:
        return cfg.mean, cfg.std
    return data_mean, data_std


def model_categories(model: nn.Module, categories: Sequence[str] | None = None) -> list[str] | None:
    """``categories`` if given, else the class names of the model's record, else None."""
    if categories is not None:
        return list(categories)
    cfg = pretrained_cfg(model)
    return list(cfg.categories) if cfg is not None and cfg.categories is not None else None


@contextlib.contextmanager
def on_device(model: nn.Module, device: str | torch.device | None) -> Iterator[torch.device]:
    """Yield the device to run on; move the model there for the duration if needed.

    Raises:
        ValueError: If the model is spread over several devices.
    """
    tensors = itertools.chain(model.parameters(), model.buffers())
    current = {t.device for t in tensors}
    if device is None:
        if len(current) > 1:
            raise ValueError(f"the model is spread over devices {sorted(map(str, current))}; pass device=")
        yield next(iter(current), torch.device("cpu"))
        return
    # Normalised through a tensor, so "cuda" compares equal to the "cuda:0" a parameter reports.
    target = torch.empty(0, device=device).device
    if current <= {target}:
        yield target
        return
    if len(current) > 1:
        raise ValueError(f"the model is spread over devices {sorted(map(str, current))}; move it first")
    (original,) = current
    model.to(target)
    try:
        yield target
    finally:
        model.to(original)


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put every submodule in eval mode, then give each back the mode it had.

    Restoring per module, not with ``model.train(was_training)``, keeps deliberately mixed modes
    (a frozen BatchNorm in eval inside a training model) as the caller left them.
    """
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, training in modes:
            m.training = training
