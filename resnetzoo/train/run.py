"""The run folder: one self-describing artifact of a training run, written by one object.

Layout of ``TrainConfig.out_dir``::

    train_config.json        the TrainConfig of the run (``resnetzoo train --config`` reads it back)
    checkpoints/epoch_*.pt   resumable training state, the newest ``keep_checkpoints``
    metrics.csv              one row per epoch (and tensorboard/, learning_curves.png with those loggers)
    best/                    the selected model: model.safetensors, config.json (its resnetzoo.Weights
                             record: architecture, classes, mean/std, data set, recipe, metrics), README.md
    test_metrics.json        the one look at the test split
    .resnetzoo.lock          held while a run writes here

:class:`RunFolder` alone writes these files: the :class:`~resnetzoo.Trainer` and its callbacks,
:func:`~resnetzoo.fine_tune` (each phase's folder and the run's ``best/``), :func:`~resnetzoo.distill`,
:func:`~resnetzoo.prune` and the CLI call it. :func:`resnetzoo.from_pretrained` and every CLI
command's ``--weights`` read a run folder as its ``best/`` model.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import safe_open
from torch import nn

from .._files import atomic_write
from ..hub._state import load_weights_file
from ..hub.config import CONFIG_NAME, WEIGHTS_NAME, read_config
from ..hub.save import save_pretrained, save_record, unwrap_model
from ..models.weights import Metric, Metrics, Weights

if TYPE_CHECKING:
    from .config import TrainConfig

__all__ = [
    "BEST_DIR",
    "CHECKPOINTS_DIR",
    "CURVES_NAME",
    "METRICS_NAME",
    "TEST_METRICS_NAME",
    "TRAIN_CONFIG_NAME",
    "RunFolder",
    "data_fingerprint",
    "describe_data",
    "trained_record",
]

logger = logging.getLogger(__name__)

TRAIN_CONFIG_NAME = "train_config.json"
BEST_DIR = "best"
TEST_METRICS_NAME = "test_metrics.json"
METRICS_NAME = "metrics.csv"
CURVES_NAME = "learning_curves.png"
CHECKPOINTS_DIR = "checkpoints"

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


def data_fingerprint(loader: Any) -> dict[str, Any] | None:
    """What identifies a loader's data, for a resume to compare: source, size, classes, split, content.

    Plain values (a checkpoint holds only those): :func:`describe_data`'s id, class names and
    normalisation, the data set's description, split and image count, and, for a tensor-backed data
    set, a SHA-256 of its labels and of every 97th image (a different data set of the same size differs
    there). ``None`` for no loader.
    """
    if loader is None:
        return None
    dataset = getattr(loader, "dataset", None)
    described = describe_data(loader)
    fingerprint: dict[str, Any] = {
        "dataset": described["dataset"],
        "description": getattr(dataset, "description", None),
        "split": getattr(dataset, "split", None),
        "categories": list(described["categories"]) if described["categories"] else None,
        "mean": list(described["mean"]) if described["mean"] is not None else None,
        "std": list(described["std"]) if described["std"] is not None else None,
    }
    try:
        fingerprint["images"] = len(dataset)  # type: ignore[arg-type]
    except TypeError:
        fingerprint["images"] = None
    data, targets = getattr(dataset, "data", None), getattr(dataset, "targets", None)
    if isinstance(data, torch.Tensor) and isinstance(targets, torch.Tensor):
        digest = hashlib.sha256(targets.cpu().contiguous().numpy().tobytes())
        digest.update(data[::97].cpu().contiguous().numpy().tobytes())
        fingerprint["content_sha256"] = digest.hexdigest()
    return fingerprint


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


class RunFolder:
    """A training run's folder, and the one writer of its files.

    Each file is written whole and atomically through the one atomic writer (a crash leaves the
    previous file or the new one, and a link at the destination is replaced, never followed);
    ``best/`` is written by :func:`~resnetzoo.save_pretrained`.

    Args:
        path: The folder (``TrainConfig.out_dir``); created when the first file is written.

    Example:
        >>> from resnetzoo.train import RunFolder
        >>> run = RunFolder("runs/resnet20")
        >>> run.best_dir.as_posix(), run.metrics_path.name
        ('runs/resnet20/best', 'metrics.csv')
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({os.fspath(self.path)!r})"

    @property
    def config_path(self) -> Path:
        """``train_config.json``: the run's :class:`~resnetzoo.TrainConfig`."""
        return self.path / TRAIN_CONFIG_NAME

    @property
    def best_dir(self) -> Path:
        """``best/``: the selected model, a :func:`~resnetzoo.save_pretrained` folder."""
        return self.path / BEST_DIR

    @property
    def metrics_path(self) -> Path:
        """``metrics.csv``: one row per epoch."""
        return self.path / METRICS_NAME

    @property
    def curves_path(self) -> Path:
        """``learning_curves.png``: loss and top-1 per epoch."""
        return self.path / CURVES_NAME

    @property
    def test_metrics_path(self) -> Path:
        """``test_metrics.json``: the one look at the test split."""
        return self.path / TEST_METRICS_NAME

    @property
    def checkpoint_dir(self) -> Path:
        """``checkpoints/``: the resumable training states."""
        return self.path / CHECKPOINTS_DIR

    def write_config(self, config: TrainConfig) -> Path:
        """Write ``train_config.json`` (``resnetzoo train --config`` reads it back).

        Raises:
            OSError: If it cannot be written; the previous file is kept.
        """
        text = json.dumps(config.to_dict(), indent=2) + "\n"
        return atomic_write(self.config_path, text, what="the training configuration")

    def write_metrics(self, history: Sequence[Mapping[str, Any]], name: str = METRICS_NAME) -> Path:
        """Write ``metrics.csv`` (or ``name``) from ``history``: one row per epoch, rewritten whole.

        Rewriting rather than appending keeps the file equal to the history after a resume, which may
        repeat epochs that a crashed run had already logged.

        Raises:
            OSError: If it cannot be written; the previous file is kept.
        """
        columns: dict[str, None] = {}
        for row in history:
            columns.update(dict.fromkeys(row))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(history)
        return atomic_write(self.path / name, buffer.getvalue(), what="metrics")

    def write_curves(self, history: Sequence[Mapping[str, Any]], name: str = CURVES_NAME) -> Path:
        """Draw ``learning_curves.png`` (or ``name``): loss and top-1 per epoch, train and val.

        Drawn by :func:`resnetzoo.plot.learning_curves`.

        Raises:
            ImportError: If matplotlib is not installed.
            OSError: If it cannot be written; the previous file is kept.
        """
        from .. import plot

        figure = plot.learning_curves(history)
        return plot.save_figure(figure, self.path / name, what="the learning curves")

    def write_best(
        self, model: nn.Module, state: Mapping[str, torch.Tensor], metrics: Mapping[str, float]
    ) -> Path:
        """Write the selected weights ``state`` of ``model`` as ``best/``, with their record and metrics.

        For a model resnetzoo built, ``best/`` is a :func:`~resnetzoo.save_pretrained` folder described
        by ``model.pretrained_cfg`` (whose metrics become ``metrics``); for any other model it holds the
        weights file alone, which a resume reads back.

        Returns:
            The ``best/`` folder.

        Raises:
            OSError: If it cannot be written; the previous ``best/``, if any, is kept whole.
        """
        folder = self.best_dir
        if folder.is_symlink():  # replaced, never written through: the run's files stay in the run
            folder.unlink()
        target = unwrap_model(model)
        record = getattr(target, "pretrained_cfg", None)
        if isinstance(record, Weights) and getattr(target, "model_kwargs", None):
            # A run's scores say where they were measured: val_* on the validation split.
            entries = [
                Metric(name, float(value), split="val" if name.startswith("val_") else None)
                for name, value in metrics.items()
            ]
            target.pretrained_cfg = dataclasses.replace(record, metrics=Metrics(entries))
            return save_pretrained(target, folder, state_dict=state, allow_nonfinite=True)
        # Not a resnetzoo model: no config.json can describe it; keep the weights (and in the file's
        # metadata the scores) for resume and the user.
        from safetensors.torch import save

        tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
        scores = {key: repr(float(value)) for key, value in metrics.items() if value is not None}
        atomic_write(folder / WEIGHTS_NAME, save(tensors, metadata=scores), what="the selected weights")
        return folder

    def read_best(self) -> tuple[dict[str, torch.Tensor], float | None] | None:
        """The weights in ``best/`` and the validation top-1 they were selected with, or ``None``.

        Raises:
            CheckpointError: If the weights file is damaged.
        """
        folder = self.best_dir
        if not (folder / WEIGHTS_NAME).is_file():
            return None
        state = load_weights_file(folder / WEIGHTS_NAME)
        if (folder / CONFIG_NAME).is_file():
            record, _ = read_config(folder / CONFIG_NAME, source=str(folder))
            return state, record.metrics.get("val_top1")
        with safe_open(folder / WEIGHTS_NAME, framework="pt") as file:
            val_top1 = (file.metadata() or {}).get("val_top1")
        return state, None if val_top1 is None else float(val_top1)

    def record_test(
        self, metrics: Mapping[str, float], model: nn.Module | None = None, *, num_images: int | None = None
    ) -> Path:
        """Record the one look at the test split: ``test_metrics.json``, and the scores in ``best/``'s record.

        ``best/``'s weights file is not rewritten: only its ``config.json`` and model card change
        (:func:`resnetzoo.hub.save.save_record`).

        Args:
            metrics: What :meth:`Trainer.test` returned (fractions).
            model: The model that was tested, holding the weights of ``best/``; its record and ``best/``
                get the test scores. ``None`` writes ``test_metrics.json`` only.
            num_images: How many test images the scores were measured on, recorded with them.

        Returns:
            The ``test_metrics.json`` written.

        Raises:
            OSError: If a file cannot be written.
        """
        text = json.dumps(dict(metrics), indent=2) + "\n"
        written = atomic_write(self.test_metrics_path, text, what="the test metrics")
        if model is None or not (self.best_dir / CONFIG_NAME).is_file():
            return written
        target = unwrap_model(model)
        record = getattr(target, "pretrained_cfg", None)
        if not isinstance(record, Weights):
            return written
        scores = [
            Metric(key, float(metrics[key]), split="test", num_images=num_images)
            for key in _SCORES
            if key in metrics
        ]
        kept = [entry for entry in record.metrics if entry.name not in {s.name for s in scores}]
        target.pretrained_cfg = dataclasses.replace(record, metrics=Metrics([*kept, *scores]))
        save_record(target, self.best_dir)
        return written
