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


_IMPORTED = """
import sys
from resnetzoo.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(sorted({name.split(".")[0] for name in sys.modules} & {"torch", "torchvision", "huggingface_hub"}))
"""


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["train", "--nonsense"]])
def test_version_and_help_answer_without_importing_torch(args):
    """Issue 21: the command line answers at once; each command imports what it uses."""
    out = subprocess.run([sys.executable, "-c", _IMPORTED, *args], capture_output=True, text=True, check=True)
    wanted = "[]" if args[0] != "train" else "['huggingface_hub', 'torch', 'torchvision']"
    assert out.stdout.splitlines()[-1] == wanted


def test_import_resnetzoo_imports_no_torch_until_a_name_needs_it():
    code = (
        "import sys, resnetzoo as rz; print('torch' in sys.modules, rz.__version__ is not None, "
        "rz.ResnetzooError.__name__, 'torch' in sys.modules); "
        "print(rz.count_parameters(rz.resnet20_cifar()), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["False True ResnetzooError False", "269722 True"]


def test_the_lazy_public_names_are_the_objects_of_their_modules():
    import resnetzoo.explain
    import resnetzoo.export
    import resnetzoo.models.resnet
    import resnetzoo.predict

    # Importing a module of the same name as a function does not rebind the function.
    modules = [sys.modules[f"resnetzoo.{name}"] for name in ("export", "explain", "predict")]
    assert (rz.export, rz.explain, rz.predict) == tuple(m.__dict__[m.__name__[10:]] for m in modules)
    assert list(rz._FACTORIES) == resnetzoo.models.resnet.__all__
    eager = set(rz.__all__) - {*rz._LAZY, *rz._SUBPACKAGES, "__version__"}
    assert all(getattr(rz, name) is getattr(rz.errors, name) for name in eager)
    assert all(getattr(rz, name) is not None for name in rz.__all__)
    with pytest.raises(AttributeError, match="has no attribute 'resnet19_cifar'"):
        rz.resnet19_cifar  # noqa: B018
