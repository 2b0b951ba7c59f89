"""The Trainer's state: what a checkpoint holds, and resuming a fit from one.

``_StateMixin`` builds the checkpoint dict (:meth:`Trainer.checkpoint_state
<resnetzoo.Trainer.checkpoint_state>`, written by :class:`~resnetzoo.train.ModelCheckpoint`) and
restores it: weights, optimizer, schedule, scaler, EMA, history, model selection, callbacks and the
random generators, after checking that the checkpoint fits this model and run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError
from ..hub.save import unwrap_model
from ..models._builder import build_kwargs
from ..models.weights import Weights
from .checkpoint import find_latest_checkpoint, read_checkpoint, restore_rng_state
from .config import trajectory_fields

__all__: list[str] = []

# The Trainer's messages come from one logger, whichever of its modules speaks.
logger = logging.getLogger("resnetzoo.train.trainer")


class _StateMixin:
    """Checkpoint contents and resume, for :class:`~resnetzoo.Trainer`."""

    def _checkpoint_state(self) -> dict[str, Any]:
        record = getattr(unwrap_model(self.model), "pretrained_cfg", None)
        record = record if isinstance(record, Weights) else None
        return {
            "epoch": self.epoch + 1,
            "step": self.global_step,
            "steps_per_epoch": self.steps_per_epoch,
            "model": self.model.state_dict(),
            # What the model and its weights are, constructor arguments included, so that the checkpoint
            # alone can be used (resnetzoo predict --checkpoint).
            "pretrained_cfg": record.to_dict() if record is not None else None,
            # Read off the record, for resnetzoo 0.2.0 and older, which read them here.
            "model_name": record.architecture if record is not None else None,
            "model_kwargs": _plain(build_kwargs(record)) if record is not None else {},
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else {},
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else {},
            "grad_scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "rng": self._rng_states,
            "loader": {"epoch": self.epoch + 1, "seed": self._loader_seed},
            "config": self.config.to_dict(),
            "data": getattr(self, "_data_fingerprint", None),
            "history": self.history,
            "best": {"metric": self.best_metric, "epoch": self.best_epoch},
            "stopped": self.should_stop,
            "callbacks": {type(cb).__name__: s for cb in self.callbacks if (s := cb.state_dict())},
        }

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
        saved_name, own_name = ckpt.get("model_name"), getattr(unwrap_model(self.model), "model_name", None)
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
        # Lengthening a run (epochs) is what a resume is for; any other difference mixes two runs.
        differs = _data_differences(ckpt.get("data"), getattr(self, "_data_fingerprint", None))
        differs += [f"{k}: {saved[k]!r} -> {current[k]!r}" for k in changed if k != "epochs"]
        if differs and cfg.resume_mismatch != "allow":
            raise CheckpointError(
                f"{path} belongs to another run: {'; '.join(differs)}. Nothing was loaded; resume with the "
                "same data and settings, start a new run in another out_dir, or continue anyway with "
                "resume_mismatch='allow' (metrics.csv and best/ would then mix the two)"
            )
        if differs:
            logger.warning("resuming %s on other data (%s)", path, "; ".join(differs))
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
        run = self.run_folder
        best = run.read_best() if self.best_epoch is not None and run is not None else None
        if best is None:
            return
        state, val_top1 = best
        if val_top1 == self.best_metric:
            self.best_state = {k: v.to(self.device) for k, v in state.items()}
        else:
            logger.warning(
                "%s holds weights of validation top-1 %s, the checkpoint's best (epoch %d) has %s; the best "
                "weights will be those selected from here on",
                run.best_dir,
                val_top1,
                self.best_epoch + 1,
                self.best_metric,
            )


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    # model_kwargs may hold classes (norm_layer=...); checkpoints keep only plain values, and nested
    # lists of them (a pruned network's inner_channels).
    return {k: v for k, v in values.items() if _is_plain(v)}


def _is_plain(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    return isinstance(value, (str, int, float, bool, type(None)))


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


def _data_differences(saved: Any, current: Any) -> list[str]:
    """What differs between a checkpoint's data fingerprints and this run's, one entry per difference."""
    if not isinstance(saved, Mapping) or not isinstance(current, Mapping):
        return []  # a checkpoint written before fingerprints (0.1.0), or a fit without them
    out = []
    for split in ("train", "val"):
        old, new = saved.get(split), current.get(split)
        if old is None or new is None:
            if (old is None) != (new is None):
                out.append(f"{split} data: " + ("none -> given" if old is None else "given -> none"))
            continue
        for key in sorted(old.keys() & new.keys()):
            if not _same(old[key], new[key]):
                what = "content (labels and images)" if key == "content_sha256" else key
                shown = "" if key == "content_sha256" else f" {old[key]!r} -> {new[key]!r}"
                out.append(f"{split} data {what}{shown}")
    return out


def _same(a: Any, b: Any) -> bool:
    # Tuples come back from some paths as lists; compare them as sequences.
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b
