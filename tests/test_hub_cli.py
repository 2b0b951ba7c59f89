"""The ``resnetzoo convert`` and ``resnetzoo push`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from fakehub import WRITE_TOKEN, FakeHub
from helpers import logits

import resnetzoo as rz
from resnetzoo.cli import main

pytestmark = pytest.mark.usefixtures("single_thread")


def test_convert_writes_a_loadable_repo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    reference = rz.resnet20_cifar().eval()
    state = {"module." + k.replace("fc.", "linear."): v for k, v in reference.state_dict().items()}
    torch.save({"state_dict": state, "best_prec1": 91.7}, tmp_path / "resnet20.th")

    code = main(
        [
            "convert",
            str(tmp_path / "resnet20.th"),
            str(tmp_path / "out"),
            "--model",
            "resnet20_cifar",
            "--layout",
            "kuangliu",  # these keys were renamed only, no akamaster padding to undo
            "--dataset",
            "cifar10",
            "--mean",
            "0.485",
            "0.456",
            "0.406",
            "--std",
            "0.229",
            "0.224",
            "0.225",
        ]
    )
    assert code == 0
    assert f"wrote {tmp_path / 'out'}" in capsys.readouterr().out
    loaded = rz.from_pretrained(tmp_path / "out")
    assert torch.equal(logits(loaded, n=2), logits(reference, n=2))
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["mean"] == [0.485, 0.456, 0.406]
    assert config["categories"][0] == "airplane"


def test_convert_of_a_checkpoint_that_does_not_fit_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch.save(rz.resnet56_cifar().state_dict(), tmp_path / "r56.pt")
    code = main(["convert", str(tmp_path / "r56.pt"), str(tmp_path / "out"), "--model", "resnet20_cifar"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("resnetzoo convert: error: the state dict does not fit resnet20_cifar")
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("layout", ["flat", "run"])
def test_push_a_saved_model_or_a_run(
    fake_hub: FakeHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    layout: str,
) -> None:
    monkeypatch.setenv("HF_TOKEN", WRITE_TOKEN)
    model = rz.resnet20_cifar()
    run_dir = tmp_path / "run"
    rz.save_pretrained(model, run_dir / "best" if layout == "run" else run_dir, metrics={"top1": 0.901})

    assert main(["push", str(run_dir), "--repo-id", "me/r20", "--dataset", "cifar10"]) == 0
    head = fake_hub.repos["me/r20"].branches["main"]
    assert f"revision {head}" in capsys.readouterr().out
    pushed = rz.from_pretrained("hf-hub:me/r20", progress=False)
    assert torch.equal(logits(pushed, n=2), logits(model, n=2))
    assert dict(pushed.pretrained_cfg.metrics) == {"top1": 0.901}
    assert pushed.pretrained_cfg.dataset == "cifar10"
    card = fake_hub.repos["me/r20"].commits[head]["README.md"].decode()
    assert "datasets:\n- uoft-cs/cifar10" in card
    assert "value: 90.1" in card  # the model-index, in percent


def test_push_errors_are_one_line(
    fake_hub: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["push", str(tmp_path), "--repo-id", "me/r20"]) == 2
    assert "has no config.json" in capsys.readouterr().err
    rz.save_pretrained(rz.resnet20_cifar(), tmp_path / "m")
    assert main(["push", str(tmp_path / "m"), "--repo-id", "me/r20"]) == 2  # no token
    err = capsys.readouterr().err
    assert err.startswith(
        "resnetzoo push: error: pushing to 'me/r20' failed (HTTP 401 from http://127.0.0.1:"
    )
    assert "Invalid credentials" in err
    assert err.count("\n") == 1


def test_convert_into_a_saved_model_needs_force_and_keeps_its_metadata(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """convert replaced an existing config.json and erased its class names, mean, std and metrics."""
    torch.manual_seed(0)
    model = rz.resnet20_cifar()
    folder = rz.save_pretrained(
        model,
        tmp_path / "saved",
        dataset="cifar10",
        mean=(0.5, 0.4, 0.3),
        std=(0.2, 0.2, 0.2),
        metrics={"top1": 91.5},
    )
    torch.save(model.state_dict(), tmp_path / "same.pt")
    torch.save(rz.resnet20_cifar().state_dict(), tmp_path / "other.pt")  # other weights, same task
    before = (folder / "config.json").read_bytes()
    convert = ["convert", "--model", "resnet20_cifar"]

    assert main([*convert, str(tmp_path / "same.pt"), str(folder)]) == 2
    err = capsys.readouterr().err
    assert (
        f"{folder} already holds a saved resnet20_cifar model (config.json, model.safetensors); pass --force"
        in err
    )
    assert (folder / "config.json").read_bytes() == before

    assert main([*convert, str(tmp_path / "same.pt"), str(folder), "--force"]) == 0
    capsys.readouterr()
    config = json.loads((folder / "config.json").read_text())
    assert (config["categories"][3], config["mean"], config["metrics"]) == (
        "cat",
        [0.5, 0.4, 0.3],
        [{"name": "top1", "value": 91.5, "split": None, "num_images": None}],
    )

    assert (
        main([*convert, str(tmp_path / "other.pt"), str(folder), "--force", "--std", "0.3", "0.3", "0.3"])
        == 0
    )
    assert "dropped what described the folder's previous weights: metrics" in capsys.readouterr().out
    config = json.loads((folder / "config.json").read_text())
    assert (config["categories"][3], config["dataset"], config["mean"]) == ("cat", "cifar10", [0.5, 0.4, 0.3])
    assert (config["std"], config["metrics"]) == (
        [0.3, 0.3, 0.3],
        [],
    )  # given anew; measured on other weights
    loaded = rz.from_pretrained(folder)
    assert torch.equal(loaded.state_dict()["fc.weight"], torch.load(tmp_path / "other.pt")["fc.weight"])

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"epochs": 30, "lr": 0.1}))  # a TrainConfig, not a model
    assert main([*convert, str(tmp_path / "same.pt"), str(run), "--force"]) == 2
    assert "holds a config.json that is not a saved model's" in capsys.readouterr().err
    assert json.loads((run / "config.json").read_text()) == {"epochs": 30, "lr": 0.1}
