"""Cached load of pretrained weights by name: ``create_model(name, pretrained=True)`` in a fresh process.

Target (docs/DESIGN.md, issue "pretrained weights"): < 0.5 s for resnet56_cifar and resnet50_cifar once
their converted safetensors copy is cached.

Setup, in a temporary ``HF_HOME``, with a mirror folder (``RESNETZOO_WEIGHTS_MIRROR``) as the source:

- ``resnet56_cifar.akamaster_cifar10``: akamaster's real file when ``--mirror`` holds it
  (``../shared/weights/akamaster``), its full sha256 pinned by the record;
- ``resnet50_cifar.edadaltocg_cifar10``: a pickle in edadaltocg's format and layout
  (``pytorch_model.bin``, 94 MB) of a randomly initialised timm-style resnet50 (the real file is on the
  Hub, which these machines cannot reach); the child processes register the record with this file's
  sha256.

The first load of each (fetch from the mirror, sha256, ``torch.load(weights_only=True)``, layout
conversion, key check, safetensors write) is timed once. Then each run starts a fresh Python process
with ``HF_HUB_OFFLINE=1`` that imports resnetzoo and calls ``create_model(name, pretrained=True)``:
it reads the converted copy's ``config.json`` and ``model.safetensors``, builds the network on the meta
device and takes the tensors as they are. The child also times those parts on their own.

Run: ``PYTHONPATH=. python benchmarks/bench_hub.py --mirror ../shared/weights/akamaster [--runs 5]``.
Prints mean ± std over the runs; the numbers depend on the machine and its load (printed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMES = ("resnet56_cifar.akamaster_cifar10", "resnet50_cifar.edadaltocg_cifar10")

# Runs in a fresh process: argv = name, sha256 of the resnet50 stand-in file, "first" or "cached".
CHILD = r"""
import dataclasses, json, sys, time
t0 = time.perf_counter()
import torch
import resnetzoo as rz
t1 = time.perf_counter()
name, sha256_50 = sys.argv[1], sys.argv[2]
record = rz.get_weights("resnet50_cifar.edadaltocg_cifar10")
rz.register_weights([dataclasses.replace(record, sha256=sha256_50)], replace=True)

t2 = time.perf_counter()
model = rz.create_model(name, pretrained=True, progress=False)
t3 = time.perf_counter()

# The parts, each once more now that everything is imported and the files are in the page cache.
from resnetzoo.hub.download import resnetzoo_cache_dir
from resnetzoo.hub.config import read_config
from safetensors.torch import load_file
folder = next((resnetzoo_cache_dir() / "converted").rglob(name))
t4 = time.perf_counter(); read_config(folder / "config.json", source="bench")
t5 = time.perf_counter(); state = load_file(folder / "model.safetensors")
t6 = time.perf_counter()
with torch.device("meta"):
    bare = rz.create_model(name.split(".")[0])
t7 = time.perf_counter(); bare.load_state_dict(state, assign=True)
t8 = time.perf_counter(); rz.create_model(name.split(".")[0])
t9 = time.perf_counter()
parts = {"config": t5 - t4, "load_file": t6 - t5, "meta_build": t7 - t6, "assign": t8 - t7}
parts["random_init"] = t9 - t8
print(json.dumps({"import": t1 - t0, "pretrained": t3 - t2, **parts}))
"""


def _resnet50_stand_in(path: Path) -> str:
    """edadaltocg's resnet50_cifar10 format, random weights: returns the file's sha256."""
    sys.path.insert(0, str(ROOT / "tests"))
    from source_nets import save_edadaltocg, torchvision_cifar_resnet

    path.parent.mkdir(parents=True, exist_ok=True)
    return hashlib.sha256(save_edadaltocg(torchvision_cifar_resnet(50), path)).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", required=True, help="folder holding akamaster's resnet56-4bfd9763.th")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes to time (default: 5)")
    args = parser.parse_args()

    results: dict[str, list[dict[str, float]]] = {}
    first: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-hub-") as tmp:
        home, mirror = Path(tmp) / "home", Path(tmp) / "mirror"
        mirror.mkdir()
        shutil.copy(Path(args.mirror) / "resnet56-4bfd9763.th", mirror)
        sha256_50 = _resnet50_stand_in(mirror / "edadaltocg" / "resnet50_cifar10" / "pytorch_model.bin")
        env = {
            **os.environ,
            "HF_HOME": str(home),
            "HF_HUB_OFFLINE": "1",
            "RESNETZOO_WEIGHTS_MIRROR": str(mirror),
            "PYTHONPATH": str(ROOT),
        }
        for name in NAMES:
            out = subprocess.run(
                [sys.executable, "-c", CHILD, name, sha256_50],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            first[name] = json.loads(out.stdout.strip().splitlines()[-1])["pretrained"]
            results[name] = []
            for _ in range(args.runs):
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, name, sha256_50],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                results[name].append(json.loads(out.stdout.strip().splitlines()[-1]))

    import torch

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}; torch {torch.__version__}; {args.runs} fresh processes each, mean ± std"
    )
    labels = {
        "pretrained": "create_model(name, pretrained=True), cached   <- target < 0.5 s",
        "config": "  read and check config.json",
        "load_file": "  safetensors load_file",
        "meta_build": "  build on the meta device",
        "assign": "  load_state_dict(assign=True)",
        "random_init": "  (for comparison: a build with random init)",
        "import": "  (import torch + resnetzoo, not part of the target)",
    }
    for name in NAMES:
        print(f"\n{name}: first load (fetch from the mirror, verify, convert, cache) {first[name]:.3f} s")
        for key, label in labels.items():
            values = [run[key] for run in results[name]]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            print(f"{label:<66} {statistics.mean(values):7.3f} s ± {spread:.3f}")


if __name__ == "__main__":
    main()
