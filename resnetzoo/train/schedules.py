"""Learning-rate schedules, stepped once per optimizer step.

Stepping per optimizer step (not per epoch) makes every schedule exact for any number of
epochs and batches: a warm-up of 0.2 epochs is 0.2 epochs. ``onecycle`` is PyTorch's own
:class:`~torch.optim.lr_scheduler.OneCycleLR`; the others are one closed-form multiplier in a
:class:`~torch.optim.lr_scheduler.LambdaLR`, which, unlike the recursive ("chainable") form of
``CosineAnnealingLR`` or a ``SequentialLR`` of warm-up and decay, has no drift to accumulate and
no hand-over step to get wrong, and whose state is a plain step counter.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable

import torch
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, OneCycleLR

from .config import TrainConfig

__all__ = ["build_scheduler", "lr_multiplier", "milestone_steps", "warmup_steps"]

# Peak positions when TrainConfig.warmup is None (see its comment for the sources).
_DEFAULT_WARMUP = {"onecycle": 0.3, "triangular": 0.2}


def warmup_steps(config: TrainConfig, steps_per_epoch: int) -> int:
    """Number of linear warm-up steps: a fraction of all steps if ``warmup < 1``, else epochs."""
    total = config.epochs * steps_per_epoch
    warmup = config.warmup if config.warmup is not None else _DEFAULT_WARMUP.get(config.schedule, 0.0)
    steps = warmup * total if warmup < 1 else warmup * steps_per_epoch
    return min(round(steps), total - 1)


def milestone_steps(config: TrainConfig, steps_per_epoch: int) -> list[int]:
    """Steps at which ``multistep`` multiplies the lr by ``gamma``."""
    if config.milestones is None:
        total = config.epochs * steps_per_epoch
        return [round(0.5 * total), round(0.75 * total)]
    return [round(m * steps_per_epoch) for m in config.milestones]


def lr_multiplier(config: TrainConfig, steps_per_epoch: int) -> Callable[[int], float]:
    """The lr at optimizer step ``s`` (0-based) as a fraction of ``config.lr``, for LambdaLR schedules.

    Warm-up rises linearly to 1 at step ``W - 1``; after it, ``p = (s - W) / (T - W)`` runs from
    0 towards 1 and the schedule's body applies: cosine ``f + (1 - f)(1 + cos(pi p)) / 2``,
    triangular ``1 - (1 - f) p`` (``f`` = ``final_lr_factor``), multistep ``gamma ** k`` after
    ``k`` milestones, constant 1.

    Raises:
        ValueError: For ``onecycle``, which is not a LambdaLR schedule.
    """
    if config.schedule == "onecycle":
        raise ValueError("onecycle is PyTorch's OneCycleLR, not a multiplier; use build_scheduler")
    total = config.epochs * steps_per_epoch
    warm = warmup_steps(config, steps_per_epoch)
    final = config.final_lr_factor
    milestones = milestone_steps(config, steps_per_epoch)
    schedule, gamma = config.schedule, config.gamma

    def multiplier(step: int) -> float:
        ramp = (step + 1) / warm if step < warm else 1.0
        if schedule == "multistep":
            return ramp * gamma ** bisect.bisect_right(milestones, step)
        if schedule == "constant" or step < warm:
            return ramp
        progress = min((step - warm) / (total - warm), 1.0)
        if schedule == "cosine":
            return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * progress))
        return 1 - (1 - final) * progress  # triangular

    return multiplier


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int
) -> LRScheduler:
    """The scheduler for ``config.schedule``; call its ``step()`` after every optimizer step.

    Args:
        optimizer: The optimizer; its groups' ``lr`` is taken as the peak lr.
        config: The training configuration.
        steps_per_epoch: Optimizer steps per epoch (batches / ``grad_accum_steps``, rounded up).

    Raises:
        ValueError: If ``steps_per_epoch`` is < 1.
    """
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
    if config.schedule == "onecycle":
        total = config.epochs * steps_per_epoch
        warm = warmup_steps(config, steps_per_epoch)
        return OneCycleLR(
            optimizer,
            max_lr=[group["lr"] for group in optimizer.param_groups],
            total_steps=total,
            # OneCycleLR divides by (warm-up steps - 1): a one-step warm-up (runs of 2 to 4 steps,
            # such as a short fine-tuning phase) becomes none, where it would divide by zero.
            pct_start=(warm if warm != 1 else 0) / total,
            anneal_strategy="cos",
            # Momentum stays TrainConfig.momentum: cycling it would silently override that field.
            cycle_momentum=False,
            div_factor=25.0,  # start at lr / 25 and end at lr / 25e4 (PyTorch's defaults, Smith 2018)
            final_div_factor=1e4,
        )
    return LambdaLR(optimizer, lr_multiplier(config, steps_per_epoch))
