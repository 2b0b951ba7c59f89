"""Training: the :class:`Trainer`, its :class:`TrainConfig`, callbacks, checkpoints, recipes and fine-tuning.

Depends on :mod:`resnetzoo.models` only through ``nn.Module`` and on data only through the
``(inputs, targets)`` batches a loader yields.
"""

from .callbacks import (
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
from .distill import distill
from .finetune import fine_tune
from .recipes import Recipe, describe_recipe, get_recipe, list_recipes
from .trainer import Trainer

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "LearningCurvePlot",
    "ModelCheckpoint",
    "ProgressBar",
    "Recipe",
    "TensorBoardLogger",
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
