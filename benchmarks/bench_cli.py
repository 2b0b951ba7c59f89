"""``resnetzoo train --help`` from three command-line libraries: what the help shows, and how fast.

Candidates, each given ``TrainConfig`` (and its nested ``AugmentConfig``) and nothing else to go on:

- ``argparse``: resnetzoo's own parser (``resnetzoo.cli.build_parser("train")``): the standard library,
  one option per field generated in ``resnetzoo/cli/_config.py`` from the type hints and docstrings;
- ``jsonargparse``: ``ArgumentParser().add_class_arguments(TrainConfig)`` (what LightningCLI uses);
- ``tyro``: ``tyro.cli(TrainConfig)``.

For every TrainConfig and AugmentConfig field that ``resnetzoo train`` has an option for, the option's
help block is checked for the field's doc text (its first words), its type and its default, and whether
the option keeps the name resnetzoo has today (``--batch-size``, ``--no-flip``, ``--cutout``). Start-up is
the median of ``--runs`` fresh processes printing that help (each imports torch, through TrainConfig),
and of importing the library alone.

Run: ``PYTHONPATH=. python benchmarks/bench_cli.py [--runs 5]``. Prints one table; the times depend on
the machine and its load.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import get_type_hints

ROOT = Path(__file__).resolve().parent.parent

HELP = {
    "argparse": (
        "from resnetzoo.cli import build_parser; build_parser('train').parse_args(['train', '--help'])"
    ),
    "jsonargparse": (
        "from jsonargparse import ArgumentParser; from resnetzoo.train.config import TrainConfig; "
        "p = ArgumentParser(prog='resnetzoo train'); p.add_class_arguments(TrainConfig, nested_key=None); "
        "p.parse_args(['--help'])"
    ),
    "tyro": (
        "import tyro; from resnetzoo.train.config import TrainConfig; "
        "tyro.cli(TrainConfig, prog='resnetzoo train', args=['--help'])"
    ),
}
IMPORT = {"argparse": "import argparse", "jsonargparse": "import jsonargparse", "tyro": "import tyro"}


def _run(code: str) -> tuple[float, str]:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    return time.perf_counter() - start, out.stdout + out.stderr


def _blocks(help_text: str) -> dict[str, str]:
    """Option string -> the text of its help entry (its line and the lines up to the next option)."""
    body = help_text.split("\n\n", 1)[-1]  # past the usage lines
    blocks: dict[str, str] = {}
    flags: list[str] = []
    for raw in body.splitlines():
        line = raw.strip().strip("│╭╰─").strip()
        if line.startswith("-"):
            flags = [flag.rstrip(",") for flag in re.findall(r"--?[\w.\-]+", line.split("  ")[0])]
            for flag in flags:
                blocks[flag] = line
        elif flags and line:
            for flag in flags:
                blocks[flag] += " " + line
    return {flag: " ".join(text.split()) for flag, text in blocks.items()}


def _score(help_text: str) -> dict[str, int]:
    from resnetzoo.cli import build_parser
    from resnetzoo.cli._config import field_docs
    from resnetzoo.data import AugmentConfig
    from resnetzoo.train import TrainConfig

    parser = build_parser("train")
    train = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    today = {action.dest: action.option_strings for action in train._actions}
    blocks = _blocks(help_text)
    score = {"fields": 0, "doc": 0, "type": 0, "default": 0, "today's name": 0}
    for cls, prefix in ((TrainConfig, ""), (AugmentConfig, "augment.")):
        docs, hints = field_docs(cls), get_type_hints(cls)
        for spec in dataclasses.fields(cls):
            if prefix + spec.name not in today:
                continue
            score["fields"] += 1
            names = [
                "--" + prefix + spec.name,
                "--" + prefix + spec.name.replace("_", "-"),
                "--" + spec.name.replace("_", "-"),
                "--" + spec.name,
            ]
            block = next((blocks[n] for n in names if n in blocks), "")
            if any(n in blocks for n in today[prefix + spec.name]):
                score["today's name"] += 1
            words = " ".join(docs.get(spec.name, "").split()[:4])
            score["doc"] += bool(words) and words in block
            kind = str(hints[spec.name]).replace("typing.", "")
            names_of_type = re.findall(r"int|float|str|bool", kind)
            shown = block.lower()
            score["type"] += any(t in shown for t in names_of_type) or ("true,false" in shown)
            score["default"] += "default" in shown
    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    import torch

    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, torch {torch.__version__}, load {os.getloadavg()[0]:.1f}"
    )
    rows = []
    for name, code in HELP.items():
        _, text = _run(code)
        score = _score(text)
        helps, imports = [], []
        for _ in range(args.runs):  # paired: the candidates' runs interleave with their import runs
            helps.append(_run(code)[0])
            imports.append(_run(IMPORT[name])[0])
        rows.append((name, score, statistics.median(helps), statistics.median(imports)))
    n = rows[0][1]["fields"]
    print(
        f"| library | doc shown | type shown | default shown | today's option name | "
        f"`train --help` (median of {args.runs}) | `import` alone |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, score, helps, imports in rows:
        cells = [f"{score[k]}/{n}" for k in ("doc", "type", "default", "today's name")]
        print(f"| {name} | {' | '.join(cells)} | {helps:.2f} s | {imports:.2f} s |")


if __name__ == "__main__":
    main()
