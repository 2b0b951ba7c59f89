"""Callbacks: code that runs at fixed points of :meth:`Trainer.fit <resnetzoo.Trainer.fit>`.

The progress bar, the metric writers, early stopping and checkpointing are callbacks too, so
a user callback sees exactly what they see. Hooks receive the trainer; read its state
(``epoch``, ``global_step``, ``batch_index``, ``history``, ``running_metrics``, ``best_epoch``,
``model``, ``optimizer``) and set ``trainer.should_stop = True`` to end training after the
current epoch. Order of calls in a fit::

    on_fit_start
      on_epoch_start, on_batch_end (per batch), on_validation_end (if validating), on_epoch_end
      ... per epoch
    on_fit_end

The writers run on rank 0 only in a distributed job.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from .._integrity import nonfinite_keys
from .._validate import check_int
from ..errors import NonFiniteLossError
from .checkpoint import checkpoint_path, prune_checkpoints, write_checkpoint
from .config import TrainConfig
from .run import CHECKPOINTS_DIR, CURVES_NAME, METRICS_NAME, RunFolder

# The callbacks resnetzoo.train exports (its __all__ takes them from here); the rest is the Trainer's.
PUBLIC_CALLBACKS = (
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "LearningCurvePlot",
    "ModelCheckpoint",
    "ProgressBar",
    "TensorBoardLogger",
)
__all__ = [*PUBLIC_CALLBACKS, "TrainerState", "default_callbacks"]

logger = logging.getLogger(__name__)


class TrainerState(Protocol):
    """What a callback may read of the trainer that calls it, and ``should_stop``, which it may set.

    :class:`~resnetzoo.Trainer` is one. Callbacks are written against this, so that this module does not
    import the trainer's (which imports this one to run them).
    """

    config: TrainConfig
    model: nn.Module
    epoch: int  # the epoch running or just finished (0-based)
    global_step: int  # optimizer steps taken so far
    batch_index: int  # the batch just trained on, within the epoch
    batches_per_epoch: int
    history: list[dict[str, float]]  # one row per finished epoch
    running_metrics: dict[str, float]  # loss, top-1 and images/s of the epoch so far
    has_validation: bool
    best_epoch: int | None  # the selected epoch (0-based)
    best_metric: float | None  # its validation top-1
    best_state: dict[str, torch.Tensor] | None  # a copy of its weights
    should_stop: bool  # set it to end training after the current epoch

    @property
    def is_main_process(self) -> bool: ...

    @property
    def lr(self) -> float: ...

    def checkpoint_state(self) -> dict[str, Any]: ...


class Callback:
    """Base class: every hook is a no-op; override the ones you need.

    Example:
        >>> class StopAtLoss(Callback):
        ...     def on_epoch_end(self, trainer):
        ...         if trainer.history[-1]["train_loss"] < 0.1:
        ...             trainer.should_stop = True
    """

    def on_fit_start(self, trainer: TrainerState) -> None:
        """Before the first epoch (after a resume has restored the state)."""

    def on_fit_end(self, trainer: TrainerState) -> None:
        """After the last epoch, once the selected weights are in ``trainer.model``."""

    def on_epoch_start(self, trainer: TrainerState) -> None:
        """Before the first batch of ``trainer.epoch``, with the model in training mode.

        Parts of the model put in eval mode here stay so for the epoch (e.g. the BatchNorm
        layers of a frozen backbone, so that their running statistics are not updated).
        """

    def on_batch_end(self, trainer: TrainerState) -> None:
        """After each training batch (``trainer.batch_index``); keep it cheap, it is in the hot loop."""

    def on_validation_end(self, trainer: TrainerState, metrics: Mapping[str, float]) -> None:
        """After each validation pass in fit, with its metrics (``loss``, ``top1``, ...)."""

    def on_epoch_end(self, trainer: TrainerState) -> None:
        """After an epoch and its validation; ``trainer.history[-1]`` holds its metrics."""

    def state_dict(self) -> dict[str, Any]:
        """State to save in checkpoints (plain values and tensors); empty by default."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


def _percent(x: float) -> str:
    return f"{100 * x:.2f}%"


class ProgressBar(Callback):
    """A tqdm bar per epoch with loss, accuracy, lr and images/s (``tqdm.auto``: notebooks too).

    It reads ``trainer.running_metrics``, which the trainer refreshes every
    ``TrainConfig.progress_every`` steps, so the bar adds no GPU synchronisation of its own.
    """

    def __init__(self) -> None:
        self._bar: Any = None
        self._shown = 0

    def on_epoch_start(self, trainer: TrainerState) -> None:
        if not trainer.is_main_process:
            return
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=trainer.batches_per_epoch,
            desc=f"epoch {trainer.epoch + 1}/{trainer.config.epochs}",
            unit="batch",
            dynamic_ncols=True,
        )
        self._shown = 0

    def on_batch_end(self, trainer: TrainerState) -> None:
        metrics = trainer.running_metrics
        if self._bar is None or metrics.get("batches", 0) <= self._shown:
            return
        self._bar.update(metrics["batches"] - self._shown)
        self._shown = metrics["batches"]
        self._bar.set_postfix(
            loss=f"{metrics['loss']:.3f}",
            acc=_percent(metrics["top1"]),
            lr=f"{trainer.lr:.3g}",
            img_s=f"{metrics['images_per_s']:,.0f}",
            refresh=False,
        )

    def on_epoch_end(self, trainer: TrainerState) -> None:
        if self._bar is None:
            return
        row = trainer.history[-1]
        postfix = {"loss": f"{row['train_loss']:.3f}", "acc": _percent(row["train_top1"])}
        if "val_top1" in row:
            postfix["val_acc"] = _percent(row["val_top1"])
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.close()
        self._bar = None


class CSVLogger(Callback):
    """``metrics.csv``: one row per epoch, rewritten whole after each epoch.

    Rewriting (atomically) rather than appending keeps the file equal to ``trainer.history``
    after a resume, which may repeat epochs that a crashed run had already logged.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def on_epoch_end(self, trainer: TrainerState) -> None:
        if trainer.is_main_process:
            RunFolder(self.path.parent).write_metrics(trainer.history, self.path.name)


def _require(module: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ImportError(f"{what} needs the optional package {module!r}: pip install 'resnetzoo[logging]'")


class TensorBoardLogger(Callback):
    """Scalars for TensorBoard in ``log_dir`` (needs the ``tensorboard`` package).

    Per epoch, every column of the history (``train/loss``, ``val/top1``, ...) at the epoch number;
    per optimizer step, ``step/loss`` and ``step/lr`` at the global step, as often as the trainer
    refreshes its running metrics (every step on a CPU, every ``TrainConfig.progress_every`` steps on
    a GPU, so logging adds no synchronisation). ``step/loss`` is the mean loss of the batches since
    the previous point.

    Raises:
        ImportError: If tensorboard is not installed.
    """

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        _require("tensorboard", "TensorBoardLogger")
        self.log_dir = Path(log_dir)
        self._writer: Any = None
        self._logged_batches = 0

    def on_fit_start(self, trainer: TrainerState) -> None:
        if trainer.is_main_process:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.log_dir))

    def on_epoch_start(self, trainer: TrainerState) -> None:
        self._logged_batches = 0

    def on_batch_end(self, trainer: TrainerState) -> None:
        metrics = trainer.running_metrics
        if self._writer is None or metrics.get("batches", 0) <= self._logged_batches:
            return
        self._logged_batches = metrics["batches"]
        self._writer.add_scalar("step/loss", metrics["window_loss"], trainer.global_step)
        self._writer.add_scalar("step/lr", trainer.lr, trainer.global_step)

    def on_epoch_end(self, trainer: TrainerState) -> None:
        if self._writer is None:
            return
        row = trainer.history[-1]
        for key, value in row.items():
            if key != "epoch":
                self._writer.add_scalar(key.replace("_", "/", 1), value, row["epoch"])
        self._writer.flush()

    def on_fit_end(self, trainer: TrainerState) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class LearningCurvePlot(Callback):
    """A PNG of loss and top-1 per epoch, train and val, redrawn after each epoch (needs matplotlib).

    Uses matplotlib's object API with the Agg canvas, never ``pyplot``, so it neither opens
    windows nor changes the process-wide backend.

    Raises:
        ImportError: If matplotlib is not installed.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        _require("matplotlib", "LearningCurvePlot")
        self.path = Path(path)

    def on_epoch_end(self, trainer: TrainerState) -> None:
        if trainer.is_main_process:
            RunFolder(self.path.parent).write_curves(trainer.history, self.path.name)


class EarlyStopping(Callback):
    """Stop when validation top-1 has not improved for ``patience`` epochs.

    It uses the trainer's model selection (``trainer.best_epoch``), so "improved" means the
    same thing as "saved as best". Without a validation set it does nothing (and says so).

    Raises:
        ValueError: If ``patience`` < 1.
    """

    def __init__(self, patience: int) -> None:
        self.patience = check_int("patience", patience, minimum=1)

    def on_fit_start(self, trainer: TrainerState) -> None:
        if not trainer.has_validation:
            logger.warning("early stopping needs a validation set; it is off for this fit")

    def on_epoch_end(self, trainer: TrainerState) -> None:
        if trainer.best_epoch is None:
            return
        stale = trainer.epoch - trainer.best_epoch
        if stale >= self.patience:
            trainer.should_stop = True
            if trainer.is_main_process:
                logger.info(
                    "early stopping: val top-1 has not improved for %d epochs (best %s at epoch %d)",
                    stale,
                    _percent(trainer.best_metric or 0.0),
                    trainer.best_epoch + 1,
                )


class ModelCheckpoint(Callback):
    """Resumable checkpoints every ``every`` epochs (and after the last), and the selected model.

    Writes ``directory/epoch_NNNN.pt`` atomically and keeps the newest ``keep``. With ``run_dir``, the
    selected model goes to ``run_dir/best/`` with its record
    (:meth:`RunFolder.write_best <resnetzoo.train.RunFolder.write_best>`): whenever the validation
    top-1 improves, or at the end of a fit without validation. Weights that are not finite are never
    written over good ones.

    Raises:
        NonFiniteLossError: From ``on_epoch_end``, if the weights to save hold NaN or inf.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        every: int = 1,
        keep: int = 3,
        run_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.every = check_int("every", every, minimum=1)
        self.keep = check_int("keep", keep, minimum=1)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self._run = RunFolder(run_dir) if run_dir is not None else None

    def on_epoch_end(self, trainer: TrainerState) -> None:
        if not trainer.is_main_process:
            return
        epoch = trainer.epoch
        if self._run is not None and trainer.best_epoch == epoch and trainer.best_state is not None:
            self._check_finite(trainer.best_state, trainer)
            folder = self._run.write_best(
                trainer.model, trainer.best_state, {"val_top1": trainer.best_metric}
            )
            logger.debug("wrote %s", folder)
        last = epoch + 1 == trainer.config.epochs or trainer.should_stop
        if (epoch + 1) % self.every == 0 or last:
            state = trainer.checkpoint_state()
            self._check_finite(state["model"], trainer)
            path = write_checkpoint(checkpoint_path(self.directory, epoch + 1), state)
            prune_checkpoints(self.directory, self.keep)
            logger.debug("wrote %s", path)

    def on_fit_end(self, trainer: TrainerState) -> None:
        if self._run is None or not trainer.is_main_process or trainer.best_epoch is not None:
            return
        state = trainer.model.state_dict()  # nothing was selected: the model's final weights are the run's
        self._check_finite(state, trainer)
        self._run.write_best(trainer.model, state, {})

    @staticmethod
    def _check_finite(state: Mapping[str, torch.Tensor], trainer: TrainerState) -> None:
        if nonfinite_keys(state):
            raise NonFiniteLossError(
                f"the weights after epoch {trainer.epoch + 1} hold NaN or inf; no checkpoint was written, "
                "the earlier ones are intact (lower the lr, enable grad_clip, or check the data)",
                epoch=trainer.epoch,
                step=trainer.global_step,
            )


def default_callbacks(config: TrainConfig, user: Sequence[Callback] = ()) -> list[Callback]:
    """The built-in callbacks that ``config`` asks for, around the user's, in calling order.

    Order: progress bar, metric writers, the user's callbacks, early stopping, checkpointing
    (last, so a checkpoint records whatever the others decided). A built-in whose type the
    user already passed is not added twice. TensorBoard and the plot are skipped with an info
    message when their optional package is missing.
    """
    user = list(user)

    def wanted(kind: type[Callback]) -> bool:
        return not any(isinstance(cb, kind) for cb in user)

    before: list[Callback] = []
    after: list[Callback] = []
    if config.progress and wanted(ProgressBar):
        before.append(ProgressBar())
    if config.out_dir is not None:
        out = Path(config.out_dir)
        if "csv" in config.loggers and wanted(CSVLogger):
            before.append(CSVLogger(out / METRICS_NAME))
        optional = (
            ("tensorboard", TensorBoardLogger, out / "tensorboard"),
            ("plot", LearningCurvePlot, out / CURVES_NAME),
        )
        for name, kind, path in optional:
            if name in config.loggers and wanted(kind):
                try:
                    before.append(kind(path))
                except ImportError as err:
                    logger.info("%s logging is off: %s", name, err)
        if wanted(ModelCheckpoint):
            after.append(
                ModelCheckpoint(out / CHECKPOINTS_DIR, config.checkpoint_every, config.keep_checkpoints, out)
            )
    if config.early_stopping_patience is not None and wanted(EarlyStopping):
        after.insert(0, EarlyStopping(config.early_stopping_patience))
    return [*before, *user, *after]
