"""The training configuration: one dataclass, every field documented where it is declared."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, get_type_hints

import torch

from .._validate import (
    check_choice,
    check_fraction,
    check_hinted,
    check_instance,
    check_int,
    check_number,
    check_seed,
    check_str,
)
from ..data import AugmentConfig
from ..errors import ArgumentError

__all__ = [
    "AMP_MODES",
    "COMPILE_MODES",
    "LOGGERS",
    "OPTIMIZERS",
    "SCHEDULES",
    "TRAJECTORY",
    "TrainConfig",
    "trajectory_fields",
]

TRAJECTORY = {"trajectory": True}
"""Field metadata: the field changes the training trajectory, so resuming with another value is not exact
(the Trainer warns, naming it)."""

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("onecycle", "cosine", "multistep", "triangular", "constant")
AMP_MODES = ("auto", "bf16", "fp16", "off")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
LOGGERS = ("csv", "tensorboard", "plot")


@dataclass
class TrainConfig:
    """Everything that decides how :class:`~resnetzoo.Trainer` trains, validated on creation.

    Named, documented settings live in :mod:`resnetzoo.recipes`
    (``get_recipe("fast", epochs=10)``). ``dataclasses.replace(config, lr=0.05)`` derives a
    variant and validates it again.

    Raises:
        ArgumentError: If a field has an impossible value (a ``ValueError``); the message names the
            field and the values it accepts. :class:`~resnetzoo.ArgumentTypeError` (also a
            ``TypeError``) if it is of the wrong type.

    Attributes:
        epochs: passes over the training data
        batch_size: images per step and process when the Trainer builds the loader from a dataset
        limit_train_batches: end each epoch after this many batches (quick runs); None: all
        limit_eval_batches: validate on this many batches of a seeded random subset (not the first ones: data
            is often stored class by class); None: all. test() always sees everything
        optimizer: "sgd" (momentum, Nesterov by default) or "adamw" (decoupled weight decay)
        lr: peak learning rate, reached after warm-up
        momentum: SGD momentum
        nesterov: Nesterov momentum for SGD (Sutskever et al. 2013)
        betas: AdamW moment decay rates
        weight_decay: L2 penalty (SGD) or decoupled decay (AdamW)
        decay_norm_and_bias: Decay norm weights and biases too; off by default because shrinking a BN scale or
            a bias does not regularise the function it computes (Goyal et al. 2017, timm, nanoGPT).
        schedule: "onecycle", "cosine", "multistep", "triangular" or "constant"
        warmup: Linear warm-up: a fraction of all steps if < 1, else a number of epochs. None takes the
            schedule's own default: 0.3 for onecycle (its peak, PyTorch's OneCycleLR default), 0.2 for
            triangular (its peak, near epoch 5 of 24 in Page 2018's cifar10-fast), 0 otherwise.
        milestones: multistep: epochs (fractional allowed) at which the lr is multiplied by gamma; None is 50%
            and 75% of training, the proportions of He et al. 2015 (32k and 48k of 64k iterations).
        gamma: multistep: the lr multiplier at each milestone
        final_lr_factor: cosine/triangular: the lr at the end of training, as a fraction of lr
        label_smoothing: cross-entropy label smoothing (Szegedy et al. 2016)
        grad_clip: clip the global gradient norm to this value; None: no clipping
        grad_accum_steps: batches whose gradients are summed before one optimizer step
        amp: Autocast precision: "bf16", "fp16" (with a GradScaler), "off", or "auto": bf16 on a CUDA GPU that
            supports it, off elsewhere (CPU autocast is slower than fp32 for convolutions).
        channels_last: NHWC memory layout: tensor-core convolutions need no transposes
        compile: torch.compile the model (minutes of warm-up; pays off on long GPU runs)
        compile_mode: torch.compile mode when compile is on: "default", "reduce-overhead" (CUDA graphs: the
            fastest at CIFAR sizes, where launching kernels is the bottleneck), "max-autotune", or
            "max-autotune-no-cudagraphs"; None is "default".
        device: "auto" (CUDA if available, else CPU), or any torch device string
        ema_decay: Decay of an exponential moving average of the weights (and BN statistics); when set, the
            average is what gets validated, selected, tested and returned. None: no EMA.
        seed: seeds torch, random and numpy at the start of fit (and the CLI's and fine_tune's initial
            weights), in [0, 2**63); None leaves them alone
        deterministic: Deterministic algorithms (torch.use_deterministic_algorithms, cuDNN benchmark off) for
            the duration of fit; with it a resumed run is bitwise equal to an uninterrupted one. When off, fit
            turns cuDNN's autotuner on for CUDA (restored afterwards).
        sync_batchnorm: convert BatchNorm to SyncBatchNorm when running on several CUDA GPUs
        out_dir: the run folder: train_config.json, checkpoints/, best/ (the selected model), metrics.csv,
            logs and test_metrics.json (see resnetzoo.train.run); None: nothing is written
        checkpoint_every: write a resumable checkpoint every N epochs (and after the last one)
        keep_checkpoints: keep the newest N epoch checkpoints; best/ is kept separately
        early_stopping_patience: stop after N epochs without a better val top-1
        restore_best: at the end of fit, load the weights of the best validation epoch
        tta: also report top-1 of the average of the image's and its mirror's logits
        progress: a tqdm progress bar per epoch
        progress_every: steps between progress-bar updates (each costs one GPU sync)
        loggers: metric writers in out_dir; tensorboard/plot need optional packages
        augment: What the loaders the Trainer builds (make_loader, the CLI) do to each training batch: random
            crop (crop_padding), horizontal flip, cutout, policy; see resnetzoo.data.AugmentConfig
        recipe: the recipe this config started from (get_recipe sets it), recorded with the trained weights
        resume_mismatch: what a resume does when the checkpoint's data (source, size, classes, split, content)
            or a trajectory setting other than epochs differs from this run's: "refuse" (a CheckpointError
            naming what differs) or "allow" (a warning; the run will not match an uninterrupted one)
    """

    # --- length and batches ---
    epochs: int = field(default=30, metadata=TRAJECTORY)
    batch_size: int = field(default=128, metadata=TRAJECTORY)
    limit_train_batches: int | None = field(default=None, metadata=TRAJECTORY)
    limit_eval_batches: int | None = None

    # --- optimizer ---
    optimizer: str = field(default="sgd", metadata=TRAJECTORY)
    lr: float = field(default=0.1, metadata=TRAJECTORY)
    momentum: float = field(default=0.9, metadata=TRAJECTORY)
    nesterov: bool = field(default=True, metadata=TRAJECTORY)
    betas: tuple[float, float] = field(default=(0.9, 0.999), metadata=TRAJECTORY)
    weight_decay: float = field(default=5e-4, metadata=TRAJECTORY)
    decay_norm_and_bias: bool = field(default=False, metadata=TRAJECTORY)

    # --- learning-rate schedule (stepped once per optimizer step, so exact for any length) ---
    schedule: str = field(default="cosine", metadata=TRAJECTORY)
    warmup: float | None = field(default=None, metadata=TRAJECTORY)
    milestones: tuple[float, ...] | None = field(default=None, metadata=TRAJECTORY)
    gamma: float = field(default=0.1, metadata=TRAJECTORY)
    final_lr_factor: float = field(default=0.0, metadata=TRAJECTORY)

    # --- loss and gradients ---
    label_smoothing: float = field(default=0.0, metadata=TRAJECTORY)
    grad_clip: float | None = field(default=None, metadata=TRAJECTORY)
    grad_accum_steps: int = field(default=1, metadata=TRAJECTORY)

    # --- speed ---
    amp: str = field(default="auto", metadata=TRAJECTORY)
    channels_last: bool = True
    compile: bool = False
    compile_mode: str | None = None
    device: str = "auto"

    # --- weight averaging ---
    ema_decay: float | None = field(default=None, metadata=TRAJECTORY)

    # --- reproducibility ---
    seed: int | None = field(default=0, metadata=TRAJECTORY)
    deterministic: bool = False

    # --- distributed (torchrun) ---
    sync_batchnorm: bool = field(default=False, metadata=TRAJECTORY)

    # --- outputs, checkpoints, stopping ---
    out_dir: str | None = None
    checkpoint_every: int = 1
    keep_checkpoints: int = 3
    early_stopping_patience: int | None = None
    restore_best: bool = True

    # --- evaluation ---
    tta: bool = False

    # --- what the user sees ---
    progress: bool = True
    progress_every: int = 25
    loggers: tuple[str, ...] = LOGGERS

    # --- augmentation ---
    augment: AugmentConfig = field(default_factory=AugmentConfig, metadata=TRAJECTORY)

    # --- where it comes from ---
    recipe: str | None = None

    # --- resuming ---
    resume_mismatch: str = "refuse"

    def __post_init__(self) -> None:
        if isinstance(self.device, torch.device):
            self.device = str(self.device)
        _check_types(self)
        if self.milestones is not None:
            self.milestones = tuple(float(m) for m in self.milestones)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_choice("amp", self.amp, AMP_MODES)
        _check_choice("resume_mismatch", self.resume_mismatch, RESUME_MISMATCH)
        if self.compile_mode is not None:
            _check_choice("compile_mode", self.compile_mode, COMPILE_MODES)
        for name in self.loggers:
            _check_choice("loggers", name, LOGGERS)
        counts = ("epochs", "batch_size", "grad_accum_steps", "checkpoint_every", "keep_checkpoints")
        for name in (*counts, "progress_every"):
            check_int(f"TrainConfig.{name}", getattr(self, name), minimum=1)
        for name in ("early_stopping_patience", "limit_train_batches", "limit_eval_batches"):
            check_int(f"TrainConfig.{name}", getattr(self, name), minimum=1, none=True)
        check_number("TrainConfig.lr", self.lr, minimum=0, exclusive_min=True)
        check_fraction("TrainConfig.momentum", self.momentum, exclusive_max=True)
        _check(
            not (self.nesterov and self.optimizer == "sgd" and self.momentum == 0),
            "nesterov",
            self.nesterov,
            "False when momentum is 0 (Nesterov momentum needs momentum > 0)",
        )
        _check(len(self.betas) == 2, "betas", self.betas, "two numbers in [0, 1)")
        for i, beta in enumerate(self.betas):
            check_fraction(f"TrainConfig.betas[{i}]", beta, exclusive_max=True)
        check_number("TrainConfig.weight_decay", self.weight_decay, minimum=0)
        if self.warmup is not None:
            _check(self.warmup >= 0, "warmup", self.warmup, "None, a fraction in [0, 1) or epochs >= 1")
            _check(
                self.warmup < 1 or self.warmup < self.epochs,
                "warmup",
                self.warmup,
                f"fewer epochs than epochs={self.epochs}",
            )
        if self.milestones is not None:
            ms = self.milestones
            _check(
                all(m > 0 for m in ms) and list(ms) == sorted(ms),
                "milestones",
                ms,
                "increasing epochs > 0",
            )
            # A milestone at or after the last epoch would decay the lr once training is over: nothing.
            _check(
                self.schedule != "multistep" or all(m < self.epochs for m in ms),
                "milestones",
                ms,
                f"epochs before the end of training (< epochs={self.epochs}); a later one never takes effect",
            )
        check_number("TrainConfig.gamma", self.gamma, minimum=0, exclusive_min=True)
        check_fraction("TrainConfig.final_lr_factor", self.final_lr_factor)
        check_fraction("TrainConfig.label_smoothing", self.label_smoothing, exclusive_max=True)
        check_number("TrainConfig.grad_clip", self.grad_clip, minimum=0, exclusive_min=True, none=True)
        check_fraction(
            "TrainConfig.ema_decay",
            self.ema_decay,
            exclusive_max=True,
            none=True,
            accepted="None (no EMA) or a number in [0, 1), e.g. 0.999",
        )
        check_seed("TrainConfig.seed", self.seed, none=True)
        if self.out_dir is not None:
            # "" would scatter checkpoints, best/ and metrics.csv into the current directory.
            check_str("TrainConfig.out_dir", self.out_dir, accepted="None (write nothing) or a folder path")
        if self.recipe is not None:
            check_str("TrainConfig.recipe", self.recipe, accepted="None or a recipe's name")
        if self.device != "auto":
            try:
                torch.device(self.device)
            except RuntimeError:
                raise ArgumentError(
                    f"TrainConfig.device must be 'auto' or a torch device such as 'cpu', 'cuda', "
                    f"'cuda:1'; got {self.device!r}",
                    param="TrainConfig.device",
                ) from None

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain Python values (what a checkpoint and ``train_config.json`` store)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["augment"] = dataclasses.asdict(self.augment)
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        """Rebuild a config from :meth:`to_dict` output (lists from JSON become tuples).

        Raises:
            ValueError: If a key is not a field, or a value is invalid.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ArgumentError(f"unknown TrainConfig field(s) {unknown}; known fields: {sorted(names)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


RESUME_MISMATCH = ("refuse", "allow")


def trajectory_fields() -> tuple[str, ...]:
    """The :class:`TrainConfig` fields marked :data:`TRAJECTORY`: those a resume must not change."""
    return tuple(f.name for f in dataclasses.fields(TrainConfig) if f.metadata.get("trajectory"))


def _augment_from_mapping(values: Mapping[str, Any]) -> AugmentConfig:
    """An AugmentConfig from a mapping, its errors naming ``TrainConfig.augment.<field>``."""
    names = [spec.name for spec in dataclasses.fields(AugmentConfig)]
    unknown = sorted(str(key) for key in values if key not in names)
    if unknown:
        raise ArgumentError(f"TrainConfig.augment has no field {', '.join(unknown)}; its fields are {names}")
    try:
        return AugmentConfig(**values)
    except ArgumentError as err:  # the message starts with the field's name
        raise type(err)(f"TrainConfig.augment.{err}", param=f"TrainConfig.augment.{err.param}") from None


def _check_types(config: TrainConfig) -> None:
    """Check every field against its annotation, e.g. ``int | None``, ``tuple[float, ...]``.

    Without it a string ``"false"`` would switch a flag on, and ``epochs=2.5`` would fail deep
    inside ``fit``. Lists become tuples, numpy scalars Python numbers.

    Raises:
        ArgumentTypeError: Naming the field, the type it needs and the value it got.
    """
    hints = get_type_hints(TrainConfig)
    for spec in dataclasses.fields(config):
        value = getattr(config, spec.name)
        if spec.name == "augment":
            if isinstance(value, Mapping):  # from to_dict(), JSON or TOML
                value = _augment_from_mapping(value)
            what = "a resnetzoo.data.AugmentConfig (or a mapping of its fields)"
            config.augment = check_instance("TrainConfig.augment", value, AugmentConfig, what=what)
            continue
        setattr(config, spec.name, check_hinted(f"TrainConfig.{spec.name}", value, hints[spec.name]))


def _check(ok: bool, name: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ArgumentError(
            f"TrainConfig.{name} must be {allowed}; got {value!r}", param=f"TrainConfig.{name}"
        )


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    check_choice(f"TrainConfig.{name}", value, choices)
