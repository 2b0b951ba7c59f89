"""Export specifications: exported files compute what the PyTorch model computes, at any batch size."""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import runpy
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from helpers import tiny_model
from safetensors.torch import save_file
from train_helpers import with_running_stats

import resnetzoo as rz
from resnetzoo.cli import main
from resnetzoo.export import ExportCheckError

# `resnetzoo.export` is the function; the module is reached through importlib to monkeypatch it.
export_module = importlib.import_module("resnetzoo.export")

# The tests load TorchScript files themselves, and torch.jit.load warns that TorchScript is deprecated.
JIT_LOAD_DEPRECATED = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")

CATEGORIES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CFG = {"categories": CATEGORIES, "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]}


def _run_onnx(path, x: torch.Tensor) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": x.numpy()})
    return out


@pytest.fixture(scope="module", params=["resnet20_cifar", "resnet18_cifar"])
def exported_onnx(request, tmp_path_factory):
    model = with_running_stats(rz.create_model(request.param))
    model.pretrained_cfg = dataclasses.replace(model.pretrained_cfg, **CFG)
    path = rz.export(model, tmp_path_factory.mktemp("onnx") / f"{request.param}.onnx")
    return model, path


@pytest.mark.parametrize("batch", [1, 5])
def test_onnx_matches_pytorch_at_any_batch_size(exported_onnx, batch):
    model, path = exported_onnx
    x = torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(batch))
    out = _run_onnx(path, x)
    with torch.no_grad():
        ref = model(x).numpy()
    assert out.shape == (batch, 10)
    assert np.abs(out - ref).max() <= 1e-4


def test_onnx_graph_has_named_dynamic_batch_and_metadata(exported_onnx):
    model, path = exported_onnx
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    (inp,) = proto.graph.input
    (out,) = proto.graph.output
    assert (inp.name, out.name) == ("input", "logits")
    assert [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim] == ["batch", 3, 32, 32]
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["batch", 10]
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["resnetzoo_version"] == rz.__version__
    assert meta["model_name"] == model.model_name
    assert json.loads(meta["categories"]) == CATEGORIES
    assert json.loads(meta["mean"]) == CFG["mean"]
    assert json.loads(meta["std"]) == CFG["std"]
    assert json.loads(meta["input_size"]) == [3, 32, 32]
    assert meta["num_classes"] == "10"
    # What a deployment reads back without onnx installed.
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map == meta


def test_static_batch_onnx(tmp_path):
    model = with_running_stats(tiny_model())
    path = rz.export(model, tmp_path / "static.onnx", dynamic_batch=False)
    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [1, 3, 32, 32]
    assert "num_classes" in {p.key for p in onnx.load(str(path)).metadata_props}
    assert "categories" not in {p.key for p in onnx.load(str(path)).metadata_props}  # no pretrained_cfg


def test_export_leaves_the_callers_model_unchanged(tmp_path):
    # fp64 and training mode with one frozen BatchNorm in eval: a mutation of any of these would show.
    model = with_running_stats(tiny_model()).double().train()
    model.layer2[0].bn1.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]

    rz.export(model, tmp_path / "m.onnx")

    assert [m.training for m in model.modules()] == modes
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) and before[k].dtype == after[k].dtype for k in before)
    assert {p.device.type for p in model.parameters()} == {"cpu"}
    assert next(model.parameters()).dtype == torch.float64


@JIT_LOAD_DEPRECATED
def test_torchscript_round_trip(tmp_path, caplog):
    model = with_running_stats(rz.resnet20_cifar())
    model.pretrained_cfg = dataclasses.replace(model.pretrained_cfg, **CFG)
    with caplog.at_level(logging.INFO, logger="resnetzoo.export"):
        path = rz.export(model, tmp_path / "m.pt", format="torchscript")
    assert "scripted resnet20_cifar" in caplog.text
    extra = {"resnetzoo.json": ""}
    loaded = torch.jit.load(str(path), _extra_files=extra)
    meta = json.loads(extra["resnetzoo.json"])
    assert meta["categories"] == CATEGORIES
    assert meta["model_name"] == "resnet20_cifar"
    for batch in (1, 5):
        x = torch.randn(batch, 3, 32, 32)
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=1e-6)


@JIT_LOAD_DEPRECATED
@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")  # tracing the model's input check, as expected
def test_torchscript_falls_back_to_tracing_and_says_so(tmp_path, monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise RuntimeError("pretend this model uses unsupported Python")

    monkeypatch.setattr(torch.jit, "script", refuse)
    model = with_running_stats(tiny_model())
    with caplog.at_level(logging.WARNING, logger="resnetzoo.export"):
        path = rz.export(model, tmp_path / "m.pt", format="torchscript")
    assert "torch.jit.script failed (pretend this model uses unsupported Python); traced" in caplog.text
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.load(str(path))(x), model(x), rtol=0, atol=1e-6)


def _fail_writing(model, example, path, **kwargs):
    path.write_bytes(b"half a model")
    raise RuntimeError("disk full")


def _wrong_reference(model, x):
    return model(x).detach().numpy() + 1e-3  # as if the exported graph were off by 1e-3


@pytest.mark.parametrize(
    ("target", "replacement", "error"),
    [
        ("_write_onnx", _fail_writing, RuntimeError),
        ("_reference", _wrong_reference, export_module.ExportCheckError),
    ],
    ids=["write-fails", "check-fails"],
)
def test_failed_export_keeps_the_existing_file(tmp_path, monkeypatch, target, replacement, error):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"the previous, good model")
    monkeypatch.setattr(export_module, target, replacement)
    with pytest.raises(error):
        rz.export(tiny_model(), path)
    assert path.read_bytes() == b"the previous, good model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]  # no temporary file left


@pytest.mark.parametrize("module", ["onnxruntime", "onnxscript", "onnx"])
def test_missing_optional_dependency_says_how_to_install(tmp_path, monkeypatch, module):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    with pytest.raises(ImportError, match=r'pip install "resnetzoo\[export\]"') as exc:
        rz.export(tiny_model(), tmp_path / "m.onnx")
    assert repr(module) in str(exc.value)
    assert not any(tmp_path.iterdir())


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="format must be one of 'onnx', 'torchscript'; got 'tflite'"):
        rz.export(tiny_model(), tmp_path / "m.tflite", format="tflite")
    with pytest.raises(ValueError, match="opset applies to ONNX only"):
        rz.export(tiny_model(), tmp_path / "m.pt", format="torchscript", opset=17)
    with pytest.raises(ValueError, match="is a directory"):
        rz.export(tiny_model(), tmp_path)
    with pytest.raises(ValueError, match=r"input_size must be \(channels, height, width\)"):
        rz.export(tiny_model(), tmp_path / "m.onnx", input_size=(32, 32))


@JIT_LOAD_DEPRECATED
def test_cli_export_from_a_checkpoint(tmp_path, capsys):
    source = with_running_stats(rz.resnet20_cifar(num_classes=100))
    checkpoint = tmp_path / "r20.safetensors"
    save_file(source.state_dict(), str(checkpoint))
    out = tmp_path / "exported" / "r20.pt"
    args = ["export", "--model", "resnet20_cifar", "--checkpoint", str(checkpoint)]
    assert main([*args, "--format", "torchscript", "--output", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out} (torchscript, 1.2 MB, checked against PyTorch)")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.load(str(out))(x), source(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("opset", [13, 17])  # 11 in test_the_opset_written_is_the_opset_asked_for
def test_an_opset_below_18_is_written_as_asked(tmp_path, opset, caplog):
    """The torch.export-based exporter wrote opset 18 for opset=13 and the CLI said it was checked."""
    model = with_running_stats(tiny_model())
    with caplog.at_level(logging.INFO, logger="resnetzoo"):
        path = rz.export(model, tmp_path / "m.onnx", opset=opset)  # checked with onnxruntime at batch 1, 2, 5
    assert "TorchScript-based exporter" in caplog.text
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    assert [(entry.domain, entry.version) for entry in proto.opset_import] == [("", opset)]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert {p.key for p in proto.metadata_props} >= {"resnetzoo_version", "model_name", "num_classes"}
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert np.abs(_run_onnx(path, x) - model(x).numpy()).max() <= 1e-4


def test_the_opset_written_is_the_opset_asked_for(tmp_path, monkeypatch, capsys):
    model = with_running_stats(tiny_model())
    with pytest.raises(rz.ArgumentError, match=r"opset must be None or an integer >= 7; got 5"):
        rz.export(model, tmp_path / "m5.onnx", opset=5)
    original = torch.onnx.export

    def ignores_the_opset(*args, **kwargs):  # what the exporter did below 18: its own choice
        return original(*args, **{**kwargs, "opset_version": None})

    monkeypatch.setattr(torch.onnx, "export", ignores_the_opset)
    with pytest.raises(
        ExportCheckError,
        match=r"asked for ONNX opset 19, but PyTorch's exporter wrote opset \d+; the file was not",
    ):
        rz.export(model, tmp_path / "m19.onnx", opset=19)
    assert not (tmp_path / "m19.onnx").exists()
    monkeypatch.undo()
    out = tmp_path / "cli.onnx"
    assert main(["export", "--model", "resnet20_cifar", "--opset", "11", "--output", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out} (onnx opset 11, ")


def test_cli_export_errors(tmp_path, capsys):
    assert main(["export", "--model", "resnet19_cifar", "--output", str(tmp_path / "m.onnx")]) == 2
    assert "did you mean 'resnet18_cifar'" in capsys.readouterr().err
    assert main(["export", "--output", str(tmp_path / "m.onnx")]) == 2
    assert "--model NAME" in capsys.readouterr().err
    missing = tmp_path / "nope.pt"
    assert main(["export", "--model", "resnet20_cifar", "--checkpoint", str(missing), "--output", "x"]) == 2
    assert capsys.readouterr().err.startswith(f"resnetzoo export: error: checkpoint {missing} does not exist")


def test_example_export_onnx_runs_in_smoke_mode(monkeypatch, capsys):
    example = Path(__file__).parents[1] / "examples" / "export_onnx.py"
    monkeypatch.setattr(sys, "argv", [str(example), "--smoke"])
    runpy.run_path(str(example), run_name="__main__")
    out = capsys.readouterr().out
    assert "resnet20_cifar.onnx: resnet20_cifar, input [3, 32, 32]" in out
    max_diff = float(out.rsplit("probability: ", 1)[1])
    assert max_diff <= 1e-5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_export_of_a_cuda_bf16_model_leaves_it_on_the_gpu(tmp_path):
    model = tiny_model().cuda().bfloat16().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for format in export_module.FORMATS:
        rz.export(model, tmp_path / f"m.{format}", format=format)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert {(p.device.type, p.dtype) for p in model.parameters()} == {("cuda", torch.bfloat16)}
