"""Training: the :class:`Trainer`, its :class:`TrainConfig`, callbacks, checkpoints, recipes and fine-tuning.

Depends on :mod:`resnetzoo.models` only through ``nn.Module`` and on data only through the
``(inputs, targets)`` batches a loader yields.
"""

from __future__ import annotations

import functools
from typing import Any

from .._deprecation import deprecated
from .callbacks import (
    PUBLIC_CALLBACKS,
    Callback,
    CSVLogger,
    EarlyStopping,
    LearningCurvePlot,
    ModelCheckpoint,
    ProgressBar,
    TensorBoardLogger,
)
from .checkpoint import read_checkpoint, write_checkpoint
from .config import TrainConfig
from .finetune import fine_tune
from .recipes import Recipe, describe_recipe, get_recipe, list_recipes
from .run import RunFolder
from .trainer import Trainer

__all__ = sorted(
    [
        *PUBLIC_CALLBACKS,
        "Recipe",
        "RunFolder",
        "TrainConfig",
        "Trainer",
        "describe_recipe",
        "distill",
        "fine_tune",
        "get_recipe",
        "list_recipes",
        "read_checkpoint",
        "write_checkpoint",
    ]
)


@functools.cache
def _deprecated_distill() -> Any:
    from ..compress import distill  # imported on use: resnetzoo.compress builds on this package

    return deprecated(since="0.2", removed_in="0.3", instead="resnetzoo.distill")(distill)


def __getattr__(name: str) -> Any:
    # resnetzoo.train.distill moved to resnetzoo.compress (resnetzoo.distill) in 0.2.
    if name == "distill":
        return _deprecated_distill()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
