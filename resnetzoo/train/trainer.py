"""The Trainer: ``fit`` / ``validate`` / ``test`` / ``predict`` for image classifiers.

The training step is the plain PyTorch loop (autocast forward, backward, optimizer step,
scheduler step) with everything else kept out of its way: metrics are summed on the device
and read back only every ``TrainConfig.progress_every`` steps and at the end of an epoch, so
on a GPU the loop never waits for the device inside an epoch.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader

from .._files import atomic_write
from .._validate import check_bool, check_device
from ..data import DeviceLoader, TensorImageDataset
from ..errors import ArgumentTypeError, CheckpointError, NonFiniteLossError
from ..hub.save import unwrap_model
from ..models.weights import Weights
from . import distributed
from ._eval_loaders import check_evaluation_loader, limit_evaluation
from ._run_lock import run_folder_lock
from .callbacks import Callback, default_callbacks
from .checkpoint import (
    capture_rng_state,
    find_latest_checkpoint,
    list_checkpoints,
    read_checkpoint,
    restore_rng_state,
)
from .config import TrainConfig, trajectory_fields
from .run import BEST_DIR, TRAIN_CONFIG_NAME, describe_data, read_best, trained_record, write_test_metrics
from .schedules import build_scheduler

__all__ = ["Trainer", "build_optimizer", "parameter_groups", "resolve_amp", "resolve_device"]

logger = logging.getLogger(__name__)


def resolve_device(spec: str, local_rank: int = 0) -> torch.device:
    """The device for ``TrainConfig.device``: ``"auto"`` is CUDA (this process's GPU) if available, else CPU.

    Raises:
        ArgumentError: If CUDA is asked for but not available (a ``ValueError``).
    """
    if spec == "auto":
        return torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    device = check_device("TrainConfig.device", spec)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``TrainConfig.amp`` on ``device`` (None: full precision)."""
    if amp == "auto":
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "off": None}[amp]


def parameter_groups(
    model: nn.Module | Iterable[nn.Parameter], weight_decay: float, decay_norm_and_bias: bool
) -> list[dict[str, Any]]:
    """Split trainable parameters into a decayed group and an undecayed one.

    Tensors with fewer than 2 dimensions (norm scales and shifts, biases) go to the group with
    ``weight_decay=0`` unless ``decay_norm_and_bias``; the same rule as nanoGPT's
    ``configure_optimizers`` and timm's ``param_groups_weight_decay``.

    Args:
        model: A module, or some of a module's parameters (one part of a network).
        weight_decay: The decay of the decayed group.
        decay_norm_and_bias: Put every parameter in the decayed group.
    """
    decay, no_decay = [], []
    for param in model.parameters() if isinstance(model, nn.Module) else model:
        if param.requires_grad:
            (no_decay if param.ndim < 2 and not decay_norm_and_bias else decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def build_optimizer(
    model: nn.Module,
    config: TrainConfig,
    device: torch.device,
    groups: Sequence[Mapping[str, Any]] | None = None,
) -> torch.optim.Optimizer:
    """SGD or AdamW over :func:`parameter_groups`, fused into one kernel per step on CUDA.

    Args:
        model: The network.
        config: Optimizer, ``lr`` and weight decay settings.
        device: Where the parameters live (CUDA gets fused kernels).
        groups: Parameter groups to use instead of :func:`parameter_groups`; a group's own
            options (``lr``, ``weight_decay``, ...) override the config's.

    Raises:
        ValueError: If the model has no trainable parameters.
    """
    if groups is None:
        groups = parameter_groups(model, config.weight_decay, config.decay_norm_and_bias)
    groups = [dict(g) for g in groups if g["params"]]
    if not groups:
        raise ValueError("the model has no parameters with requires_grad=True; nothing to train")
    fused = True if device.type == "cuda" else None  # fused kernels exist for CUDA only
    # The config's lr and weight decay apply to the groups that do not set their own.
    defaults = {"lr": config.lr, "weight_decay": config.weight_decay, "fused": fused}
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, momentum=config.momentum, nesterov=config.nesterov, **defaults)
    return torch.optim.AdamW(groups, betas=config.betas, **defaults)


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), Python's ``random`` and NumPy's global generator."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _epoch_seed(seed: int, epoch: int) -> int:
    # A well-mixed seed from (seed, epoch), so neighbouring epochs get unrelated streams.
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0] >> 1)


def set_loader_epoch(loader: Iterable[Any], epoch: int, seed: int) -> None:
    """Make ``loader``'s order for ``epoch`` depend only on ``(seed, epoch)`` where it can.

    Calls ``loader.set_epoch(epoch)`` if it has one (``DeviceLoader``); for a ``DataLoader``
    calls its sampler's or batch sampler's ``set_epoch`` (``DistributedSampler``) and re-seeds
    its own generator (``DataLoader(..., generator=g)``) from ``(seed, epoch)``. A DataLoader
    without a generator shuffles from torch's global generator, which checkpoints save and restore.
    """
    if hasattr(loader, "set_epoch"):
        loader.set_epoch(epoch)
        return
    if isinstance(loader, DataLoader):
        for sampler in {id(s): s for s in (loader.sampler, loader.batch_sampler)}.values():
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)
        generators = {id(g): g for g in (loader.generator, getattr(loader.sampler, "generator", None)) if g}
        for generator in generators.values():
            generator.manual_seed(_epoch_seed(seed, epoch))


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    # model_kwargs may hold classes (norm_layer=...); checkpoints keep only plain values, and nested
    # lists of them (a pruned network's inner_channels).
    return {k: v for k, v in values.items() if _is_plain(v)}


def _is_plain(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    return isinstance(value, (str, int, float, bool, type(None)))


class Trainer:
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
        if not isinstance(model, nn.Module):
            raise ArgumentTypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
        if config is not None and not isinstance(config, TrainConfig):
            raise ArgumentTypeError(
                f"config must be a resnetzoo.TrainConfig or None; got {type(config).__name__} "
                "(build one with TrainConfig(**settings) or resnetzoo.recipes.get_recipe(name))"
            )
        for i, callback in enumerate(callbacks):
            if not isinstance(callback, Callback):
                raise ArgumentTypeError(
                    f"callbacks[{i}] must be a resnetzoo.Callback; got {type(callback).__name__}"
                )
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
        cfg = self.config
        if resume is not None and not isinstance(resume, (str, os.PathLike)):
            raise ArgumentTypeError(
                f"resume must be None, 'auto' or a checkpoint path; got {type(resume).__name__}"
            )
        if resume == "auto" and cfg.out_dir is None:
            raise ValueError("resume='auto' looks for checkpoints in TrainConfig.out_dir, which is None")
        if resume is not None and resume != "auto" and not Path(resume).is_file():
            raise FileNotFoundError(
                f"resume={os.fspath(resume)!r}: there is no checkpoint file at that path; pass the path of a "
                "checkpoints/epoch_NNNN.pt file, or resume='auto' for the newest one in TrainConfig.out_dir"
            )
        for name, loader in (("training", train), ("validation", val)):
            self._check_labels(loader, name)
        if resume is None and self.out_dir is not None and list_checkpoints(self.out_dir / "checkpoints"):
            raise FileExistsError(
                f"{self.out_dir} holds checkpoints of an earlier run, which a new run would overwrite; "
                "pass resume='auto' to continue it, or choose another out_dir"
            )
        self._setup_distributed()
        with self._global_settings():
            self._reset_progress()
            if cfg.seed is not None:
                seed_everything(cfg.seed + self.dist.rank)
            train_loader, _ = self._prepare(train, train=True)
            val_limit = None
            if val is not None:
                check_evaluation_loader(val, "Trainer.fit()'s validation", in_order=False)
                val, val_limit = limit_evaluation(
                    val, cfg.limit_eval_batches, seed=cfg.seed or 0, world_size=self.dist.world_size
                )
            val_loader, val_sharded = self._prepare(val, train=False) if val is not None else (None, False)
            self.has_validation = val_loader is not None
            self._loader_seed = getattr(train_loader, "seed", cfg.seed)
            self.batches_per_epoch = self._count_batches(train_loader)
            self.steps_per_epoch = math.ceil(self.batches_per_epoch / cfg.grad_accum_steps)
            self._build_training_objects()
            record = trained_record(self.model, describe_data(train), cfg.recipe)
            if record is not None:
                unwrap_model(self.model).pretrained_cfg = record
            start_epoch = self._resume(resume) if resume is not None else 0
            if self.is_main_process:
                if not self.has_validation:
                    logger.warning(
                        "fit() without a validation set: no model selection, the weights after the last "
                        "epoch are kept"
                    )
                self._write_config()
            self._fitting = True
            try:
                self._call("on_fit_start")
                for epoch in range(start_epoch, cfg.epochs):
                    if self.should_stop:
                        break
                    self.epoch = epoch
                    set_loader_epoch(train_loader, epoch, cfg.seed or 0)
                    # Training mode before on_epoch_start, so that a callback can put parts of the
                    # model in eval mode for the epoch (a frozen backbone's BatchNorm statistics).
                    self._train_module.train()
                    self._call("on_epoch_start")
                    row = {"epoch": epoch + 1, **self._train_epoch(train_loader)}
                    if val_loader is not None:
                        metrics = self._evaluate(val_loader, val_sharded, val_limit)
                        self._call("on_validation_end", metrics)
                        row.update({f"val_{k}": v for k, v in metrics.items()})
                        self._select(metrics["top1"])
                    self.history.append(row)
                    # The one point where the generators are captured for the checkpoint: after
                    # everything this epoch draws, before anything the next one draws.
                    self._rng_states = distributed.all_gather_objects(capture_rng_state())
                    self._log_epoch(row)
                    self._call("on_epoch_end")
            finally:
                self._fitting = False
            self._finish()
            self._call("on_fit_end")
        return self.history

    def _setup_distributed(self) -> None:
        distributed.init_process_group(self.dist, self.device)

    def _check_labels(self, loader: Iterable[Any] | None, name: str) -> None:
        # An out-of-range label fails deep in the loss on CPU ("Target 57 is out of bounds") and
        # is a device-side assert that ends the process's use of a GPU, so labels are checked
        # once, here, where they are known on the host: in a TensorImageDataset behind the loader.
        targets = getattr(getattr(loader, "dataset", None), "targets", None)
        num_classes = getattr(self.model, "num_classes", None)
        if not (isinstance(targets, torch.Tensor) and targets.device.type == "cpu" and targets.numel()):
            return
        if not isinstance(num_classes, int) or num_classes < 1:
            return
        highest = int(targets.max())
        if highest >= num_classes:
            raise ValueError(
                f"the {name} data has labels up to {highest}, but the model has {num_classes} outputs "
                f"(labels must be in [0, {num_classes})): build the model with num_classes={highest + 1} "
                f"or more, or call model.reset_classifier({highest + 1})"
            )

    @contextlib.contextmanager
    def _global_settings(self) -> Iterator[None]:
        # Process-wide switches are set for the duration of fit only, then restored.
        saved = (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.backends.cudnn.benchmark,
            torch.backends.cudnn.deterministic,
        )
        try:
            if self.config.deterministic:
                if self.device.type == "cuda":
                    # cuBLAS needs a fixed workspace to be deterministic (CUDA docs, "Reproducibility").
                    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
                torch.use_deterministic_algorithms(True)
                torch.backends.cudnn.benchmark = False
                torch.backends.cudnn.deterministic = True
            elif self.device.type == "cuda":
                # Input shapes are fixed, so cuDNN's one-off search for the fastest kernels pays.
                torch.backends.cudnn.benchmark = True
            yield
        finally:
            torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
            torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[2], saved[3]

    def _prepare(self, data: Iterable[Any], *, train: bool) -> tuple[Iterable[Any], bool]:
        return distributed.shard_loader(data, self.dist, train=train, seed=self.config.seed or 0)

    def _count_batches(self, loader: Iterable[Any]) -> int:
        limit = self.config.limit_train_batches
        try:
            count = len(loader)  # type: ignore[arg-type]
        except TypeError:
            if limit is None:
                raise ValueError(
                    f"the training loader ({type(loader).__name__}) has no len(); the schedule needs the "
                    "number of batches per epoch: give it a __len__ or set TrainConfig.limit_train_batches"
                ) from None
            count = limit
        count = min(count, limit) if limit is not None else count
        if count < 1:
            raise ValueError("the training loader is empty")
        return count

    def _build_training_objects(self) -> None:
        cfg = self.config
        if cfg.sync_batchnorm and self.dist.is_distributed:
            if self.device.type != "cuda":
                raise ValueError(
                    "TrainConfig.sync_batchnorm needs CUDA devices; SyncBatchNorm does not run on CPU"
                )
            self.model = nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
        self.optimizer = build_optimizer(self.model, cfg, self.device, self.param_groups())
        self.scheduler = build_scheduler(self.optimizer, cfg, self.steps_per_epoch)
        self.scaler = torch.amp.GradScaler(self.device.type) if self.amp_dtype == torch.float16 else None
        self.ema = None
        if cfg.ema_decay is not None:
            self.ema = AveragedModel(
                self.model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True
            )
            pairs = [
                (e, m.detach())
                for e, m in zip(
                    [*self.ema.module.parameters(), *self.ema.module.buffers()],
                    [*self.model.parameters(), *self.model.buffers()],
                    strict=True,
                )
                if e.is_floating_point()  # integer buffers (BN batch counters) are not averaged
            ]
            self._ema_tensors = [e for e, _ in pairs]
            self._model_tensors = [m for _, m in pairs]
        module: nn.Module = self.model
        self._ddp = None
        if self.dist.is_distributed:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self._ddp = module = nn.parallel.DistributedDataParallel(self.model, device_ids=device_ids)
        if cfg.compile:
            module = torch.compile(module, mode=cfg.compile_mode)
        self._train_module = module
        self._params = [p for p in self.model.parameters() if p.requires_grad]

    def _resume(self, resume: str | os.PathLike[str]) -> int:
        if resume == "auto":
            directory = Path(self.config.out_dir or ".") / "checkpoints"  # fit checked that out_dir is set
            found = find_latest_checkpoint(directory)
            if found is None:
                logger.info("no checkpoint in %s; starting from scratch", directory)
                return 0
            path, ckpt = found
        else:
            path = Path(resume)
            ckpt = read_checkpoint(path)
        self._load_training_state(ckpt, path)
        if self.is_main_process:
            logger.info("resumed from %s: %d epochs done, %d steps", path, ckpt["epoch"], ckpt["step"])
        return int(ckpt["epoch"])

    def _load_training_state(self, ckpt: Mapping[str, Any], path: Path) -> None:
        cfg = self.config
        saved_name, own_name = ckpt.get("model_name"), getattr(self.model, "model_name", None)
        if saved_name and own_name and saved_name != own_name:
            raise CheckpointError(
                f"{path} is a checkpoint of a {saved_name} run and this model is a {own_name}: resume it "
                f"with resnetzoo.create_model({saved_name!r}, ...), or start this model in another out_dir"
            )
        _check_state_fits(self.model, ckpt["model"], path)
        if ckpt.get("steps_per_epoch") != self.steps_per_epoch:
            raise CheckpointError(
                f"{path} was written with {ckpt.get('steps_per_epoch')} optimizer steps per epoch, this run "
                f"has {self.steps_per_epoch}: the data, batch size or grad_accum_steps changed, so the "
                "schedule cannot continue where it stopped"
            )
        saved = ckpt["config"]
        current = cfg.to_dict()
        changed = [k for k in trajectory_fields() if k in saved and not _same(saved[k], current[k])]
        if changed and cfg.schedule == "onecycle" and "epochs" in changed:
            raise CheckpointError(f"{path}: a onecycle schedule cannot change its number of epochs on resume")
        if changed:
            logger.warning(
                "resuming %s with different settings (%s); the run will not match an uninterrupted one",
                path,
                ", ".join(f"{k}: {saved[k]!r} -> {current[k]!r}" for k in changed),
            )
        try:
            self.model.load_state_dict(ckpt["model"])
            self.optimizer.load_state_dict(ckpt["optimizer"])  # type: ignore[union-attr]
            self.scheduler.load_state_dict(ckpt["scheduler"])  # type: ignore[union-attr]
            if self.scaler is not None and ckpt.get("grad_scaler") is not None:
                self.scaler.load_state_dict(ckpt["grad_scaler"])
            if self.ema is not None:
                if ckpt.get("ema") is None:
                    logger.warning("%s has no EMA weights; the EMA starts from the resumed weights", path)
                else:
                    self.ema.load_state_dict(ckpt["ema"])
                    self._ema_updates = int(self.ema.n_averaged)
        except (RuntimeError, ValueError, KeyError) as err:
            raise CheckpointError(f"{path} does not fit this model or optimizer: {err}") from err
        self.history = [dict(row) for row in ckpt["history"]]
        self.global_step = int(ckpt["step"])
        self.epoch = int(ckpt["epoch"]) - 1
        self.best_metric = ckpt["best"]["metric"]
        self.best_epoch = ckpt["best"]["epoch"]
        self.should_stop = bool(ckpt.get("stopped", False))
        self._restore_best_state()
        states = ckpt.get("callbacks", {})
        for cb in self.callbacks:
            if type(cb).__name__ in states:
                cb.load_state_dict(states[type(cb).__name__])
        saved_seed = ckpt.get("loader", {}).get("seed")
        if saved_seed != self._loader_seed:
            logger.warning(
                "the loader's seed changed from %r to %r; the data order will differ",
                saved_seed,
                self._loader_seed,
            )
        rng = ckpt["rng"]
        if len(rng) == self.dist.world_size:
            restore_rng_state(rng[self.dist.rank])
        else:
            logger.warning(
                "%s holds random states for %d processes, this run has %d; they are reseeded instead",
                path,
                len(rng),
                self.dist.world_size,
            )

    def _restore_best_state(self) -> None:
        best = read_best(self.out_dir) if self.best_epoch is not None and self.out_dir is not None else None
        if best is None:
            return
        state, val_top1 = best
        if val_top1 == self.best_metric:
            self.best_state = {k: v.to(self.device) for k, v in state.items()}
        else:
            logger.warning(
                "%s holds weights of validation top-1 %s, the checkpoint's best (epoch %d) has %s; the best "
                "weights will be those selected from here on",
                self.out_dir / BEST_DIR,
                val_top1,
                self.best_epoch + 1,
                self.best_metric,
            )

    # ------------------------------------------------------------------ the training loop
    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _move_inputs(self, inputs: torch.Tensor) -> torch.Tensor:
        # Both are no-ops when a DeviceLoader already delivered the right device and layout.
        inputs = inputs.to(self.device, non_blocking=True)
        if self.config.channels_last and inputs.dim() == 4:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return inputs

    def _to_device(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return self._move_inputs(batch[0]), batch[1].to(self.device, non_blocking=True)

    def _train_epoch(self, loader: Iterable[Any]) -> dict[str, float]:
        cfg = self.config
        module = self._train_module  # in training mode since fit's call before on_epoch_start
        accum, n_batches = cfg.grad_accum_steps, self.batches_per_epoch
        full_groups_end = n_batches - n_batches % accum  # batches in complete accumulation groups
        # Running sums stay on the device; reading them is a sync, done every `sync_every` steps.
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        sync_every = 1 if self.device.type == "cpu" else cfg.progress_every  # a CPU "sync" is free
        mark_step = getattr(torch.compiler, "cudagraph_mark_step_begin", None) if cfg.compile else None
        seen, window_start, lr = 0, 0, self.lr
        self.running_metrics = {
            "batches": 0,
            "loss": math.nan,
            "top1": math.nan,
            "images_per_s": 0.0,
            "window_loss": math.nan,
        }
        self._window_totals = (0.0, 0)  # loss sum and images at the last refresh
        start = time.perf_counter()
        for i, batch in enumerate(loader):
            if i == n_batches:
                break
            self.batch_index = i
            inputs, targets = self._to_device(batch)
            step_now = (i + 1) % accum == 0 or i + 1 == n_batches
            group = accum if i < full_groups_end else n_batches - full_groups_end
            no_sync = (
                self._ddp.no_sync() if self._ddp is not None and not step_now else contextlib.nullcontext()
            )
            if mark_step is not None:
                mark_step()  # tells CUDA graphs a new iteration starts (compile mode reduce-overhead)
            with no_sync:
                with self._autocast():
                    logits = module(inputs)
                    targets, classes = _split_targets(targets, logits, check_values=i == 0)
                    loss = self.training_loss(logits, targets, inputs)
                # Mean over the accumulation group, so the gradient is that of one big batch.
                scaled = loss / group if group > 1 else loss
                (self.scaler.scale(scaled) if self.scaler is not None else scaled).backward()
            if step_now:
                lr = self.lr
                self._optimizer_step()
            loss_sum.add_(loss.detach(), alpha=targets.shape[0])
            correct.add_((logits.detach().argmax(1) == classes).sum())
            seen += targets.shape[0]
            if (i + 1) % sync_every == 0 or i + 1 == n_batches:
                self._refresh_running(loss_sum, correct, seen, i + 1, window_start, start)
                window_start = i + 1
            self._call("on_batch_end")
        elapsed = time.perf_counter() - start
        totals = torch.stack(
            [loss_sum, correct.to(loss_sum.dtype), torch.tensor(float(seen), device=self.device)]
        )
        distributed.all_reduce_sum([totals])
        loss_total, correct_total, count = totals.tolist()
        return {
            "lr": lr,
            "train_loss": loss_total / count,
            "train_top1": correct_total / count,
            "time_s": elapsed,
            "images_per_s": count / elapsed,
        }

    def _refresh_running(
        self,
        loss_sum: torch.Tensor,
        correct: torch.Tensor,
        seen: int,
        batches: int,
        window_start: int,
        start: float,
    ) -> None:
        loss_total, correct_total = torch.stack([loss_sum, correct.to(loss_sum.dtype)]).tolist()
        if not math.isfinite(loss_total):
            where = (
                f"batch {batches}" if batches - window_start == 1 else f"batches {window_start + 1}-{batches}"
            )
            raise NonFiniteLossError(
                f"the training loss became {loss_total} in epoch {self.epoch + 1} at {where} "
                f"(after {self.global_step} optimizer steps); training stopped and no checkpoint was written "
                "(lower the lr, set grad_clip, or check the inputs)",
                epoch=self.epoch,
                step=self.global_step,
            )
        previous_loss, previous_seen = self._window_totals
        self._window_totals = (loss_total, seen)
        self.running_metrics = {
            "batches": batches,
            "loss": loss_total / seen,
            "top1": correct_total / seen,
            "images_per_s": seen / max(time.perf_counter() - start, 1e-9),
            # The batches since the last refresh alone: each step on a CPU, every progress_every on a GPU.
            "window_loss": (loss_total - previous_loss) / (seen - previous_seen),
        }

    def _optimizer_step(self) -> None:
        cfg, optimizer = self.config, self.optimizer
        if cfg.grad_clip is not None:
            if self.scaler is not None:
                self.scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
            nn.utils.clip_grad_norm_(self._params, cfg.grad_clip)
        if self.scaler is not None:
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        if self.ema is not None:
            self._update_ema()
        self.global_step += 1

    @torch.no_grad()
    def _update_ema(self) -> None:
        # The averaging function is PyTorch's own (one foreach lerp); AveragedModel.update_parameters
        # is bypassed because it reads its step counter back from the device twice per call, a
        # GPU sync every step. The counter is kept on the host instead.
        if self._ema_updates == 0:
            torch._foreach_copy_(self._ema_tensors, self._model_tensors)
        else:
            self.ema.multi_avg_fn(self._ema_tensors, self._model_tensors, None)  # type: ignore[union-attr]
        self.ema.n_averaged.add_(1)  # type: ignore[union-attr]
        self._ema_updates += 1

    def _select(self, top1: float) -> None:
        if self.best_metric is None or top1 > self.best_metric:
            self.best_metric, self.best_epoch = top1, self.epoch
            self.best_state = {k: v.detach().clone() for k, v in self._evaluated_model().state_dict().items()}

    def _finish(self) -> None:
        if self.best_state is not None and self.config.restore_best:
            self.model.load_state_dict(self.best_state)
            if self.is_main_process:
                logger.info(
                    "selected the weights of epoch %d (val top-1 %.2f%%)",
                    self.best_epoch + 1,
                    100 * self.best_metric,
                )
        elif self.ema is not None:
            self.model.load_state_dict(self.ema.module.state_dict())

    def _log_epoch(self, row: Mapping[str, float]) -> None:
        if not self.is_main_process:
            return
        text = (
            f"epoch {row['epoch']}/{self.config.epochs}: "
            f"train loss {row['train_loss']:.4f} top-1 {100 * row['train_top1']:.2f}%"
        )
        if "val_top1" in row:
            text += f" | val loss {row['val_loss']:.4f} top-1 {100 * row['val_top1']:.2f}%"
            if "val_top1_tta" in row:
                text += f" (flip-TTA {100 * row['val_top1_tta']:.2f}%)"
        text += f" | {row['time_s']:.1f} s, {row['images_per_s']:,.0f} img/s"
        logger.info(text)

    def _write_config(self) -> None:
        if self.out_dir is None:
            return
        text = json.dumps(self.config.to_dict(), indent=2) + "\n"
        atomic_write(self.out_dir / TRAIN_CONFIG_NAME, text, what="the training configuration")

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    # ------------------------------------------------------------------ checkpoint contents
    def checkpoint_state(self) -> dict[str, Any]:
        """Everything needed to continue this fit exactly, as plain values and tensors.

        Written by :class:`~resnetzoo.train.callbacks.ModelCheckpoint` after an epoch.
        """
        return {
            "epoch": self.epoch + 1,
            "step": self.global_step,
            "steps_per_epoch": self.steps_per_epoch,
            "model": self.model.state_dict(),
            "model_name": getattr(self.model, "model_name", None),
            "model_kwargs": _plain(getattr(self.model, "model_kwargs", {})),
            # What the weights are, so that the checkpoint alone can be used (resnetzoo predict --checkpoint).
            "pretrained_cfg": _record_dict(self.model),
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else {},
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else {},
            "grad_scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "rng": self._rng_states,
            "loader": {"epoch": self.epoch + 1, "seed": self._loader_seed},
            "config": self.config.to_dict(),
            "history": self.history,
            "best": {"metric": self.best_metric, "epoch": self.best_epoch},
            "stopped": self.should_stop,
            "callbacks": {type(cb).__name__: s for cb in self.callbacks if (s := cb.state_dict())},
        }

    # ------------------------------------------------------------------ evaluation
    def _evaluated_model(self) -> nn.Module:
        # During fit the EMA (if any) is what is validated and selected; afterwards `model`
        # holds the selected weights.
        return self.ema.module if self._fitting and self.ema is not None else self.model

    def _eval_forward(self) -> nn.Module:
        module = self._evaluated_model()
        if not self.config.compile:
            return module
        if id(module) not in self._compiled:
            self._compiled[id(module)] = torch.compile(module, mode=self.config.compile_mode)
        return self._compiled[id(module)]

    @torch.no_grad()
    def _evaluate(self, loader: Iterable[Any], sharded: bool, limit: int | None) -> dict[str, float]:
        module = self._eval_forward()
        evaluated = self._evaluated_model()
        was_training = evaluated.training
        evaluated.eval()
        loss_sum = torch.zeros((), device=self.device, dtype=torch.float64)
        counts = torch.zeros(4, device=self.device, dtype=torch.int64)  # top-1, top-5, TTA top-1, examples
        try:
            for i, batch in enumerate(loader):
                if limit is not None and i == limit:
                    break
                inputs, targets = self._to_device(batch)
                with self._autocast():
                    # A copy: under CUDA graphs the next call would overwrite the output buffer.
                    logits = module(inputs).to(torch.float32, copy=True)
                targets, classes = _split_targets(targets, logits, check_values=i == 0)
                loss_sum.add_(F.cross_entropy(logits, targets, reduction="sum"))
                top = logits.topk(min(5, logits.shape[1]), dim=1).indices  # (B, k)
                hits = top == classes[:, None]
                counts[0].add_(hits[:, 0].sum())
                counts[1].add_(hits.any(dim=1).sum())
                if self.config.tta:
                    with self._autocast():
                        mirrored = module(inputs.flip(3)).float()  # (B, C, H, W): flip W
                    counts[2].add_(((logits + mirrored).argmax(1) == classes).sum())
                counts[3].add_(targets.shape[0])
        finally:
            evaluated.train(was_training)
        if sharded:
            distributed.all_reduce_sum([loss_sum, counts])
        top1, top5, tta, count = counts.tolist()
        if count == 0:
            raise ValueError("the evaluation loader yielded no batches")
        metrics = {"loss": loss_sum.item() / count, "top1": top1 / count, "top5": top5 / count}
        if self.config.tta:
            metrics["top1_tta"] = tta / count
        return metrics

    def validate(self, loader: Iterable[Any]) -> dict[str, float]:
        """Evaluate ``model`` on ``loader`` (at most ``limit_eval_batches`` batches).

        Returns:
            ``loss`` (mean cross-entropy without label smoothing), ``top1`` and ``top5`` (fractions;
            top-k with k = min(5, classes)), and ``top1_tta`` (mirror-averaged logits) when
            ``config.tta``.

        Raises:
            ValueError: If the loader yields no batches.
        """
        check_evaluation_loader(loader, "Trainer.validate()", in_order=False)
        return self._run_evaluation(loader, self.config.limit_eval_batches)

    def _run_evaluation(self, loader: Iterable[Any], limit: int | None) -> dict[str, float]:
        self._setup_distributed()
        seed, world_size = self.config.seed or 0, self.dist.world_size
        loader, limit = limit_evaluation(loader, limit, seed=seed, world_size=world_size)
        prepared, sharded = self._prepare(loader, train=False)
        return self._evaluate(prepared, sharded, limit)

    def test(self, loader: Iterable[Any]) -> dict[str, float]:
        """Evaluate ``model`` on the whole test split, once, after model selection.

        Same metrics as :meth:`validate`, never cut short by ``limit_eval_batches``. Keep the
        test split out of :meth:`fit`: choosing anything by test accuracy makes it a validation
        score. With ``out_dir``, the result is written to ``out_dir/test_metrics.json``, and its
        scores into the record of ``out_dir/best/`` when the model holds those weights (see
        :mod:`resnetzoo.train.run`).

        Raises:
            ValueError: If the loader yields no batches.
        """
        check_evaluation_loader(loader, "Trainer.test()", in_order=False)
        metrics = self._run_evaluation(loader, None)
        if self.is_main_process:
            logger.debug("test: %s", ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
            if self.out_dir is not None:
                # best/ gets the scores only if the model holds its weights: after fit restored them.
                holds_best = self.best_epoch is None or self.config.restore_best
                write_test_metrics(self.out_dir, metrics, self.model if holds_best else None)
        return metrics

    @torch.no_grad()
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
        module = self.model
        was_training = module.training
        module.eval()
        outputs = []
        try:
            for batch in loader:
                inputs = self._move_inputs(batch[0] if isinstance(batch, (tuple, list)) else batch)
                with self._autocast():
                    logits = module(inputs).float()
                    if self.config.tta:
                        logits = (logits + module(inputs.flip(3)).float()) / 2
                outputs.append(logits.softmax(dim=1) if probabilities else logits)
        finally:
            module.train(was_training)
        return torch.cat(outputs).cpu() if outputs else torch.empty(0)


def _split_targets(
    targets: torch.Tensor, logits: torch.Tensor, *, check_values: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss targets, class of each example)`` for hard or soft targets.

    Hard targets are class indices ``(B,)``. Soft targets are class probabilities ``(B, C)``, as mixup
    and cutmix make them; the cross-entropy takes them as they are (``nn.CrossEntropyLoss`` does), and
    accuracy counts an example as right when the top prediction is its most probable class, as timm
    reports mixup training. Compared against the argmax of the logits as they were, one-hot targets
    made every (B, B) pair a hit: a train top-1 of 300%.

    Args:
        targets: A batch's targets, on the device.
        logits: The model's outputs for the batch, ``(B, C)``.
        check_values: Also check that soft targets are probabilities (one read from the device: done on
            the first batch of a pass only).

    Raises:
        ValueError: If the targets are neither ``(B,)`` integers nor ``(B, C)`` floats, or soft targets
            hold a negative value or a row that does not sum to 1 (multi-label 0/1 targets, say).
    """
    if targets.dim() == 1 and not targets.is_floating_point() and targets.dtype != torch.bool:
        return targets, targets
    shape, (batch, classes) = tuple(targets.shape), tuple(logits.shape)
    if targets.is_floating_point() and shape == (batch, classes):
        targets = targets.to(logits.dtype if logits.is_floating_point() else torch.float32)
        if check_values:
            rows = targets.float().sum(dim=1)
            if bool((targets < 0).any() | ((rows - 1).abs() > 1e-3).any()):
                raise ValueError(
                    "soft targets must be class probabilities: non-negative, each row summing to 1; this "
                    f"batch's rows sum to {rows.min().item():.4g}..{rows.max().item():.4g} (for several "
                    "labels per image, train with a loss of your own, not this Trainer's cross-entropy)"
                )
        return targets, targets.argmax(dim=1)
    raise ValueError(
        f"targets must be class indices of shape ({batch},) and an integer dtype, or class probabilities "
        f"of shape ({batch}, {classes}) and a float dtype (mixup, cutmix); got {targets.dtype} {shape}"
    )


def _check_state_fits(model: nn.Module, state: Any, path: Path) -> None:
    """Raise before anything is copied when ``state`` does not fit ``model``.

    ``load_state_dict`` copies the tensors that fit before it reports the rest, which would leave
    the caller's model half overwritten by a checkpoint of another architecture.
    """
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path} does not fit this model: its 'model' entry is not a state dict")
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [
        f"{k} {list(state[k].shape)} in the checkpoint vs {list(own[k].shape)} in the model"
        for k in own
        if isinstance(state.get(k), torch.Tensor) and state[k].shape != own[k].shape
    ]
    problems = [
        f"{label} ({len(keys)}): {', '.join(keys[:5])}{', ...' if len(keys) > 5 else ''}"
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
        if keys
    ]
    if problems:
        label = getattr(model, "model_name", None) or type(model).__name__
        raise CheckpointError(
            f"{path} does not fit this model ({label}); nothing was loaded. " + "; ".join(problems)
        )


def _record_dict(model: nn.Module) -> dict[str, Any] | None:
    record = getattr(unwrap_model(model), "pretrained_cfg", None)
    return record.to_dict() if isinstance(record, Weights) else None


def _same(a: Any, b: Any) -> bool:
    # Tuples come back from some paths as lists; compare them as sequences.
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b
