"""The run folder: one self-describing artifact of a training run, written in one place.

Layout of ``TrainConfig.out_dir``::

    train_config.json        the TrainConfig of the run (``resnetzoo train --config`` reads it back)
    checkpoints/epoch_*.pt   resumable training state, the newest ``keep_checkpoints``
    metrics.csv              one row per epoch (and tensorboard/, learning_curves.png with those loggers)
    best/                    the selected model: model.safetensors, config.json (its resnetzoo.Weights
                             record: architecture, classes, mean/std, data set, recipe, metrics), README.md
    test_metrics.json        the one look at the test split
    .resnetzoo.lock          held while a run writes here

The :class:`~resnetzoo.Trainer`, :func:`~resnetzoo.fine_tune` and the CLI all write through these
functions; :func:`resnetzoo.from_pretrained` and every CLI command's ``--weights`` read a run folder
as its ``best/`` model.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from torch import nn

from .._files import atomic_write
from ..hub._state import load_weights_file
from ..hub.config import CONFIG_NAME, WEIGHTS_NAME, read_config
from ..hub.save import save_pretrained, unwrap_model
from ..models.weights import Weights

__all__ = [
    "BEST_DIR",
    "TEST_METRICS_NAME",
    "TRAIN_CONFIG_NAME",
    "describe_data",
    "read_best",
    "trained_record",
    "write_best",
    "write_test_metrics",
]

logger = logging.getLogger(__name__)

TRAIN_CONFIG_NAME = "train_config.json"
BEST_DIR = "best"
TEST_METRICS_NAME = "test_metrics.json"

# The scores a test run reports that describe the weights (the loss and the image count do not).
_SCORES = ("top1", "top5", "top1_tta")


def describe_data(loader: Any) -> dict[str, Any]:
    """What a loader tells about its data: the data set's id, class names, and the normalisation.

    A :class:`~resnetzoo.data.DeviceLoader` knows all of them; for a ``DataLoader``, the data set's
    ``classes`` (torchvision's data sets have them) and ``dataset_id`` are read if it has them, and the
    normalisation, hidden in its transforms, is unknown (``None``).
    """
    dataset = getattr(loader, "dataset", None)
    classes = getattr(dataset, "classes", None)
    return {
        "dataset": getattr(dataset, "dataset_id", None),
        "categories": tuple(str(c) for c in classes) if classes else None,
        "mean": getattr(loader, "mean", None),
        "std": getattr(loader, "std", None),
    }


def trained_record(model: nn.Module, data: Mapping[str, Any], recipe: str | None) -> Weights | None:
    """The record of the weights a run trains ``model`` to: new weights, on ``data``, with ``recipe``.

    It derives from the model's record (:meth:`Weights.derived`), so weights fine-tuned from
    pretrained ones name them as ``base_model`` and keep their license and credit. Class names that do
    not fit the head are left out. ``None`` for a model that resnetzoo did not build.
    """
    model = unwrap_model(model)
    start = getattr(model, "pretrained_cfg", None)
    if not isinstance(start, Weights):
        return None
    categories = data.get("categories")
    if categories is not None and len(categories) != start.num_classes:
        categories = None
    changes: dict[str, Any] = {"dataset": data.get("dataset"), "recipe": recipe}
    if categories is not None:
        changes["categories"] = categories
    for name in ("mean", "std"):
        value = data.get(name)
        if value is not None and len(value) == start.input_size[0]:
            changes[name] = value
    return start.derived(**changes)


def write_best(
    out_dir: str | os.PathLike[str],
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    metrics: Mapping[str, float],
) -> Path:
    """Write the selected weights ``state`` of ``model`` as ``out_dir/best/``, with their record and metrics.

    For a model resnetzoo built, ``best/`` is a :func:`~resnetzoo.save_pretrained` folder described by
    ``model.pretrained_cfg`` (whose metrics become ``metrics``); for any other model it holds the
    weights file alone, which a resume reads back.

    Returns:
        The ``best/`` folder.

    Raises:
        OSError: If it cannot be written; the previous ``best/``, if any, is kept whole.
    """
    folder = Path(out_dir) / BEST_DIR
    target = unwrap_model(model)
    record = getattr(target, "pretrained_cfg", None)
    if isinstance(record, Weights) and getattr(target, "model_kwargs", None):
        target.pretrained_cfg = dataclasses.replace(record, metrics=dict(metrics))
        return save_pretrained(target, folder, state_dict=state, allow_nonfinite=True)
    # Not a resnetzoo model: no config.json can describe it; keep the weights (and in the file's
    # metadata the scores) for resume and the user.
    from safetensors.torch import save

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    scores = {key: repr(float(value)) for key, value in metrics.items() if value is not None}
    atomic_write(folder / WEIGHTS_NAME, save(tensors, metadata=scores), what="the selected weights")
    return folder


def read_best(out_dir: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], float | None] | None:
    """The weights in ``out_dir/best/`` and the validation top-1 they were selected with, or ``None``.

    Raises:
        CheckpointError: If the weights file is damaged.
    """
    folder = Path(out_dir) / BEST_DIR
    if not (folder / WEIGHTS_NAME).is_file():
        return None
    state = load_weights_file(folder / WEIGHTS_NAME)
    if (folder / CONFIG_NAME).is_file():
        record, _ = read_config(folder / CONFIG_NAME, source=str(folder))
        return state, record.metrics.get("val_top1")
    with safe_open(folder / WEIGHTS_NAME, framework="pt") as file:
        val_top1 = (file.metadata() or {}).get("val_top1")
    return state, None if val_top1 is None else float(val_top1)


def write_test_metrics(
    out_dir: str | os.PathLike[str], metrics: Mapping[str, float], model: nn.Module | None = None
) -> None:
    """Record the one look at the test split: ``test_metrics.json``, and the scores in ``best/``'s record.

    Args:
        out_dir: The run folder.
        metrics: What :meth:`Trainer.test` returned (fractions).
        model: The model that was tested, holding the weights of ``best/``; its record and ``best/`` get
            the test scores. ``None`` writes ``test_metrics.json`` only.

    Raises:
        OSError: If a file cannot be written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / TEST_METRICS_NAME, json.dumps(dict(metrics), indent=2) + "\n", what="the test metrics")
    if model is None or not (out / BEST_DIR / CONFIG_NAME).is_file():
        return
    target = unwrap_model(model)
    record = getattr(target, "pretrained_cfg", None)
    if not isinstance(record, Weights):
        return
    scores = {key: float(metrics[key]) for key in _SCORES if key in metrics}
    target.pretrained_cfg = dataclasses.replace(record, metrics={**record.metrics, **scores})
    save_pretrained(target, out / BEST_DIR, allow_nonfinite=True)
