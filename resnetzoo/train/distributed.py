"""Data-parallel training across GPUs and machines, launched with ``torchrun``.

``torchrun --nproc_per_node=8 train.py`` starts one process per GPU and sets ``RANK``,
``LOCAL_RANK`` and ``WORLD_SIZE``; the :class:`~resnetzoo.Trainer` reads them, joins the
process group (NCCL on CUDA, Gloo on CPU), wraps the model in
:class:`~torch.nn.parallel.DistributedDataParallel`, gives every process its own shard of the
data, and lets only rank 0 log and write files. The batch size of a loader is per process, so
the global batch is ``batch_size * WORLD_SIZE`` (scale the lr with it, Goyal et al. 2017).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, IterableDataset, RandomSampler, Sampler

__all__ = [
    "DistributedEnv",
    "EvalShardSampler",
    "all_gather_objects",
    "all_reduce_sum",
    "rebuild_loader",
    "shard_loader",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistributedEnv:
    """Where this process sits in a distributed job (one process, rank 0 of 1, when not launched so)."""

    rank: int = 0  # global index of this process
    local_rank: int = 0  # index on this machine; picks the GPU
    world_size: int = 1  # number of processes in the job

    @classmethod
    def from_env(cls) -> DistributedEnv:
        """Read ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` as torchrun sets them.

        Raises:
            ValueError: If a variable is set but is not a valid integer, or ranks are out of range.
        """
        values = {}
        for name, default in (("RANK", 0), ("LOCAL_RANK", 0), ("WORLD_SIZE", 1)):
            raw = os.environ.get(name)
            try:
                values[name] = default if raw is None else int(raw)
            except ValueError:
                raise ValueError(f"environment variable {name}={raw!r} is not an integer") from None
        env = cls(values["RANK"], values["LOCAL_RANK"], values["WORLD_SIZE"])
        if env.world_size < 1 or not 0 <= env.rank < env.world_size or env.local_rank < 0:
            raise ValueError(f"inconsistent torchrun environment: {env}")
        return env

    @property
    def is_distributed(self) -> bool:
        """More than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs and writes files."""
        return self.rank == 0


# How long a process started outside torchrun waits for the others of its WORLD_SIZE to join. torchrun
# starts them all at once (and keeps torch's own timeout); a stray WORLD_SIZE left in a shell has no
# others, and torch would wait 30 minutes for them.
RENDEZVOUS_TIMEOUT_S = 300.0
_ENV_NAMES = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def _stray(env: DistributedEnv, problem: str) -> str:
    shown = ", ".join(f"{name}={os.environ[name]}" for name in _ENV_NAMES if name in os.environ)
    return (
        f"{problem}: this process is rank {env.rank} of a {env.world_size}-process job ({shown}). To "
        "train in one process, unset WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; to train "
        "in several, start them all with torchrun (torchrun --nproc-per-node=N ...)"
    )


def init_process_group(env: DistributedEnv, device: torch.device) -> bool:
    """Join the job's process group unless one exists; returns whether this call created it.

    NCCL for CUDA devices, Gloo otherwise. ``MASTER_ADDR``/``MASTER_PORT`` come from torchrun. Outside
    torchrun, the other processes must join within :data:`RENDEZVOUS_TIMEOUT_S`.

    Raises:
        ValueError: If ``WORLD_SIZE`` > 1 but ``MASTER_ADDR`` or ``MASTER_PORT`` is not set (variables
            left in a shell, not a torchrun job); the message names the variables.
        TimeoutError: If the other processes do not join in time; the message names the variables.
    """
    if not env.is_distributed or dist.is_initialized():
        return False
    missing = [name for name in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(name)]
    if missing:
        raise ValueError(
            _stray(env, f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set")
        )
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    store = None
    if "TORCHELASTIC_RUN_ID" not in os.environ:  # not launched by torchrun: wait for the others a while
        try:
            store, _, _ = next(
                dist.rendezvous(
                    "env://", env.rank, env.world_size, timeout=timedelta(seconds=RENDEZVOUS_TIMEOUT_S)
                )
            )
        except (
            RuntimeError
        ) as err:  # torch.distributed.DistError (a store or network timeout) derives from it
            raise TimeoutError(
                _stray(env, f"the other processes did not join within {RENDEZVOUS_TIMEOUT_S:g} s ({err})")
            ) from None
        store.set_timeout(dist.default_pg_timeout)  # the job's own waits get torch's usual time again
        store = dist.PrefixStore("default_pg", store)  # as init_process_group's own rendezvous does
    elif os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True":
        store = _fresh_agent_store(env)
    dist.init_process_group(backend=backend, rank=env.rank, world_size=env.world_size, store=store)
    logger.info("joined a %d-process %s group as rank %d", env.world_size, backend, env.rank)
    return True


def _fresh_agent_store(env: DistributedEnv) -> dist.Store:
    """The torchrun agent's store, under a prefix no earlier attempt of this job has used.

    torchrun (since 2.5) lets the workers share its rendezvous store, and that store outlives a
    restart (``--max-restarts``): the keys in which the killed workers published their Gloo/NCCL
    addresses are still there, and a restarted worker could read one before its peer wrote the new
    one, then fail with "connectFullMesh failed ... Connection refused" (pytorch/pytorch#135712: without
    this, 3 of 5 runs of the restart test in tests/test_train_distributed.py failed so; with it, 5 of 5
    passed).
    ``TORCHELASTIC_RESTART_COUNT`` cannot tell the attempts apart: an agent restarts its workers
    without counting when another node's failed. So every worker counts itself in, and each
    ``WORLD_SIZE`` joins make one attempt. (An attempt in which a worker died before it got here
    would put the count out of step; ``TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1`` in torchrun's
    environment gives every attempt a new store instead.)
    """
    timeout = dist.default_pg_timeout
    store, _, _ = next(dist.rendezvous("env://", env.rank, env.world_size, timeout=timeout))
    store.set_timeout(timeout)
    attempt = (store.add("resnetzoo/joins", 1) - 1) // env.world_size
    return dist.PrefixStore(f"resnetzoo/attempt{attempt}/default_pg", store)


def all_reduce_sum(tensors: list[torch.Tensor]) -> None:
    """Sum each tensor over all processes, in place (no-op without a process group)."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        for t in tensors:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)


def all_gather_objects(obj: Any) -> list[Any]:
    """``obj`` from every process, in rank order (``[obj]`` without a process group)."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


class EvalShardSampler(Sampler[int]):
    """Every ``world_size``-th index from ``rank``: disjoint shards that cover the data exactly once.

    Unlike :class:`~torch.utils.data.DistributedSampler`, nothing is padded or dropped, so metrics
    summed over the ranks count every example once.
    """

    def __init__(self, length: int, rank: int, world_size: int) -> None:
        self.length, self.rank, self.world_size = length, rank, world_size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.length, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.length, self.world_size))


def rebuild_loader(loader: DataLoader, sampler: Sampler[int], dataset: Any = None) -> DataLoader:
    """``loader`` with another sampler (and data set), keeping its batch size, workers and collate fn."""
    return DataLoader(
        loader.dataset if dataset is None else dataset,
        batch_size=loader.batch_size,
        sampler=sampler,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        drop_last=loader.drop_last,
        timeout=loader.timeout,
        worker_init_fn=loader.worker_init_fn,
        multiprocessing_context=loader.multiprocessing_context,
        generator=loader.generator,
        prefetch_factor=loader.prefetch_factor if loader.num_workers > 0 else None,
        persistent_workers=loader.persistent_workers,
    )


def shard_loader(
    loader: Iterable[Any], env: DistributedEnv, *, train: bool, seed: int
) -> tuple[Iterable[Any], bool]:
    """This process's share of ``loader``; returns ``(loader, sharded)``.

    * A loader with ``rank``/``world_size`` attributes (a ``DeviceLoader``) must already be built
      for this rank (``DeviceLoader(..., rank=RANK, world_size=WORLD_SIZE)``).
    * A ``DataLoader`` over a map-style dataset is rebuilt around a
      :class:`~torch.utils.data.DistributedSampler` (training; shuffled if the original was) or an
      :class:`EvalShardSampler` (evaluation), keeping its batch size, workers and collate function.
    * Anything else cannot be split: an evaluation loader is then run whole on every rank (still
      correct, since sums and counts grow alike), a training loader is refused.

    Raises:
        ValueError: If a training loader cannot be sharded, or a DeviceLoader was built for another rank.
    """
    if not env.is_distributed:
        return loader, False
    if isinstance(loader, DataLoader):
        if isinstance(loader.sampler, (DistributedSampler, EvalShardSampler)):
            return loader, True
        # A custom batch_sampler or an IterableDataset decides its own order; we cannot split it.
        default_batching = loader.batch_size is not None and not isinstance(loader.dataset, IterableDataset)
        if default_batching:
            if train:
                sampler: Sampler[int] = DistributedSampler(
                    loader.dataset,
                    num_replicas=env.world_size,
                    rank=env.rank,
                    shuffle=isinstance(loader.sampler, RandomSampler),
                    seed=seed,
                )
            else:
                sampler = EvalShardSampler(len(loader.dataset), env.rank, env.world_size)  # type: ignore[arg-type]
            return rebuild_loader(loader, sampler), True
    elif hasattr(loader, "rank") and hasattr(loader, "world_size"):
        if (loader.rank, loader.world_size) == (env.rank, env.world_size):
            return loader, True
        if train or loader.world_size != 1:
            raise ValueError(
                f"this process is rank {env.rank} of {env.world_size}, but the loader was built for rank "
                f"{loader.rank} of {loader.world_size}; build it with rank=RANK, world_size=WORLD_SIZE "
                "(resnetzoo.train.distributed.DistributedEnv.from_env() reads them)"
            )
    if train:
        raise ValueError(
            f"cannot shard a training loader of type {type(loader).__name__} across {env.world_size} "
            "processes: pass a DataLoader over a map-style dataset, or a DeviceLoader built with "
            "rank= and world_size="
        )
    logger.debug("evaluation loader %s is not sharded; every rank evaluates all of it", type(loader).__name__)
    return loader, False
