"""Cold load of cached resnet18_cifar weights: ``resnet18_cifar(pretrained=True)`` in a fresh process.

Target (docs/DESIGN.md): < 0.5 s for model build + cached safetensors load.

Setup: a resnet18_cifar checkpoint (random weights, 44.7 MB) is published on the test suite's
fake Hub (tests/fakehub.py, 127.0.0.1) and downloaded once into a temporary HF_HOME. Then
each run starts a fresh Python process with ``HF_HUB_OFFLINE=1`` that imports resnetzoo and
calls ``resnet18_cifar(pretrained=True)``: the Hub client finds the pinned commit in the
cache without a request, the file's sha256 is verified, the model is built and the
safetensors file loaded. The child also times the parts on their own.

Run: ``PYTHONPATH=. python benchmarks/bench_hub.py [--runs 5] [--threads N]``. Prints mean ± std
over the runs; the numbers depend on the machine and its load (the load average is printed). On a
busy machine, torch's intra-op threads wait on each other: the 45 MB copy in ``load_state_dict``
went from 0.02 s to 0.3 s on 2 shared cores; ``--threads 1`` shows the cost without that.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Runs in the fresh process. The record is published for this process only (nothing is
# published yet), pinned to the commit and checksum of the file in the cache.
CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import torch
import resnetzoo as rz
t1 = time.perf_counter()

import dataclasses
from resnetzoo.hub import weights as w
revision, sha256 = sys.argv[1], sys.argv[2]
record = dataclasses.replace(
    w._PRETRAINED["resnet18_cifar"]["cifar10"], published=True, revision=revision, sha256=sha256
)
w._PRETRAINED["resnet18_cifar"]["cifar10"] = record

t2 = time.perf_counter()
model = rz.resnet18_cifar(pretrained=True, progress=False)
t3 = time.perf_counter()

# The parts, each once more now that everything is imported and the file is in the page cache.
from safetensors.torch import load_file
from resnetzoo.hub.download import download_file, sha256_file
t4 = time.perf_counter(); bare = rz.resnet18_cifar()
t5 = time.perf_counter(); path = download_file(record.repo_id, record.filename, revision=revision)
t6 = time.perf_counter(); sha256_file(path)
t7 = time.perf_counter(); state = load_file(path)
t8 = time.perf_counter(); bare.load_state_dict(state)
t9 = time.perf_counter()
parts = {"build": t5 - t4, "cache_lookup": t6 - t5, "sha256": t7 - t6, "load_file": t8 - t7}
print(json.dumps({"import": t1 - t0, "pretrained": t3 - t2, **parts, "load_state_dict": t9 - t8}))
"""


def _publish_and_cache(home: Path) -> tuple[str, str]:
    """Serve a resnet18_cifar repo on the fake Hub and download it once into ``home``."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fakehub import FakeHub
    from huggingface_hub import constants

    import resnetzoo as rz
    from resnetzoo.hub import weights as w

    folder = rz.save_pretrained(rz.resnet18_cifar(), home / "repo")
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    hub = FakeHub().start()
    try:
        constants.ENDPOINT = hub.url
        constants.HUGGINGFACE_CO_URL_TEMPLATE = hub.url + "/{repo_id}/resolve/{revision}/{filename}"
        constants.HF_HUB_CACHE = str(home / "hub")
        record = w.get_weights("resnet18_cifar.cifar10")
        revision = hub.commit(record.repo_id, files)
        sha256 = hashlib.sha256(files["model.safetensors"]).hexdigest()
        published = dataclasses.replace(record, published=True, revision=revision, sha256=sha256)
        rz.load_pretrained(rz.resnet18_cifar(), published, progress=False)  # fills the cache
    finally:
        hub.stop()
    return revision, sha256


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes to time (default: 5)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="OMP_NUM_THREADS of the timed processes (default: torch's own choice, one per core)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-hub-") as tmp:
        home = Path(tmp)
        revision, sha256 = _publish_and_cache(home)
        env = {**os.environ, "HF_HOME": str(home), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
        if args.threads is not None:
            env["OMP_NUM_THREADS"] = str(args.threads)
        runs = []
        for _ in range(args.runs):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, revision, sha256],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))

    import torch

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
        f"torch {torch.__version__}; OMP threads: {args.threads or 'default'}; "
        f"{args.runs} fresh processes, mean ± std"
    )
    labels = {
        "import": "import torch + resnetzoo (not part of the target)",
        "pretrained": "resnet18_cifar(pretrained=True), cached       <- target < 0.5 s",
        "build": "  model build (random init)",
        "cache_lookup": "  hf_hub_download cache hit (pinned commit)",
        "sha256": "  sha256 of the 44.7 MB file",
        "load_file": "  safetensors load_file",
        "load_state_dict": "  load_state_dict",
    }
    for key, label in labels.items():
        values = [run[key] for run in runs]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"{label:<62} {statistics.mean(values):7.3f} s ± {spread:.3f}")


if __name__ == "__main__":
    main()
