"""hubconf.py: torch.hub serves every registered model from a checkout of the repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import resnetzoo as rz

REPO = str(Path(__file__).resolve().parents[1])


def _import_hubconf():
    # torch.hub.list and torch.hub.help take only GitHub repositories; the entry points they report
    # are the public callables of hubconf.py, imported the way torch.hub.load imports it.
    return torch.hub._import_module("hubconf", str(Path(REPO) / "hubconf.py"))


def test_hub_lists_exactly_the_registered_models():
    hubconf = _import_hubconf()
    entry_points = sorted(n for n in dir(hubconf) if callable(getattr(hubconf, n)) and not n.startswith("_"))
    assert entry_points == rz.list_models()
    assert hubconf.dependencies == ["torch", "torchvision", "huggingface_hub", "safetensors"]


def test_load_resnet18_from_local_checkout():
    model = torch.hub.load(REPO, "resnet18_cifar", source="local")
    assert isinstance(model, rz.CifarResNet)
    assert rz.count_parameters(model) == 11_173_962
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_keyword_arguments_reach_the_factory():
    model = torch.hub.load(REPO, "resnet20_cifar", source="local", num_classes=100, shortcut="B")
    assert model.fc.out_features == 100
    assert model.model_kwargs["shortcut"] == "B"


def test_entry_points_carry_the_factory_docs_and_signature():
    import inspect

    entry_point = _import_hubconf().resnet56_cifar
    assert entry_point.__doc__ == rz.resnet56_cifar.__doc__
    assert inspect.signature(entry_point) == inspect.signature(rz.resnet56_cifar)


def test_unknown_entry_point_is_a_clear_error():
    with pytest.raises(RuntimeError, match="Cannot find callable resnet19_cifar in hubconf"):
        torch.hub.load(REPO, "resnet19_cifar", source="local")


def test_fresh_interpreter_loads_from_the_checkout_it_points_at(tmp_path):
    # What a user does: a new process, anywhere on disk, with only the checkout's path.
    script = (
        "import sys, torch\n"
        f"model = torch.hub.load({REPO!r}, 'resnet20_cifar', source='local', num_classes=3)\n"
        "print(sys.modules['resnetzoo'].__file__, model.fc.out_features)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    module_file, out_features = out.stdout.split()
    assert Path(module_file).is_relative_to(REPO)
    assert out_features == "3"
