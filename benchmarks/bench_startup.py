"""How fast the command line answers: ``resnetzoo --version`` and ``--help`` against ``import torch``.

Target (issue 21): ``resnetzoo --version`` and ``resnetzoo --help`` import no torch and answer in under
0.5 s; ``import resnetzoo`` costs at most 1.25x ``import torch``. Each run starts fresh Python processes
for ``import torch`` (the yardstick), ``import resnetzoo``, ``python -m resnetzoo --version`` and
``python -m resnetzoo --help``, one after another (paired: the machine's load hits all four alike), for
this checkout and, with ``--before REV``, for a git revision of it checked out into a temporary
worktree (e.g. ``2387ade``, before the lazy imports).

Run: ``PYTHONPATH=. python benchmarks/bench_startup.py [--runs 5] [--before 2387ade]``. Prints the
median of the runs per command and its ratio to ``import torch``; the times depend on the machine and
its load (printed).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "import torch": ["-c", "import torch"],
    "import resnetzoo": ["-c", "import resnetzoo"],
    "resnetzoo --version": ["-m", "resnetzoo", "--version"],
    "resnetzoo --help": ["-m", "resnetzoo", "--help"],
}


def _seconds(args: list[str], path: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(path)}
    start = time.perf_counter()
    # In the tree's folder: python -c and -m put the current folder first on sys.path.
    subprocess.run([sys.executable, *args], env=env, cwd=path, check=True, capture_output=True)
    return time.perf_counter() - start


@contextlib.contextmanager
def _checkout(rev: str) -> Iterator[Path]:
    """``rev`` of this repository in a temporary worktree (removed afterwards)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tree"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), rev],
            check=True,
            capture_output=True,
        )
        try:
            yield path
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)],
                check=True,
                capture_output=True,
            )


def _measure(trees: dict[str, Path], runs: int) -> dict[tuple[str, str], float]:
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(runs):
        for tree, path in trees.items():
            for name, args in COMMANDS.items():
                times.setdefault((tree, name), []).append(_seconds(args, path))
    return {key: statistics.median(values) for key, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", metavar="REV", help="also measure this git revision, e.g. 2387ade")
    args = parser.parse_args()
    import torch

    print(
        f"# {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"torch {torch.__version__}, load {os.getloadavg()[0]:.1f}, median of {args.runs} paired runs"
    )
    with contextlib.ExitStack() as stack:
        trees = {"this checkout": ROOT}
        if args.before:
            trees = {args.before: stack.enter_context(_checkout(args.before)), **trees}
        medians = _measure(trees, args.runs)
    print("| command | " + " | ".join(trees) + " |")
    print("|---|" + "---|" * len(trees))
    for name in COMMANDS:
        cells = []
        for tree in trees:
            value, torch_time = medians[(tree, name)], medians[(tree, "import torch")]
            cells.append(f"{value:.2f} s ({value / torch_time:.2f}x torch)")
        print(f"| `{name}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
