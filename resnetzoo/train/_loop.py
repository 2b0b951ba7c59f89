"""The epoch loop: training steps, validation, model selection, and the callbacks around them.

The training step is the plain PyTorch loop (autocast forward, backward, optimizer step, scheduler
step) with everything else kept out of its way: metrics are summed on the device and read back only
every ``TrainConfig.progress_every`` steps and at the end of an epoch, so on a GPU the loop never
waits for the device inside an epoch.

An epoch's throughput (``time_s``, ``images_per_s`` in the history) counts the training steps alone;
the validation pass and the end-of-epoch work (selecting the best weights, checkpoints, ``best/``,
metrics.csv, curves, the callbacks) are timed apart and printed beside it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from ..errors import NonFiniteLossError
from . import distributed
from ._setup import set_loader_epoch
from .checkpoint import capture_rng_state
from .evaluate import split_targets

__all__: list[str] = []

# The Trainer's messages come from one logger, whichever of its modules speaks.
logger = logging.getLogger("resnetzoo.train.trainer")

# The clock of every duration the loop reports (a test swaps in a fake one).
_now = time.perf_counter


class _LoopMixin:
    """The epochs of a fit, for :class:`~resnetzoo.Trainer`."""

    def _run_epochs(
        self,
        start_epoch: int,
        train_loader: Iterable[Any],
        val_loader: Iterable[Any] | None,
        val_sharded: bool,
        val_limit: int | None,
    ) -> None:
        cfg = self.config
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
                val_s = None
                if val_loader is not None:
                    started = _now()
                    metrics = self._evaluate(val_loader, val_sharded, val_limit)  # ends in a sync
                    val_s = _now() - started
                ending = _now()
                if val_loader is not None:
                    self._call("on_validation_end", metrics)
                    row.update({f"val_{k}": v for k, v in metrics.items()})
                    self._select(metrics["top1"])
                self.history.append(row)
                # The one point where the generators are captured for the checkpoint: after
                # everything this epoch draws, before anything the next one draws.
                self._rng_states = distributed.all_gather_objects(capture_rng_state())
                self._call("on_epoch_end")
                self._log_epoch(row, val_s, _now() - ending)
        finally:
            self._fitting = False
        self._finish()
        self._call("on_fit_end")

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
        start = _now()
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
                    targets, classes = split_targets(targets, logits, check_values=i == 0)
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
        if self.device.type == "cuda":
            # The steps still queued on the GPU belong to this epoch's time (and nothing after them).
            torch.cuda.synchronize(self.device)
        elapsed = _now() - start
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
            "images_per_s": seen / max(_now() - start, 1e-9),
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

    def _log_epoch(self, row: Mapping[str, float], val_s: float | None, ending_s: float) -> None:
        # Throughput of the training steps alone; validation and the end-of-epoch work apart.
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
        text += f" | train {row['time_s']:.1f} s, {row['images_per_s']:,.0f} img/s"
        if val_s is not None:
            text += f" | val {val_s:.1f} s"
        text += f" | saving {ending_s:.1f} s"
        logger.info(text)

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)
