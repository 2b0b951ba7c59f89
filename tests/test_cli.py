"""The command line is a thin layer over the public API: check what it prints."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import resnetzoo as rz
from resnetzoo.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"resnetzoo {rz.__version__}"


def test_list(capsys):
    assert main(["list"]) == 0
    assert capsys.readouterr().out.split() == rz.list_models()


def test_list_verbose_prints_params_and_flops(capsys):
    assert main(["list", "--verbose", "resnet2*"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["model", "params", "GFLOPs/img"]
    assert lines[1].split() == ["resnet20_cifar", "269,722", "0.081"]


def test_console_entry_point_runs_as_module():
    out = subprocess.run(
        [sys.executable, "-m", "resnetzoo", "list", "resnet5*"], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["resnet50_cifar", "resnet56_cifar", "resnet56b_cifar"]


def test_a_reader_that_stops_early_ends_the_command_quietly():
    """`resnetzoo list | head -1`: no error message, no traceback, exit status 141 as for SIGPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    try:
        out = subprocess.run(
            [sys.executable, "-m", "resnetzoo", "list"], stdout=write_end, stderr=subprocess.PIPE, text=True
        )
    finally:
        os.close(write_end)
    assert (out.returncode, out.stderr) == (141, "")
