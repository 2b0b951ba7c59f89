"""One training run in its own process, for the SIGKILL-resume and torchrun tests.

    python tests/train_worker.py OUT_DIR RESULT [--epochs N] [--kill-at EPOCH:BATCH[:RANK]] [--resume]
    torchrun --standalone --nproc_per_node=2 tests/train_worker.py OUT_DIR RESULT --norm group

Writes ``RESULT`` (``RESULT.rankN`` under torchrun): the final weights, the history, the epoch this
process started training at and torchrun's restart count.
``--kill-at 1:3`` sends this process SIGKILL after batch 3 of epoch 1 (both from 0), the way a
pre-empted job dies: no exception, no cleanup, no flushing. ``--kill-at 1:3:1`` kills rank 1 only.
It fires on a job's first attempt only (``TORCHELASTIC_RESTART_COUNT`` unset or 0), so under
``torchrun --max-restarts 1`` the restarted workers run to the end.
"""

from __future__ import annotations

import argparse
import os
import signal

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset
from train_helpers import synthetic_images, tiny_resnet

from resnetzoo.train import Callback, TrainConfig, Trainer


def restart_count() -> int:
    """How many times torchrun has restarted this job's workers (0 outside torchrun)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))


class KillAt(Callback):
    def __init__(self, epoch: int, batch: int, rank: int | None = None) -> None:
        self.epoch, self.batch, self.rank = epoch, batch, rank

    def on_batch_end(self, trainer: Trainer) -> None:
        if restart_count() > 0 or (self.rank is not None and trainer.dist.rank != self.rank):
            return
        if (trainer.epoch, trainer.batch_index) == (self.epoch, self.batch):
            os.kill(os.getpid(), signal.SIGKILL)


class FirstEpoch(Callback):
    """Notes the epoch this process started training at: 0, or where it resumed."""

    first_epoch: int | None = None

    def on_epoch_start(self, trainer: Trainer) -> None:
        if self.first_epoch is None:
            self.first_epoch = trainer.epoch


def train(
    out_dir: str,
    *,
    epochs: int = 4,
    batch_size: int = 32,
    kill_at: tuple[int, ...] | None = None,
    resume: bool = False,
    norm: str = "batch",
    distributed_sampler: bool = False,
) -> Trainer:
    """Train the tiny model on the synthetic task; the tests also call this in their own process."""
    x, y = synthetic_images(320, seed=0)
    train_set, val_set = TensorDataset(x[:256], y[:256]), TensorDataset(x[256:], y[256:])
    if distributed_sampler:  # the order a torchrun job splits between its processes
        sampler = DistributedSampler(train_set, num_replicas=1, rank=0, shuffle=True, seed=0)
        loader = DataLoader(train_set, batch_size=batch_size, sampler=sampler)
    else:
        loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    val = DataLoader(val_set, batch_size=32)
    config = TrainConfig(
        epochs=epochs,
        lr=0.05,
        schedule="onecycle",
        label_smoothing=0.1,
        ema_decay=0.9,
        deterministic=True,
        device="cpu",
        progress=False,
        out_dir=out_dir,
        loggers=("csv",),
    )
    callbacks: list[Callback] = [FirstEpoch()] + ([KillAt(*kill_at)] if kill_at else [])
    trainer = Trainer(tiny_resnet(norm), config, callbacks)
    trainer.fit(loader, val, resume="auto" if resume else None)
    return trainer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("result")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--kill-at", default=None, help="EPOCH:BATCH[:RANK], from 0")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--norm", choices=("batch", "group"), default="batch")
    parser.add_argument("--distributed-sampler", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)  # tiny model; and the same reductions as the tests' own process
    trainer = train(
        args.out_dir,
        epochs=args.epochs,
        batch_size=args.batch_size,
        kill_at=tuple(map(int, args.kill_at.split(":"))) if args.kill_at else None,
        resume=args.resume,
        norm=args.norm,
        distributed_sampler=args.distributed_sampler,
    )
    result = args.result if not trainer.dist.is_distributed else f"{args.result}.rank{trainer.dist.rank}"
    first_epoch = next(c.first_epoch for c in trainer.callbacks if isinstance(c, FirstEpoch))
    saved = {"model": trainer.model.state_dict(), "history": trainer.history, "first_epoch": first_epoch}
    torch.save({**saved, "restart_count": restart_count()}, result)
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
