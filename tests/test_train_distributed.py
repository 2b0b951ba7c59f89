"""Data-parallel training: 2 processes under torchrun (Gloo, CPU) against one process.

The model uses GroupNorm: with BatchNorm each process would normalise over its own half of
the batch, which differs from one process normalising over all of it (that is what
SyncBatchNorm fixes, and SyncBatchNorm runs on GPUs only). With per-example normalisation the
two runs compute the same averaged gradient, so they agree to float rounding.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset
from train_helpers import child_env, loaders, run_python, synthetic_images, tiny_resnet
from train_worker import train

from resnetzoo.train import TrainConfig, Trainer, distributed
from resnetzoo.train.checkpoint import list_checkpoints
from resnetzoo.train.distributed import DistributedEnv, EvalShardSampler, shard_loader

# Tiny models: a second torch thread only adds barriers (see helpers.pinned_threads).
pytestmark = pytest.mark.usefixtures("single_thread")

TESTS = Path(__file__).parent
TORCHRUN = ("-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2")


def launch(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node=2 tests/train_worker.py *args``."""
    return run_python(*TORCHRUN, str(TESTS / "train_worker.py"), *args, check=check)


def load(path: Path) -> dict:
    return torch.load(path, weights_only=True)


COMMON = ("--norm", "group", "--epochs", "3")


def untimed(history):
    return [{k: v for k, v in row.items() if k not in ("time_s", "images_per_s")} for row in history]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """An uninterrupted 2-process run, global batch 32 (2 x 16): its directory and per-rank results."""
    out = tmp_path_factory.mktemp("ddp")
    launch(str(out / "run"), str(out / "result.pt"), *COMMON, "--batch-size", "16")
    return out, load(out / "result.pt.rank0"), load(out / "result.pt.rank1")


@pytest.mark.slow
def test_two_processes_stay_in_sync_and_match_one_process(tmp_path, two_processes):
    out, rank0, rank1 = two_processes
    # One process (this one), global batch 32, in the order a 2-process DistributedSampler splits.
    trainer = train(str(tmp_path / "one"), epochs=3, batch_size=32, norm="group", distributed_sampler=True)
    one = {"model": trainer.model.state_dict(), "history": trainer.history}
    for key, value in rank0["model"].items():
        assert torch.equal(value, rank1["model"][key]), f"ranks diverged at {key}"
        assert torch.allclose(value, one["model"][key], atol=1e-5, rtol=0), key
    assert untimed(rank0["history"]) == untimed(rank1["history"])  # metrics are reduced over both ranks
    for row_two, row_one in zip(rank0["history"], one["history"], strict=True):
        assert row_two["val_top1"] == row_one["val_top1"]  # validation sharded exactly, no padding
        assert row_two["train_loss"] == pytest.approx(row_one["train_loss"], abs=1e-5)
    # Rank 0 alone wrote the files.
    names = [p.name for p in list_checkpoints(out / "run" / "checkpoints")]
    assert names == ["epoch_0001.pt", "epoch_0002.pt", "epoch_0003.pt"]
    assert len((out / "run" / "metrics.csv").read_text().splitlines()) == 4


@pytest.mark.slow
def test_a_killed_two_process_run_resumes_bitwise_exactly(tmp_path, two_processes):
    _, rank0, _ = two_processes
    # Both processes die in the middle of epoch 2 (from 0); torchrun reports the failure.
    args = (str(tmp_path / "run"), *COMMON, "--batch-size", "16")
    killed = launch(args[0], str(tmp_path / "never.pt"), *args[1:], "--kill-at", "2:2", check=False)
    assert killed.returncode != 0
    launch(args[0], str(tmp_path / "resumed.pt"), *args[1:], "--resume")
    for rank in (0, 1):
        resumed = load(tmp_path / f"resumed.pt.rank{rank}")
        assert untimed(resumed["history"]) == untimed(rank0["history"])
        for key, value in rank0["model"].items():
            assert torch.equal(resumed["model"][key], value), key


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_a_worker_killed_mid_epoch_is_restarted_by_torchrun_and_ends_bitwise_equal(tmp_path, two_processes):
    """``torchrun --max-restarts 1``: rank 1 dies by SIGKILL in epoch 2 (from 0), on the first attempt.

    The agent stops rank 0, starts both workers again, and they resume from ``epoch_0002.pt``: the
    result must equal the uninterrupted run's tensor for tensor (``torch.equal``, not a tolerance),
    since the data order is a function of (seed, epoch), the checkpoint holds every generator, and
    the same two processes sum the same gradients in the same order on the same machine.
    """
    _, rank0, _ = two_processes
    out = tmp_path / "run"
    torchrun = (*TORCHRUN, "--max-restarts", "1", "--monitor-interval", "0.5")
    args = (str(TESTS / "train_worker.py"), str(out), str(tmp_path / "result.pt"), *COMMON)
    proc = run_python(*torchrun, *args, "--batch-size", "16", "--resume", "--kill-at", "2:2:1")
    for rank in (0, 1):
        resumed = load(tmp_path / f"result.pt.rank{rank}")
        assert resumed["restart_count"] == 1, proc.stderr[-2000:]  # the second attempt finished the job
        assert resumed["first_epoch"] == 2  # it resumed after two epochs, not from scratch
        assert untimed(resumed["history"]) == untimed(rank0["history"])
        for key, value in rank0["model"].items():
            assert torch.equal(resumed["model"][key], value), key
    names = [p.name for p in list_checkpoints(out / "checkpoints")]
    assert names == ["epoch_0001.pt", "epoch_0002.pt", "epoch_0003.pt"]
    assert len((out / "metrics.csv").read_text().splitlines()) == 4  # no epoch logged twice


@pytest.mark.slow
def test_two_nodes_rendezvous_on_loopback_and_match_one_node(tmp_path, two_processes):
    """Two torchrun agents (``--nnodes 2``, one process each, c10d rendezvous on 127.0.0.1).

    Same world size as the one-node run, so the same shards and the same sums: equal tensors.
    """
    _, rank0, _ = two_processes
    endpoint = f"127.0.0.1:{free_port()}"
    agent = ("--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d")
    agent += ("--rdzv-endpoint", endpoint, "--rdzv-id", "two-nodes", "--local-addr", "127.0.0.1")
    worker = (str(TESTS / "train_worker.py"), str(tmp_path / "run"), str(tmp_path / "result.pt"), *COMMON)
    env = child_env(OMP_NUM_THREADS="1")
    nodes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                *agent,
                "--node-rank",
                str(node),
                *worker,
                "--batch-size",
                "16",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for node in (0, 1)
    ]
    try:
        outputs = [node.communicate(timeout=300)[0] for node in nodes]
    finally:
        for node in nodes:
            node.kill()
    for node, output in zip(nodes, outputs, strict=True):
        assert node.returncode == 0, output[-3000:]
    for rank in (0, 1):
        result = load(tmp_path / f"result.pt.rank{rank}")
        assert untimed(result["history"]) == untimed(rank0["history"])
        for key, value in rank0["model"].items():
            assert torch.equal(result["model"][key], value), key


def test_each_torchrun_attempt_gets_keys_no_earlier_attempt_wrote(monkeypatch):
    """The agent's store outlives a restart: stale Gloo addresses there made restarts fail at random."""
    shared = torch.distributed.HashStore()  # stands for the agent's store, which survives the workers
    monkeypatch.setattr(distributed.dist, "rendezvous", lambda *args, **kwargs: iter([(shared, 0, 2)]))
    attempts = [distributed._fresh_agent_store(DistributedEnv(r % 2, r % 2, 2)) for r in range(4)]
    for store in attempts:
        store.set(f"written by {id(store)}", "x")
    # Two workers per attempt: the first pair shares attempt 0, the restarted pair attempt 1.
    assert shared.check([f"resnetzoo/attempt0/default_pg/written by {id(attempts[1])}"])
    assert shared.check([f"resnetzoo/attempt1/default_pg/written by {id(attempts[2])}"])
    assert not shared.check([f"resnetzoo/attempt0/default_pg/written by {id(attempts[3])}"])


def test_dataloaders_are_split_into_disjoint_shards():
    x, y = synthetic_images(10)
    data = TensorDataset(x, y)
    shards = [
        shard_loader(DataLoader(data, batch_size=4), DistributedEnv(rank, rank, 3), train=False, seed=0)
        for rank in range(3)
    ]
    assert all(sharded for _, sharded in shards)
    assert all(isinstance(loader.sampler, EvalShardSampler) for loader, _ in shards)
    seen = sorted(i for loader, _ in shards for i in loader.sampler)
    assert seen == list(range(10))  # every example once: no padding, no drops

    train_shards = [
        shard_loader(
            DataLoader(data, batch_size=2, shuffle=True), DistributedEnv(r, r, 2), train=True, seed=5
        )[0]
        for r in range(2)
    ]
    assert train_shards[0].sampler.shuffle
    assert train_shards[0].sampler.seed == 5
    assert set(train_shards[0].sampler).isdisjoint(set(train_shards[1].sampler))


def test_unshardable_training_data_and_mismatched_loaders_are_refused():
    env = DistributedEnv(1, 1, 2)
    with pytest.raises(ValueError, match="cannot shard a training loader of type list"):
        shard_loader([(torch.zeros(1), torch.zeros(1))], env, train=True, seed=0)
    _, sharded = shard_loader([(torch.zeros(1), torch.zeros(1))], env, train=False, seed=0)
    assert not sharded  # evaluated whole on every rank: still correct, counts grow alike

    class Other:
        rank, world_size = 0, 2

    with pytest.raises(ValueError, match="built for rank 0 of 2"):
        shard_loader(Other(), env, train=True, seed=0)
    other = Other()
    assert shard_loader(other, DistributedEnv(), train=True, seed=0) == (other, False)  # one process: as is


def test_the_torchrun_environment_is_read_and_checked(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    env = DistributedEnv.from_env()
    assert (env.rank, env.local_rank, env.world_size, env.is_distributed, env.is_main) == (
        3,
        1,
        4,
        True,
        False,
    )
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ValueError, match="inconsistent torchrun environment"):
        DistributedEnv.from_env()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ValueError, match="RANK='x' is not an integer"):
        DistributedEnv.from_env()


def test_a_stray_world_size_is_refused_naming_the_variables_instead_of_hanging(monkeypatch):
    """A stray WORLD_SIZE: torch failed its own way without MASTER_ADDR, and waited 30 min with it."""
    for name in ("MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    train, _ = loaders(n_train=32)
    trainer = Trainer(tiny_resnet(), TrainConfig(epochs=1, device="cpu", progress=False))
    with pytest.raises(
        ValueError,
        match=r"MASTER_ADDR and MASTER_PORT are not set: this process is rank 0 of a 2-process job "
        r"\(WORLD_SIZE=2, RANK=0\)\. To train in one process, unset WORLD_SIZE, RANK, LOCAL_RANK",
    ):
        trainer.fit(train)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(port))
    monkeypatch.setattr(distributed, "RENDEZVOUS_TIMEOUT_S", 1.0)
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=r"the other processes did not join within 1 s .*MASTER_PORT="):
        trainer.fit(train)
    assert time.monotonic() - start < 30
    assert not torch.distributed.is_initialized()


@pytest.mark.slow
def test_resnetzoo_train_under_torchrun_speaks_once(tmp_path):
    """The CLI on 2 processes: one log line, one result, one set of files, for the whole job."""
    out = tmp_path / "run"
    # `python -m resnetzoo` is the console script; torchrun runs it the same way.
    args = ["train", "--data", "sample", "--out", str(out), "--device", "cpu", "--no-progress"]
    args += ["--epochs", "1", "--batch-size", "32", "--limit-batches", "2"]
    proc = run_python(*TORCHRUN, "-m", "resnetzoo", *args)
    assert proc.stderr.count("resnetzoo.cli: training resnet20_cifar with recipe 'fast' on the bundled") == 1
    assert proc.stdout.count("selected epoch 1: val top-1") == 1
    top1 = json.loads((out / "test_metrics.json").read_text())["top1"]  # reduced over both processes
    assert proc.stdout.count(f"test (1,000 images): top-1 {100 * top1:.2f}%") == 1
    assert (out / "best" / "model.safetensors").is_file()
