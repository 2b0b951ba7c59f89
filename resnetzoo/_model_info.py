"""What deployment code may read off a model: its name, input size and pretrained configuration.

The Hub layer attaches ``model.pretrained_cfg`` (a dict with ``categories``, ``mean``, ``std`` and
possibly ``input_size``) to models it loads; a model built from scratch has none. Export and prediction
both read the model through these helpers, so they agree on the defaults.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from torch import nn

__all__ = ["DEFAULT_IMAGE_SIZE", "eval_mode", "model_input_size", "model_name", "pretrained_cfg"]

DEFAULT_IMAGE_SIZE = 32
"""Height and width of the images the zoo's models are built for (CIFAR)."""


def pretrained_cfg(model: nn.Module) -> Mapping[str, Any]:
    """The model's ``pretrained_cfg`` dict, or an empty mapping when it has none."""
    cfg = getattr(model, "pretrained_cfg", None)
    return cfg if isinstance(cfg, Mapping) else {}


def model_name(model: nn.Module) -> str:
    """The registered name the model was built under, else its class name."""
    return getattr(model, "model_name", None) or type(model).__name__


def model_input_size(model: nn.Module) -> tuple[int, int, int]:
    """``(channels, height, width)`` of one input image.

    Taken from ``pretrained_cfg["input_size"]`` when the weights say, else ``model.in_chans``
    (3 if absent) at 32x32.
    """
    size = pretrained_cfg(model).get("input_size")
    if size is not None:
        return tuple(int(s) for s in size)  # type: ignore[return-value]  # (C, H, W) from config.json
    return (int(getattr(model, "in_chans", 3)), DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE)


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
