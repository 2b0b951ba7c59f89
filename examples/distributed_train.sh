#!/usr/bin/env bash
# Data-parallel training with torchrun: one process per GPU, on one machine or several.
#
# torchrun starts the processes and sets RANK, LOCAL_RANK and WORLD_SIZE; resnetzoo's Trainer reads
# them, joins the process group (NCCL on GPUs, Gloo on CPUs), wraps the model in
# DistributedDataParallel and gives each process its own share of every epoch. Only rank 0 logs and
# writes the run folder. --batch-size is per process: the global batch is batch size x processes.
#
# One machine, all its GPUs (extra arguments go to `resnetzoo train`, see `resnetzoo train --help`):
#   examples/distributed_train.sh --model resnet18_cifar --recipe fast --data-dir data --out runs/r18
# Two machines with 8 GPUs each: run this on both, pointing at the first one (any free port):
#   NNODES=2 NPROC=8 RDZV_ENDPOINT=node0.example.com:29500 examples/distributed_train.sh --data-dir data
# Smoke test: 2 CPU processes with Gloo, 1 epoch of 2 batches on the bundled sample (seconds):
#   SMOKE=1 examples/distributed_train.sh
#
# torchrun is `python -m torch.distributed.run`; PYTHON picks the interpreter that has resnetzoo.
#
# smoke-output: test (1,000 images): top-1
set -euo pipefail

PYTHON=${PYTHON:-python3}
torchrun=("$PYTHON" -m torch.distributed.run)

if [[ "${SMOKE:-0}" == 1 ]]; then
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
    # One thread per process: two processes on two cores.
    OMP_NUM_THREADS=1 "${torchrun[@]}" --standalone --nproc-per-node 2 -m resnetzoo train \
        --data sample --device cpu --epochs 1 --batch-size 32 --limit-batches 2 --no-progress \
        --out "$out/run" "$@"
    exit 0
fi

NNODES=${NNODES:-1}
NPROC=${NPROC:-$(nvidia-smi --list-gpus 2>/dev/null | wc -l)}
if [[ "$NPROC" -lt 1 ]]; then
    echo "no GPU found by nvidia-smi: set NPROC=<processes per machine> (and pass --device cpu for CPUs)" >&2
    exit 2
fi

if [[ "$NNODES" == 1 ]]; then
    # --standalone: a rendezvous on this machine, on a free port.
    rendezvous=(--standalone)
else
    # Every machine runs the same command; they meet at RDZV_ENDPOINT under the job id RDZV_ID.
    : "${RDZV_ENDPOINT:?set RDZV_ENDPOINT=host:port of one of the machines}"
    rendezvous=(--nnodes "$NNODES" --rdzv-backend c10d --rdzv-endpoint "$RDZV_ENDPOINT"
        --rdzv-id "${RDZV_ID:-resnetzoo}")
fi

exec "${torchrun[@]}" "${rendezvous[@]}" --nproc-per-node "$NPROC" -m resnetzoo train "$@"
