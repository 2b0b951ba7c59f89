"""The Trainer: ``fit`` / ``validate`` / ``test`` / ``predict`` for image classifiers.

This module is the facade; the work is done in the modules beside it, one concern each:

- :mod:`~resnetzoo.train._setup`: device, precision, optimizer, seeds, loaders (and the public
  helpers re-exported here: :func:`build_optimizer`, :func:`parameter_groups`, ...);
- :mod:`~resnetzoo.train._state`: the checkpoint state and resume;
- :mod:`~resnetzoo.train._loop`: the epoch loop, the training step, model selection;
- :mod:`~resnetzoo.train.evaluate`: validation, test and prediction passes;
- :mod:`~resnetzoo.train.run`: the run folder's files.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from .._validate import check_bool, check_instance
from ..data import DeviceLoader, TensorImageDataset
from . import _setup, distributed
from ._eval_loaders import check_evaluation_loader
from ._loop import _LoopMixin
from ._run_lock import run_folder_lock
from ._setup import (
    _SetupMixin,
    build_optimizer,  # noqa: F401  (re-exported: __all__ takes _setup's)
    parameter_groups,
    resolve_amp,
    resolve_device,
    seed_everything,  # noqa: F401
    set_loader_epoch,  # noqa: F401
)
from ._state import _StateMixin
from .callbacks import Callback, default_callbacks
from .config import TrainConfig
from .evaluate import _EvaluationMixin
from .run import RunFolder

__all__ = ["Trainer", *_setup.__all__]  # the Trainer, and its set-up functions (defined in _setup)

logger = logging.getLogger(__name__)


class Trainer(_SetupMixin, _StateMixin, _LoopMixin, _EvaluationMixin):
    """Trains an image classifier: ``Trainer(model, config).fit(train, val)``.

    Loaders are iterables of ``(inputs, targets)`` batches with a ``len()``: a
    :class:`resnetzoo.data.DeviceLoader` (batches already on the device) or any
    :class:`~torch.utils.data.DataLoader` (batches are moved with ``non_blocking=True``; use
    ``pin_memory=True``). Each epoch, ``loader.set_epoch(epoch)`` is called where it exists;
    for an exact resume a DataLoader's shuffling must come from torch's global generator or
    from its own ``generator=``, which the trainer re-seeds from ``(seed, epoch)``.

    Launched with ``torchrun``, the trainer runs data-parallel (see
    :mod:`resnetzoo.train.distributed`).

    Args:
        model: The network; it is moved to the configured device (and memory format).
        config: Training settings; ``TrainConfig()`` by default.
        callbacks: Extra :class:`Callback` objects, called after the built-in progress bar and
            metric writers and before early stopping and checkpointing.

    Attributes:
        model: The network being trained; after :meth:`fit` it holds the selected weights (best
            validation epoch, or the last; the EMA's when ``ema_decay`` is set).
        history: One dict of metrics per epoch (``epoch`` counts from 1).
        epoch: The current epoch, counting from 0.
        global_step: Optimizer steps taken so far.
        best_metric: Best validation top-1 so far (None without validation).
        best_epoch: The epoch (from 0) that reached it.
        best_state: A copy of the weights of that epoch.
        should_stop: Set it in a callback to end training after the current epoch.

    Raises:
        ArgumentTypeError: If ``model`` is not an ``nn.Module``, ``config`` not a ``TrainConfig`` or a
            callback not a :class:`Callback` (a ``TypeError``).
        ValueError: If the device is not available, or the torchrun environment is malformed.

    Example:
        >>> import resnetzoo as rz
        >>> trainer = rz.Trainer(rz.resnet20_cifar(), rz.recipes.get_recipe("fast", epochs=10))
        >>> history = trainer.fit(train_loader, val_loader)  # doctest: +SKIP
        >>> trainer.test(test_loader)  # doctest: +SKIP
        {'loss': 0.31, 'top1': 0.905, 'top5': 0.997}
    """

    def __init__(
        self, model: nn.Module, config: TrainConfig | None = None, callbacks: Sequence[Callback] = ()
    ) -> None:
        check_instance("model", model, nn.Module, what="a torch.nn.Module")
        check_instance(
            "config",
            config,
            (TrainConfig, type(None)),
            what="a resnetzoo.TrainConfig or None",
            hint=" (build one with TrainConfig(**settings) or resnetzoo.recipes.get_recipe(name))",
        )
        for i, callback in enumerate(callbacks):
            check_instance(f"callbacks[{i}]", callback, Callback, what="a resnetzoo.Callback")
        self.config = config if config is not None else TrainConfig()
        self.dist = distributed.DistributedEnv.from_env()
        self.device = resolve_device(self.config.device, self.dist.local_rank)
        self.amp_dtype = resolve_amp(self.config.amp, self.device)
        model = model.to(self.device)
        self.model = model.to(memory_format=torch.channels_last) if self.config.channels_last else model
        self.callbacks = default_callbacks(self.config, callbacks)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=self.config.label_smoothing)
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        self.scaler: torch.amp.GradScaler | None = None
        self.ema: AveragedModel | None = None
        self._train_module: nn.Module = self.model
        self._ddp: nn.parallel.DistributedDataParallel | None = None
        self._compiled: dict[int, nn.Module] = {}
        self._fitting = False
        self._evaluated_images: int | None = None
        self._reset_progress()

    def _reset_progress(self) -> None:
        self.history: list[dict[str, float]] = []
        self.epoch = 0
        self.global_step = 0
        self.batch_index = 0
        self.batches_per_epoch = 0
        self.steps_per_epoch = 0
        self.best_metric: float | None = None
        self.best_epoch: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.should_stop = False
        self.has_validation = False
        self.running_metrics: dict[str, float] = {}
        self._window_totals: tuple[float, int] = (0.0, 0)
        self._rng_states: list[dict[str, Any]] = []
        self._loader_seed: int | None = None
        self._ema_updates = 0

    # ------------------------------------------------------------------ properties
    @property
    def is_main_process(self) -> bool:
        """True on rank 0 (and in a single-process run): the process that logs and writes files."""
        return self.dist.is_main

    @property
    def lr(self) -> float:
        """The learning rate of the first parameter group for the next step."""
        return self.optimizer.param_groups[0]["lr"] if self.optimizer is not None else self.config.lr

    @property
    def out_dir(self) -> Path | None:
        """``TrainConfig.out_dir`` as a path."""
        return Path(self.config.out_dir) if self.config.out_dir is not None else None

    @property
    def run_folder(self) -> RunFolder | None:
        """The :class:`~resnetzoo.train.RunFolder` of ``out_dir``, which writes its files (None without)."""
        return RunFolder(self.config.out_dir) if self.config.out_dir is not None else None

    def param_groups(self) -> list[dict[str, Any]]:
        """The optimizer's parameter groups; override it to give parts of the model their own options.

        By default the trainable parameters of ``model`` split by :func:`parameter_groups` (no
        weight decay on norm scales and biases). A group may set its own ``lr`` (a peak lr: every
        schedule scales each group's lr by the same factor), ``weight_decay`` or any other option
        of the optimizer; :func:`resnetzoo.fine_tune` gives each stage of the network its own lr
        this way. Called once per :meth:`fit`, after the model is on its device. :attr:`lr` and
        the history's ``lr`` report the first group.
        """
        return parameter_groups(self.model, self.config.weight_decay, self.config.decay_norm_and_bias)

    def training_loss(
        self, logits: torch.Tensor, targets: torch.Tensor, inputs: torch.Tensor
    ) -> torch.Tensor:
        """The loss of one training batch, which the optimizer minimises; override it for another objective.

        By default cross-entropy with ``label_smoothing``. Called under autocast, once per batch,
        with the (augmented) batch the logits were computed from; :func:`resnetzoo.distill` adds
        a teacher's soft targets this way. Validation always reports plain cross-entropy.

        Args:
            logits: The model's outputs ``(B, num_classes)``.
            targets: Class indices ``(B,)``, or class probabilities ``(B, num_classes)`` (mixup, cutmix).
            inputs: The input batch ``(B, C, H, W)``, on the training device.
        """
        return self.criterion(logits, targets)

    def make_loader(
        self,
        dataset: TensorImageDataset,
        *,
        train: bool,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> DeviceLoader:
        """A :class:`~resnetzoo.data.DeviceLoader` over ``dataset`` set up from this trainer's config.

        The whole data set moves to the trainer's device once. Batches of ``batch_size`` come in
        the autocast dtype (bf16 under ``amp="bf16"``) and memory format the model uses; training
        batches are shuffled from ``seed`` and augmented as ``config.augment`` says; under torchrun
        each process gets its own shard.

        Args:
            dataset: Images as a :class:`~resnetzoo.data.TensorImageDataset` (``CIFAR10``,
                ``image_folder``, ``sample_cifar10``).
            train: Shuffle, augment and drop the last partial batch (training), or not (evaluation).
            mean: Per-channel mean of the training pixels in [0, 1] (e.g. ``CIFAR10_MEAN``); with
                ``std`` None, pixels stay in [0, 1]. Use the training set's values for every split.
            std: Per-channel standard deviation, e.g. ``CIFAR10_STD``.

        Raises:
            TypeError: If ``dataset`` is not a ``TensorImageDataset``.
            ValueError: If the data set gives this process no batch.
        """
        cfg = self.config
        train = check_bool("train", train)
        augment = cfg.augment if train else None
        return DeviceLoader(
            dataset,
            cfg.batch_size,
            device=self.device,
            train=train,
            augment=augment,
            seed=cfg.seed or 0,
            mean=mean,
            std=std,
            dtype=self.amp_dtype or torch.float32,
            channels_last=cfg.channels_last,
            rank=self.dist.rank,
            world_size=self.dist.world_size,
        )

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        train: Iterable[Any],
        val: Iterable[Any] | None = None,
        resume: str | os.PathLike[str] | None = None,
    ) -> list[dict[str, float]]:
        """Train for ``config.epochs`` epochs, validating after each one.

        With ``val``, the epoch with the best validation top-1 is selected: its weights are kept
        in ``best_state`` (and written to ``out_dir/best/``) and loaded into ``model`` at the end
        (``restore_best``). Without ``val`` nothing is selected and the last weights are kept (and
        written to ``out_dir/best/`` at the end). Keep the test split out of ``val``; run :meth:`test`
        once, after fit.

        ``model.pretrained_cfg`` then describes the trained weights: the data set, class names and
        normalisation the training loader tells (a :class:`~resnetzoo.data.DeviceLoader` tells all
        three), ``config.recipe``, the selected validation top-1, and ``base_model`` when the model
        started from other weights; ``out_dir/best/`` is written with it (see
        :mod:`resnetzoo.train.run`).

        Args:
            train: Training batches ``(inputs, targets)``, with ``len()``. Targets are class indices
                ``(B,)``, or class probabilities ``(B, C)`` (mixup, cutmix): the loss is the cross-entropy
                against them and accuracy counts the most probable class.
            val: Validation batches, or None.
            resume: ``"auto"`` (the newest checkpoint in ``out_dir/checkpoints``, or a fresh start
                if there is none), a checkpoint path, or None (fresh start). The run continues
                from the end of the checkpoint's epoch; an interrupted epoch is redone from its
                start, which is exact because its order depends only on ``(seed, epoch)``.

        Returns:
            ``history``: one dict per epoch with ``epoch``, ``lr``, ``train_loss``, ``train_top1``,
            ``time_s``, ``images_per_s`` and, with ``val``, ``val_loss``, ``val_top1``, ``val_top5``
            (``val_top1_tta`` with ``tta``). Accuracies are fractions in [0, 1].

        Raises:
            ValueError: If the loader has no length, ``resume="auto"`` has no ``out_dir``, a
                training loader cannot be sharded across processes, the labels of a
                ``TensorImageDataset`` behind a loader exceed the model's ``num_classes``, or a batch's
                targets are neither class indices nor class probabilities.
            FileNotFoundError: If ``resume`` is a path with no file.
            FileExistsError: If ``out_dir`` holds checkpoints and ``resume`` is None (a fresh run
                would overwrite them).
            CheckpointError: If the resume checkpoint is unreadable, foreign, of another
                architecture, or its weights do not fit the model (nothing is loaded then).
            NonFiniteLossError: If the loss becomes NaN or infinite; no checkpoint is written.
            RunFolderInUseError: If another running process uses ``out_dir`` (a run owns its folder
                for as long as it runs).
        """
        # The main process owns out_dir for the whole fit, from the check for an earlier run on.
        owns_folder = self.out_dir is not None and self.is_main_process
        with run_folder_lock(self.out_dir) if owns_folder else contextlib.nullcontext():
            return self._fit(train, val, resume)

    def _fit(
        self, train: Iterable[Any], val: Iterable[Any] | None, resume: str | os.PathLike[str] | None
    ) -> list[dict[str, float]]:
        self._check_fit_arguments(train, val, resume)
        self._setup_distributed()
        with self._global_settings():
            loaders = self._set_up_fit(train, val)
            start_epoch = self._resume(resume) if resume is not None else 0
            if self.is_main_process:
                if not self.has_validation:
                    logger.warning(
                        "fit() without a validation set: no model selection, the weights after the last "
                        "epoch are kept"
                    )
                if (run := self.run_folder) is not None:
                    run.write_config(self.config)
            self._run_epochs(start_epoch, *loaders)
        return self.history

    def checkpoint_state(self) -> dict[str, Any]:
        """Everything needed to continue this fit exactly, as plain values and tensors.

        Written by :class:`~resnetzoo.train.callbacks.ModelCheckpoint` after an epoch.
        """
        return self._checkpoint_state()

    # ------------------------------------------------------------------ evaluation
    def validate(self, loader: Iterable[Any]) -> dict[str, float]:
        """Evaluate ``model`` on ``loader`` (at most ``limit_eval_batches`` batches).

        Returns:
            ``loss`` (mean cross-entropy without label smoothing), ``top1`` and ``top5`` (fractions;
            top-k with k = min(5, classes)), and ``top1_tta`` (mirror-averaged logits) when
            ``config.tta``.

        Raises:
            ValueError: If the loader yields no batches, or labels the model has no output for.
        """
        check_evaluation_loader(loader, "Trainer.validate()", in_order=False)
        self._check_labels(loader, "validation")
        return self._run_evaluation(loader, self.config.limit_eval_batches)

    def test(self, loader: Iterable[Any]) -> dict[str, float]:
        """Evaluate ``model`` on the whole test split, once, after model selection.

        Same metrics as :meth:`validate`, never cut short by ``limit_eval_batches``. Keep the
        test split out of :meth:`fit`: choosing anything by test accuracy makes it a validation
        score. With ``out_dir``, the result is written to ``out_dir/test_metrics.json``, and its
        scores into the record of ``out_dir/best/`` when the model holds those weights (see
        :mod:`resnetzoo.train.run`).

        Raises:
            ValueError: If the loader yields no batches, or labels the model has no output for.
        """
        check_evaluation_loader(loader, "Trainer.test()", in_order=False)
        self._check_labels(loader, "test")
        metrics = self._run_evaluation(loader, None)
        if self.is_main_process:
            logger.debug("test: %s", ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
            if (run := self.run_folder) is not None:
                # best/ gets the scores only if the model holds its weights: after fit restored them.
                holds_best = self.best_epoch is None or self.config.restore_best
                tested = self.model if holds_best else None
                run.record_test(metrics, tested, num_images=self._evaluated_images)
        return metrics

    def predict(self, loader: Iterable[Any], probabilities: bool = False) -> torch.Tensor:
        """Outputs of ``model`` for every example of ``loader``, in order, on the CPU.

        Args:
            loader: Batches of inputs, or of ``(inputs, ...)`` tuples (targets are ignored).
            probabilities: Return softmax probabilities instead of logits.

        Returns:
            A float32 tensor ``(N, num_classes)``: logits by default; with ``config.tta`` the
            average of the logits of each image and its mirror image (before the softmax).
        """
        check_evaluation_loader(loader, "Trainer.predict()", in_order=True)
        return self._predict(loader, probabilities)
