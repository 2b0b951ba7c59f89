"""Every example runs: ``examples/*.py --smoke`` and ``SMOKE=1 examples/*.sh``, each in its own process.

The examples are found by listing the folder, so a new one is tested without touching this file.
An example states in comment lines what its smoke run needs and prints::

    # smoke-output: test top-1                      (a line of its output must contain this)
    # smoke-requires: onnxruntime onnxscript        (optional: skipped where these are missing)

Smoke runs use the bundled sample and the CPU, never the network, and take seconds each.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
from train_helpers import child_env

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if p.suffix in (".py", ".sh"))


def _markers(path: Path, key: str) -> list[str]:
    return re.findall(rf"^# smoke-{key}: *(.+?) *$", path.read_text(), flags=re.MULTILINE)


def test_the_examples_folder_is_found():
    names = {p.name for p in EXAMPLES}
    assert {"train_cifar10.py", "evaluate_pretrained.py", "distributed_train.sh", "export_onnx.py"} <= names


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_in_smoke_mode(example: Path, tmp_path: Path):
    for requirement in " ".join(_markers(example, "requires")).split():
        if importlib.util.find_spec(requirement) is None:
            pytest.skip(f"{example.name} needs {requirement!r}, which is not installed")
    expected = _markers(example, "output")
    assert expected, f"{example.name}: add a '# smoke-output: <text its --smoke run prints>' line"

    # The examples import this checkout; they run offline, in an empty working directory.
    env = child_env(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"))
    if example.suffix == ".sh":
        env |= {"SMOKE": "1", "PYTHON": sys.executable}
        command = ["bash", str(example)]
    else:
        command = [sys.executable, str(example), "--smoke"]
    proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{example.name} exited with {proc.returncode}:\n{output[-4000:]}"
    for text in expected:
        assert text in proc.stdout, f"{example.name} did not print {text!r}:\n{output[-4000:]}"
    assert not list(tmp_path.glob("runs")), (
        f"{example.name} --smoke left a run folder in the working directory"
    )
