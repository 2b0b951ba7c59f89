"""Evaluation: validation and test passes (loss, top-1, top-5, flip-TTA) and predictions.

``_EvaluationMixin`` holds the :class:`~resnetzoo.Trainer`'s evaluation; :func:`split_targets` reads
hard or soft targets for the training loop and evaluation alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from . import distributed
from ._eval_loaders import limit_evaluation

__all__ = ["split_targets"]


class _EvaluationMixin:
    """Validation, test and prediction passes, for :class:`~resnetzoo.Trainer`."""

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
    def _evaluate(
        self,
        loader: Iterable[Any],
        sharded: bool,
        limit: int | None,
        collect: Callable[[torch.Tensor, torch.Tensor], None] | None = None,
    ) -> dict[str, float]:
        # The one evaluation loop: validate, test and resnetzoo.evaluate (which passes ``collect``, called
        # with each batch's float32 logits (B, C) and classes (B,) to keep per-image results) all run it.
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
                targets, classes = split_targets(targets, logits, check_values=i == 0)
                if collect is not None:
                    collect(logits, classes)
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
        self._evaluated_images = int(count)  # the last pass's, for the record of a test
        metrics = {"loss": loss_sum.item() / count, "top1": top1 / count, "top5": top5 / count}
        if self.config.tta:
            metrics["top1_tta"] = tta / count
        return metrics

    def _run_evaluation(
        self,
        loader: Iterable[Any],
        limit: int | None,
        collect: Callable[[torch.Tensor, torch.Tensor], None] | None = None,
    ) -> dict[str, float]:
        self._setup_distributed()
        seed, world_size = self.config.seed or 0, self.dist.world_size
        loader, limit = limit_evaluation(loader, limit, seed=seed, world_size=world_size)
        prepared, sharded = self._prepare(loader, train=False)
        return self._evaluate(prepared, sharded, limit, collect)

    @torch.no_grad()
    def _predict(self, loader: Iterable[Any], probabilities: bool) -> torch.Tensor:
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


def split_targets(
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
