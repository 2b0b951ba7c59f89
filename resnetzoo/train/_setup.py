"""Setting a fit up: device and precision, optimizer and schedule, seeds, loaders and the EMA.

The functions are public helpers (``resnetzoo.train.trainer`` re-exports them); ``_SetupMixin`` holds
the :class:`~resnetzoo.Trainer`'s own setup steps, run by ``Trainer.fit`` before the first epoch.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader

from .._validate import check_device, check_instance
from ..hub.save import unwrap_model
from . import distributed
from ._eval_loaders import check_evaluation_loader, limit_evaluation
from .checkpoint import list_checkpoints
from .config import TrainConfig
from .run import data_fingerprint, describe_data, trained_record
from .schedules import build_scheduler

__all__ = [
    "build_optimizer",
    "parameter_groups",
    "resolve_amp",
    "resolve_device",
    "seed_everything",
    "set_loader_epoch",
]

# The Trainer's messages come from one logger, whichever of its modules speaks.
logger = logging.getLogger("resnetzoo.train.trainer")


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


def loader_targets(loader: Iterable[Any] | None) -> torch.Tensor | None:
    """The class labels behind a loader, when they are known on the host without reading images.

    Looks for a ``targets`` tensor on the loader's data set (:class:`~resnetzoo.data.TensorImageDataset`
    and its subsets) or the labels of a :class:`torch.utils.data.TensorDataset` of (images, labels);
    None for any other data set (its labels are only known by iterating it).
    """
    dataset = getattr(loader, "dataset", None)
    targets = getattr(dataset, "targets", None)
    if targets is None and isinstance(dataset, torch.utils.data.TensorDataset) and len(dataset.tensors) == 2:
        targets = dataset.tensors[1]
    if not (isinstance(targets, torch.Tensor) and targets.device.type == "cpu" and targets.numel()):
        return None
    if targets.is_floating_point() or targets.dim() != 1:
        return None  # class probabilities (one-hot, soft targets): their width is checked by the loss
    return targets


def check_labels_fit(
    loader: Iterable[Any] | None, num_classes: Any, name: str, *, outputs: str | None = None
) -> None:
    """Refuses a loader whose labels reach beyond ``num_classes``, before any work.

    An out-of-range label fails deep in the loss on CPU ("Target 57 is out of bounds") and is a
    device-side assert that ends the process's use of a GPU, so labels are checked once, where
    they are known on the host (:func:`loader_targets`).

    Args:
        loader: The loader (or None).
        num_classes: The model's outputs.
        name: The data as the message calls it, e.g. ``"training"``.
        outputs: How the message names where ``num_classes`` comes from; the default says the model
            has that many outputs and how to give it more.
    """
    targets = loader_targets(loader)
    if targets is None or not isinstance(num_classes, int) or num_classes < 1:
        return
    highest, lowest = int(targets.max()), int(targets.min())
    if lowest < 0:
        raise ValueError(f"the {name} data has the label {lowest}: labels are class indices, from 0")
    if highest >= num_classes:
        if outputs is not None:
            raise ValueError(
                f"the {name} data has the label {highest}, but {outputs} (labels must be in "
                f"[0, {num_classes})); nothing was changed"
            )
        raise ValueError(
            f"the {name} data has labels up to {highest}, but the model has {num_classes} outputs "
            f"(labels must be in [0, {num_classes})): build the model with num_classes={highest + 1} "
            f"or more, or call model.reset_classifier({highest + 1})"
        )


class _SetupMixin:
    """The Trainer's setup steps: argument checks, process group, global switches, loaders, optimizer."""

    def _check_fit_arguments(
        self, train: Iterable[Any], val: Iterable[Any] | None, resume: str | os.PathLike[str] | None
    ) -> None:
        cfg = self.config
        check_instance("resume", resume, (str, os.PathLike), what="'auto' or a checkpoint path", none=True)
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

    def _set_up_fit(
        self, train: Iterable[Any], val: Iterable[Any] | None
    ) -> tuple[Iterable[Any], Iterable[Any] | None, bool, int | None]:
        """Seeds, sharded loaders, counts, optimizer and the trained weights' record, for a fresh fit.

        Returns:
            The training loader, the validation loader (or None), whether it is sharded, and the
            number of validation batches to use (None: all).
        """
        cfg = self.config
        self._reset_progress()
        # What a checkpoint records of the data, and a resume compares (before sharding changes it).
        self._data_fingerprint = {"train": data_fingerprint(train), "val": data_fingerprint(val)}
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
        return train_loader, val_loader, val_sharded, val_limit

    def _setup_distributed(self) -> None:
        distributed.init_process_group(self.dist, self.device)

    def _check_labels(self, loader: Iterable[Any] | None, name: str) -> None:
        check_labels_fit(loader, getattr(self.model, "num_classes", None), name)

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
