"""``resnetzoo train`` and ``resnetzoo eval`` on tiny runs: the bundled sample and an image folder."""

from __future__ import annotations

import errno
import json
import logging
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from train_helpers import child_env, run_python

import resnetzoo as rz
from resnetzoo import RunFolderInUseError
from resnetzoo.cli import main
from resnetzoo.train import TrainConfig, Trainer, read_checkpoint
from resnetzoo.train import checkpoint as checkpoint_module

# Tiny models: a second torch thread only adds barriers (see helpers.pinned_threads).
pytestmark = pytest.mark.usefixtures("single_thread")

TINY = ["--epochs", "1", "--batch-size", "32", "--limit-batches", "2", "--device", "cpu", "--no-progress"]


def test_train_without_cifar_files_uses_the_bundled_sample_then_tests_once(
    tmp_path, caplog, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # no data/ here
    out = tmp_path / "run"
    named = ["train", "--data", "cifar10", "--data-dir", str(tmp_path / "empty"), "--out", str(out), *TINY]
    assert main(named) == 2  # a data set named on the command line must be there: no silent fallback
    err = capsys.readouterr().err
    assert f"CIFAR-10 files not found: {tmp_path / 'empty' / 'cifar-10-batches-py'} lacks data_batch_1" in err
    assert not out.exists()  # the data is read before the run takes its folder: nothing was written
    args = ["train", "--out", str(out), *TINY]
    with caplog.at_level(logging.INFO, logger="resnetzoo"):
        assert main(args) == 0
    assert "no CIFAR-10 in data/cifar-10-batches-py: using the bundled 5,000-image sample" in caplog.text
    assert (
        "training resnet20_cifar with recipe 'fast' on the bundled CIFAR-10 sample: 4500 train, 500 val, "
        "1000 test images"
    ) in caplog.text
    printed = capsys.readouterr().out
    assert "selected epoch 1: val top-1" in printed
    assert "test (1,000 images): top-1" in printed
    metrics = json.loads((out / "test_metrics.json").read_text())
    assert set(metrics) == {"loss", "top1", "top5", "top1_tta"}  # the fast recipe reports flip-TTA
    best = rz.from_pretrained(out)
    assert (best.model_name, best.model_kwargs["num_classes"]) == ("resnet20_cifar", 10)
    record = best.pretrained_cfg
    assert (record.dataset, record.recipe, record.categories[0]) == ("cifar10_sample", "fast", "airplane")
    assert record.metrics["top1"] == metrics["top1"]  # the one test, in the weights' record too

    # A second run into the same folder must not overwrite the first; --resume continues it.
    assert main(args) == 2
    assert "holds checkpoints of an earlier run" in capsys.readouterr().err
    assert main([*args, "--epochs", "2", "--resume", "auto"]) == 0
    assert (out / "checkpoints" / "epoch_0002.pt").is_file()

    assert main(["eval", "--weights", str(out), "--data", "sample", "--device", "cpu"]) == 0
    assert "test (1,000 images): top-1" in capsys.readouterr().out


def write_folder(root, classes=("blue", "red"), per_class=12):
    rng = np.random.default_rng(0)
    for split, n in (("train", per_class), ("test", per_class // 3)):
        for c, name in enumerate(classes):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 100, (32, 32, 3), dtype=np.uint8)
                pixels[..., 2 * c] += 150  # blue or red dominates
                Image.fromarray(pixels).save(root / split / name / f"{i}.png")


def test_train_and_eval_on_an_image_folder(tmp_path, capsys):
    write_folder(tmp_path / "images")
    out = tmp_path / "run"
    tiny = ["--device", "cpu", "--no-progress", "--batch-size", "4", "--epochs", "2"]
    args = ["train", "--data", str(tmp_path / "images"), "--recipe", "seed", "--out", str(out), *tiny]
    assert main(args) == 0
    assert "test (8 images): top-1" in capsys.readouterr().out
    assert (out / "metrics.csv").read_text().count("\n") == 3  # header and 2 epochs
    # The selected model is also a Hub repo folder: a run folder works wherever a saved model does.
    saved = rz.from_pretrained(out / "best")
    assert saved.pretrained_cfg.categories == ("blue", "red")
    image = str(next((tmp_path / "images" / "test" / "red").iterdir()))
    assert main(["predict", "--weights", str(out), "--topk", "1", image]) == 0
    assert capsys.readouterr().out.splitlines()[0] == image
    code = main(
        [
            "eval",
            "--checkpoint",
            str(out / "checkpoints" / "epoch_0002.pt"),
            "--data",
            str(tmp_path / "images"),
        ]
    )
    assert code == 0
    assert "test (8 images)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["train", "--data", "no/such/folder"],
            "neither cifar10, cifar100, sample nor an existing image folder",
        ),
        (["train", "--data", "sample", "--model", "resnet19_cifar"], "unknown model 'resnet19_cifar'"),
        (["train", "--data", "sample", "--lr", "0"], "--lr must be a finite number > 0; got 0.0"),
    ],
)
def test_user_errors_are_one_line(tmp_path, capsys, args, message):
    assert main([*args, "--out", str(tmp_path / "run"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


HOLD_THE_FOLDER = """
import sys
from resnetzoo.train._run_lock import run_folder_lock
with run_folder_lock(sys.argv[1]):
    print("holding", flush=True)
    sys.stdin.read()
"""


def test_a_run_owns_its_folder_until_its_process_ends(tmp_path, capsys):
    """Two runs into one fresh folder both started and mixed their files; the second is refused now."""
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_FOLDER, str(out)],
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "holding\n"
        args = ["train", "--data", "sample", "--out", str(out), *TINY]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert f"resnetzoo train: error: {out} is in use by another run" in err
        assert "choose another --out" in err
        assert [p.name for p in out.iterdir()] == [".resnetzoo.lock"]  # the refused run wrote nothing
        config = TrainConfig(epochs=1, device="cpu", progress=False, out_dir=str(out))
        with pytest.raises(RunFolderInUseError, match="choose another out_dir"):
            Trainer(rz.resnet20_cifar(), config).fit([(torch.zeros(2, 3, 8, 8), torch.zeros(2).long())])
        holder.kill()  # SIGKILL: no clean-up runs, the kernel drops the lock with the process
        holder.wait(timeout=30)
        assert main(args) == 0
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert (out / "best" / "model.safetensors").is_file()


KILLED_AT_EPOCH_2 = """
import os, signal, sys
import resnetzoo.train.trainer as trainer_module
from resnetzoo.cli import main
from resnetzoo.train import Callback

class KillAt(Callback):  # SIGKILL after the 4th batch of the 2nd epoch: nothing gets to clean up
    def on_batch_end(self, trainer):
        if (trainer.epoch, trainer.batch_index) == (1, 3):
            os.kill(os.getpid(), signal.SIGKILL)

builtin = trainer_module.default_callbacks
trainer_module.default_callbacks = lambda config, user=(): builtin(config, [*user, KillAt()])
sys.exit(main(sys.argv[1:]))
"""


def test_the_same_command_gives_the_same_run_and_a_killed_run_resumes_to_it(tmp_path):
    """The CLI built the model before anything was seeded: two runs of one command gave two models.

    The first run is this process's (one thread, as the children's); the second is a process of its
    own (torch seeds its generators at random when a process starts), killed in its second epoch and
    resumed with --resume auto in a third.
    """
    write_folder(tmp_path / "images", per_class=16)
    command = ["train", "--data", str(tmp_path / "images"), "--epochs", "3", "--batch-size", "4"]
    command += ["--device", "cpu", "--no-progress"]
    assert main([*command, "--out", str(tmp_path / "a")]) == 0
    killed = run_python("-c", KILLED_AT_EPOCH_2, *command, "--out", str(tmp_path / "b"), check=False)
    assert killed.returncode == -signal.SIGKILL
    assert [p.name for p in (tmp_path / "b" / "checkpoints").iterdir()] == ["epoch_0001.pt"]
    run_python("-m", "resnetzoo", *command, "--out", str(tmp_path / "b"), "--resume", "auto")

    first, second = (read_checkpoint(tmp_path / run / "checkpoints" / "epoch_0003.pt") for run in "ab")
    assert first["model"].keys() == second["model"].keys()
    for key, value in first["model"].items():
        assert torch.equal(value, second["model"][key]), key
    timing = ("time_s", "images_per_s")
    untimed = [
        [{k: v for k, v in row.items() if k not in timing} for row in run["history"]]
        for run in (first, second)
    ]
    assert untimed[0] == untimed[1]
    # best/ holds the same tensors and the same metadata. Not the same bytes: safetensors writes its metadata
    # map in the order of a Rust HashMap seeded per process, so two processes may order the keys differently.
    best = [safe_open(tmp_path / run / "best" / "model.safetensors", framework="pt") for run in "ab"]
    assert best[0].metadata() == best[1].metadata()
    names = sorted(best[0].keys())
    assert names == sorted(best[1].keys())
    for key in names:
        assert torch.equal(best[0].get_tensor(key), best[1].get_tensor(key)), key
    assert (tmp_path / "a" / "test_metrics.json").read_text() == (
        tmp_path / "b" / "test_metrics.json"
    ).read_text()


def _cuda_missing() -> bool:
    return not torch.cuda.is_available()


def test_user_errors_of_the_environment_are_one_line_in_cli_words(tmp_path, capsys, monkeypatch):
    """An --out that is a file or cannot be written, a full disk, a GPU that is not there, a checkpoint of
    another architecture, a stray WORLD_SIZE: one line each, exit 2, never a traceback."""

    def error(args):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert err.startswith(
            f"resnetzoo {args[0]}: error: "
        )  # the one message (a load report has more lines)
        return err

    train = ["train", "--data", "sample", *TINY]
    (tmp_path / "a-file").write_text("not a folder")
    err = error([*train, "--out", str(tmp_path / "a-file")])
    assert f"--out {tmp_path / 'a-file'} is a file, not a folder: choose another --out" in err

    def read_only(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    with monkeypatch.context() as patch:
        patch.setattr(Path, "mkdir", read_only)
        err = error([*train, "--out", str(tmp_path / "read-only" / "run")])
    assert f"{tmp_path / 'read-only' / 'run'}: Permission denied (EACCES)" in err

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(checkpoint_module.torch, "save", disk_full)
        err = error([*train, "--out", str(tmp_path / "full")])
    written = tmp_path / "full" / "checkpoints" / "epoch_0001.pt"  # the first file torch.save writes
    assert f"could not write checkpoint {written} (No space left on device)" in err
    assert err.rstrip().endswith("(ENOSPC)")
    assert ".tmp" not in err  # the temporary file's name is never shown
    assert not written.exists()

    if _cuda_missing():
        err = error([*train, "--out", str(tmp_path / "gpu"), "--device", "cuda"])
        assert "--device='cuda' asks for CUDA, which is not available here" in err

    assert main([*train, "--out", str(tmp_path / "r20")]) == 0
    capsys.readouterr()
    for weights in ("best/model.safetensors", "checkpoints/epoch_0001.pt"):
        err = error(["eval", "--checkpoint", str(tmp_path / "r20" / weights), "--model", "resnet32_cifar"])
        assert "the state dict does not fit resnet32_cifar" in err

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    for name in ("MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    err = error([*train, "--out", str(tmp_path / "stray")])
    assert "MASTER_ADDR and MASTER_PORT are not set: this process is rank 1 of a 2-process job" in err


def test_ctrl_c_says_how_to_continue(tmp_path, capsys, monkeypatch):
    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_fit", interrupted)
    out = tmp_path / "run"
    assert main(["train", "--data", "sample", "--out", str(out), *TINY]) == 130
    err = capsys.readouterr().err
    assert err == (
        f"resnetzoo train: interrupted; what was checkpointed is in {out}: continue with resnetzoo train "
        f"--data sample --out {out} {' '.join(TINY)} --resume auto\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["train", "--data", "sample", "--seed", "-1"],
            "--seed must be None or an integer in [0, 2**63); got -1",
        ),
        (["train", "--data", "sample", "--val-size", "-5"], "--val-size must be an integer in [0, 5000)"),
        (
            ["train", "--data", "sample", "--limit-batches", "0"],
            "--limit-batches must be None or an integer >= 1",
        ),
        (
            ["fine-tune", "--model", "resnet20_cifar", "--data", "sample", "--lr-mult", "2"],
            "--lr-mult must be in (0, 1]",
        ),
        (
            ["eval", "--model", "resnet20_cifar", "--data", "sample", "--batch-size", "0"],
            "--batch-size must be an integer",
        ),
        (
            ["predict", "--model", "resnet20_cifar", "--topk", "0", "x.png"],
            "--topk must be an integer >= 1; got 0",
        ),
        (
            ["export", "--model", "resnet20_cifar", "--opset", "5", "--output", "m.onnx"],
            "--opset must be None or an",
        ),
    ],
    ids=["seed", "val-size", "limit-batches", "lr-mult", "batch-size", "topk", "opset"],
)
def test_a_bad_option_value_names_the_option(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"resnetzoo {args[0]}: error: {message}")
    assert "Traceback" not in err


def test_ctrl_c_during_distill_says_how_to_continue_as_train_does(tmp_path, capsys, monkeypatch):
    teacher = tmp_path / "teacher"
    rz.save_pretrained(rz.resnet20_cifar(), teacher, dataset="cifar10")

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_fit", interrupted)
    out = tmp_path / "run"
    args = ["distill", "--data", "sample", "--teacher", str(teacher), "--student", "resnet20_cifar"]
    args += ["--out", str(out), *TINY]
    assert main(args) == 130
    err = capsys.readouterr().err
    assert err == (
        f"resnetzoo distill: interrupted; what was checkpointed is in {out}: continue with resnetzoo "
        f"{' '.join(args)} --resume auto\n"
    )


@pytest.mark.parametrize(
    ("flag", "field"),
    [("--limit-batches", "limit_train_batches"), ("--limit-train-batches", "limit_train_batches")],
)
def test_a_bad_value_names_the_option_that_was_typed(tmp_path, capsys, flag, field):
    """The error's parameter (ArgumentError.param) is mapped to the option the user gave, not a guess."""
    assert main(["train", "--data", "sample", flag, "0", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err == f"resnetzoo train: error: {flag} must be None or an integer >= 1; got 0\n"


def test_argument_errors_carry_the_parameter_they_are_about():
    with pytest.raises(rz.ArgumentError) as info:
        TrainConfig(lr=0)
    assert info.value.param == "TrainConfig.lr"
    with pytest.raises(rz.ArgumentError) as info:
        TrainConfig(augment={"cutout": -1})
    assert info.value.param == "TrainConfig.augment.cutout"
    with pytest.raises(rz.ArgumentTypeError) as info:
        TrainConfig(epochs=2.5)
    assert info.value.param == "TrainConfig.epochs"
    with pytest.raises(rz.ArgumentError) as info:
        rz.predict(rz.resnet20_cifar(), [], topk=0)
    assert info.value.param == "topk"
