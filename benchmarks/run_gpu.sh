#!/usr/bin/env bash
# Every GPU measurement of the project in one run, for a lent CUDA machine with a short lease.
#
#   bash benchmarks/run_gpu.sh DATA_TARBALL OUT_DIR
#
# DATA_TARBALL is shared/data/cifar10-jpeg.tar.gz (copied next to the checkout, since only the
# checkout travels). Steps run in order of importance, each under its own time limit, so a slow or
# failing step costs its limit and no more; each step's log goes to OUT_DIR.
set -u
tarball=$1 out=$2
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
mkdir -p "$out" /tmp/data
step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2; shift 2
    echo "=== $name (limit ${limit}s)"
    local t0=$SECONDS
    timeout "$limit" "$@" > "$out/$name.log" 2>&1
    echo "--- $name: exit $? after $((SECONDS - t0)) s"
}

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv,noheader
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"
tar xzf "$tarball" -C /tmp/data

# Measured on an H200 already (docs/benchmarks.md), so not repeated: the batch-512 throughput table
# (bench_train.py --device cuda --cudagraphs --epochs 2) and the GPU data loader (bench_data.py --device cuda).
step tta_eager 120 python3 benchmarks/bench_train.py --device cuda --time-to-accuracy --data /tmp/data/cifar10-jpeg \
    --cache-dir /tmp/cache
step tta_cudagraphs 150 python3 benchmarks/bench_train.py --device cuda --time-to-accuracy \
    --data /tmp/data/cifar10-jpeg --cache-dir /tmp/cache --compile --compile-mode reduce-overhead
# Batch 1024: DESIGN.md's eager figures (66,700 vs 45,900 img/s at 512) say the launch overhead halves.
step bench_train_1024 150 python3 benchmarks/bench_train.py --device cuda --cudagraphs --epochs 2 --batch-size 1024
step cuda_tests 60 python3 -m pytest -q -p no:cacheprovider -k "cuda or gpu" tests/test_data_augment.py \
    tests/test_data_loader.py tests/test_export.py tests/test_predict.py

for f in tta_eager tta_cudagraphs bench_train_1024 cuda_tests; do
    echo "=== tail of $f"; tail -n 14 "$out/$f.log"
done
