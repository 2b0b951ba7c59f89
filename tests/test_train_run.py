"""From a run to a model in use: the run folder, the data splits, and the train command's settings."""

from __future__ import annotations

import ast
import dataclasses
import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from train_helpers import synthetic_dataset

import resnetzoo as rz
from resnetzoo.cli import build_parser, main
from resnetzoo.data import AugmentConfig, DeviceLoader, TensorImageDataset, load_splits
from resnetzoo.data.constants import CIFAR10_MEAN, CIFAR10_STD
from resnetzoo.train import RunFolder, TrainConfig, Trainer
from resnetzoo.train.config import trajectory_fields

# Tiny models: a second torch thread only adds barriers (see helpers.pinned_threads).
pytestmark = pytest.mark.usefixtures("single_thread")

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

# -- load_splits -----------------------------------------------------------------------------------


def test_load_splits_names_each_data_set_as_the_cli_does(tmp_path: Path) -> None:
    sample = load_splits("sample")
    assert (len(sample.train), len(sample.val), len(sample.test)) == (4500, 500, 1000)
    assert (sample.mean, sample.std, sample.dataset_id) == (CIFAR10_MEAN, CIFAR10_STD, "cifar10_sample")
    assert load_splits("sample", val_size=0).val is None

    for c, name in enumerate(("blue", "red")):
        (tmp_path / "shapes" / name).mkdir(parents=True)
        for i in range(10):
            pixels = np.full((8, 8, 3), 20 * i, np.uint8)
            pixels[..., 2 * c] = 250
            Image.fromarray(pixels).save(tmp_path / "shapes" / name / f"{i}.png")
    folder = load_splits(tmp_path / "shapes", val_size=4)
    assert (len(folder.train), len(folder.val), folder.test) == (16, 4, None)
    assert (folder.dataset_id, folder.train.classes) == ("shapes", ["blue", "red"])
    # Normalised with the training pixels' own statistics, which a model trained on them records.
    pixels = folder.train.data.double() / 255  # (N, H, W, C)
    assert folder.mean == pytest.approx(pixels.mean((0, 1, 2)).tolist())
    assert folder.std == pytest.approx(pixels.std((0, 1, 2), correction=0).tolist(), rel=1e-5)

    with pytest.raises(
        FileNotFoundError, match=r"is neither cifar10, cifar100, sample nor an existing image"
    ):
        load_splits(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py"):
        load_splits("cifar10", tmp_path)  # a named data set never falls back to the sample


# -- the run folder ----------------------------------------------------------------------------------


def tiny_data(n: int, seed: int = 0) -> TensorImageDataset:
    data = synthetic_dataset(n, size=8, seed=seed)
    return TensorImageDataset(data.data, data.targets, data.classes, dataset_id="shapes4")


def test_a_run_folder_describes_its_model_and_loads_anywhere_a_saved_model_does(tmp_path: Path) -> None:
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    model = rz.create_model("resnet20_cifar", num_classes=4)
    config = TrainConfig(epochs=2, batch_size=32, device="cpu", progress=False, loggers=(), recipe="seed")
    trainer = Trainer(model, dataclasses.replace(config, out_dir=str(tmp_path)))
    train = trainer.make_loader(tiny_data(64), train=True, mean=mean, std=std)
    val = trainer.make_loader(tiny_data(32, seed=1), train=False, mean=mean, std=std)
    trainer.fit(train, val)
    metrics = trainer.test(val)

    loaded = rz.from_pretrained(tmp_path)  # the run folder reads as its best/
    record = loaded.pretrained_cfg
    assert (record.architecture, record.dataset, record.recipe) == ("resnet20_cifar", "shapes4", "seed")
    assert record.categories == ("class0", "class1", "class2", "class3")
    assert (record.mean, record.std) == (mean, std)  # what predict and eval normalise with
    assert record.metrics["val_top1"] == trainer.best_metric
    assert record.metrics["top1"] == metrics["top1"]
    assert json.loads((tmp_path / "test_metrics.json").read_text()) == metrics
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    saved = TrainConfig.from_dict(json.loads((tmp_path / "train_config.json").read_text()))
    assert saved == trainer.config


def test_test_records_its_scores_in_the_run_folder_without_saving_the_weights_again(tmp_path: Path) -> None:
    model = rz.create_model("resnet20_cifar", num_classes=4)
    config = TrainConfig(
        epochs=1, batch_size=32, device="cpu", progress=False, loggers=("csv",), out_dir=str(tmp_path)
    )
    trainer = Trainer(model, config)
    assert trainer.run_folder.path == tmp_path
    val = trainer.make_loader(tiny_data(32, seed=1), train=False)
    trainer.fit(trainer.make_loader(tiny_data(64), train=True), val)
    weights = tmp_path / "best" / "model.safetensors"
    before = weights.read_bytes(), weights.stat().st_mtime_ns, weights.stat().st_ino
    assert "top1" not in rz.from_pretrained(tmp_path).pretrained_cfg.metrics

    metrics = trainer.test(val)

    assert (weights.read_bytes(), weights.stat().st_mtime_ns, weights.stat().st_ino) == before
    record = rz.from_pretrained(tmp_path).pretrained_cfg
    assert record.metrics["top1"] == metrics["top1"]
    assert record.metrics["val_top1"] == trainer.best_metric
    # Each score says where it was measured.
    assert (record.metrics.metric("top1").split, record.metrics.metric("top1").num_images) == ("test", 32)
    assert record.metrics.metric("val_top1").split == "val"
    assert f"{100 * metrics['top1']:.2f}" in (tmp_path / "best" / "README.md").read_text()
    assert json.loads(RunFolder(tmp_path).test_metrics_path.read_text()) == metrics


def test_the_run_folder_replaces_a_link_at_a_destination_and_never_writes_through_it(tmp_path: Path) -> None:
    outside, elsewhere = tmp_path / "outside.txt", tmp_path / "elsewhere"
    outside.write_text("keep")
    elsewhere.mkdir()
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    names = ("metrics.csv", "train_config.json", "test_metrics.json", "learning_curves.png")
    for name in names:
        (run.path / name).symlink_to(outside)
    run.best_dir.symlink_to(elsewhere, target_is_directory=True)
    history = [{"epoch": 1, "train_loss": 1.5, "train_top1": 0.25}]

    run.write_metrics(history)
    run.write_config(TrainConfig(epochs=3))
    run.record_test({"top1": 0.5})
    run.write_curves(history)
    run.write_best(rz.resnet20_cifar(), rz.resnet20_cifar().state_dict(), {"val_top1": 0.5})

    assert outside.read_text() == "keep"
    assert list(elsewhere.iterdir()) == []
    for path in (*(run.path / name for name in names), run.best_dir):
        assert not path.is_symlink(), path
    assert run.metrics_path.read_text() == "epoch,train_loss,train_top1\n1,1.5,0.25\n"
    assert json.loads(run.config_path.read_text())["epochs"] == 3
    assert run.curves_path.read_bytes().startswith(b"\x89PNG")
    assert rz.from_pretrained(run.path).pretrained_cfg.metrics == {"val_top1": 0.5}


def test_predict_reads_a_training_checkpoint_without_being_told_the_model(tmp_path: Path, capsys) -> None:
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
    model = rz.create_model("resnet20_cifar", num_classes=4)
    config = TrainConfig(
        epochs=1, batch_size=32, device="cpu", progress=False, loggers=(), out_dir=str(tmp_path)
    )
    trainer = Trainer(model, config)
    trainer.fit(trainer.make_loader(tiny_data(64), train=True, mean=mean, std=std))
    image = tmp_path / "image.png"
    Image.fromarray(tiny_data(1).data[0].numpy()).resize((32, 32)).save(image)

    checkpoint = tmp_path / "checkpoints" / "epoch_0001.pt"
    assert main(["predict", "--checkpoint", str(checkpoint), "--topk", "4", str(image)]) == 0
    from_checkpoint = capsys.readouterr().out
    assert main(["predict", "--weights", str(tmp_path), "--topk", "4", str(image)]) == 0
    assert capsys.readouterr().out == from_checkpoint  # the same weights, classes and normalisation
    assert all(f"class{c}" in from_checkpoint for c in range(4))


def test_resuming_with_other_augmentation_says_the_run_will_differ(tmp_path: Path, caplog) -> None:
    config = TrainConfig(
        epochs=2, batch_size=32, device="cpu", progress=False, loggers=(), out_dir=str(tmp_path)
    )
    data = tiny_data(64)
    first = Trainer(rz.create_model("resnet20_cifar", num_classes=4), dataclasses.replace(config, epochs=1))
    first.fit(DeviceLoader(data, 32, channels_last=False))
    changed = dataclasses.replace(config, augment=AugmentConfig(cutout=4))
    with pytest.raises(rz.CheckpointError, match=r"belongs to another run: augment: .*'cutout': 4"):
        Trainer(rz.create_model("resnet20_cifar", num_classes=4), changed).fit(
            DeviceLoader(data, 32, channels_last=False), resume="auto"
        )
    changed = dataclasses.replace(changed, resume_mismatch="allow")
    with caplog.at_level(logging.WARNING, logger="resnetzoo"):
        Trainer(rz.create_model("resnet20_cifar", num_classes=4), changed).fit(
            DeviceLoader(data, 32, channels_last=False), resume="auto"
        )
    assert "different settings (epochs: 1 -> 2, augment: " in caplog.text
    assert "'cutout': 0, 'policy': None} -> {'crop_padding': 4, 'flip': True, 'cutout': 4" in caplog.text
    assert "the run will not match an uninterrupted one" in caplog.text
    assert {"augment", "epochs", "lr", "seed"} <= set(trajectory_fields())
    assert not {"progress", "out_dir", "loggers", "device"} & set(trajectory_fields())


def test_the_callbacks_module_does_not_import_the_trainer() -> None:
    """Callbacks see a TrainerState protocol: trainer -> callbacks only, no import cycle."""
    source = Path(rz.__file__).parent / "train" / "callbacks.py"
    imported = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert "trainer" not in imported
    assert "resnetzoo.train.trainer" not in imported


# -- the train command's settings --------------------------------------------------------------------


def _train_options() -> dict[str, object]:
    parser = build_parser()
    train = next(action.choices["train"] for action in parser._actions if getattr(action, "choices", None))
    return {action.dest: action for action in train._actions}


def test_every_train_config_field_is_an_option_with_its_documented_help() -> None:
    options = _train_options()
    for spec in dataclasses.fields(TrainConfig):
        if spec.name in ("augment", "recipe", "out_dir"):  # a section, --recipe and --out
            continue
        assert spec.name in options, f"TrainConfig.{spec.name} has no option"
        assert options[spec.name].help, spec.name
        assert options[spec.name].default is None  # unset: the recipe's or the file's value stands
    for spec in dataclasses.fields(AugmentConfig):
        assert any(dest.endswith(spec.name) and dest != spec.name for dest in options), spec.name
    assert {"recipe", "out", "config", "print_config"} <= set(options)


def test_print_config_round_trips_through_config_and_options_override_the_file(
    tmp_path: Path, capsys
) -> None:
    assert main(["train", "--recipe", "seed", "--epochs", "5", "--cutout", "3", "--print-config"]) == 0
    text = capsys.readouterr().out
    values = tomllib.loads(text)
    assert (values["recipe"], values["epochs"], values["augment"]["cutout"]) == ("seed", 5, 3)
    assert values["warmup"] == "none"  # TOML has no null

    file = tmp_path / "run.toml"
    file.write_text(text)
    assert main(["train", "--config", str(file), "--print-config"]) == 0
    assert capsys.readouterr().out == text
    expected = rz.recipes.get_recipe("seed", epochs=5, out_dir="runs/train")
    expected = dataclasses.replace(expected, augment=AugmentConfig(cutout=3))

    assert main(["train", "--config", str(file), "--lr", "0.3", "--no-flip", "--print-config"]) == 0
    overridden = tomllib.loads(capsys.readouterr().out)
    assert (overridden["lr"], overridden["augment"]["flip"], overridden["augment"]["cutout"]) == (
        0.3,
        False,
        3,
    )
    assert overridden["epochs"] == expected.epochs

    # A partial file: the recipe's values stand where the file is silent, also inside [augment].
    file.write_text('recipe = "fast"\nepochs = 2\n[augment]\nflip = false\n')
    assert main(["train", "--config", str(file), "--print-config"]) == 0
    partial = tomllib.loads(capsys.readouterr().out)
    fast = rz.recipes.get_recipe("fast")
    assert (partial["epochs"], partial["lr"], partial["augment"]["cutout"]) == (
        2,
        fast.lr,
        fast.augment.cutout,
    )
    assert partial["augment"]["flip"] is False

    # A run's own train_config.json reads back too.
    run = tmp_path / "train_config.json"
    run.write_text(json.dumps(expected.to_dict()))
    assert main(["train", "--config", str(run), "--print-config"]) == 0
    assert capsys.readouterr().out == text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("epochs = [", "cannot read the config file"),
        ("epoch = 3", "has fields TrainConfig does not have: ['epoch']"),
        ("augment = 3", "augment must be a table; got 3"),
        ("[augment]\ncutot = 3", "TrainConfig.augment has no field cutot"),
        ("[augment]\ncutout = -1", "TrainConfig.augment.cutout must be an integer >= 0; got -1"),
        ("epochs = 2.5", "epochs must be an integer; got 2.5"),
    ],
)
def test_a_bad_config_file_is_one_line_naming_the_problem(tmp_path: Path, capsys, content, message) -> None:
    file = tmp_path / "bad.toml"
    file.write_text(content)
    assert main(["train", "--config", str(file), "--print-config"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_readme_training_snippet_trains_and_its_run_folder_predicts(tmp_path: Path, monkeypatch, capsys):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    snippet = next(
        block for block in re.findall(r"```python\n(.*?)```", readme, re.S) if "load_splits" in block
    )
    short = "epochs=1, limit_train_batches=2, limit_eval_batches=2, device='cpu', progress=False"
    assert "epochs=8" in snippet
    snippet = snippet.replace("epochs=8", short).replace('rz.export(model, "resnet20.onnx")', "")
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (32, 32), (200, 120, 60)).save("cat.png")
    exec(compile(snippet, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert set(eval(printed[0])) == {"loss", "top1", "top5", "top1_tta"}
    assert "label='" in printed[1]  # the run folder knows the class names
    record = rz.from_pretrained(tmp_path / "runs" / "quick").pretrained_cfg
    assert (record.dataset, record.mean) == ("cifar10_sample", CIFAR10_MEAN)


def _printed_config(capsys, args: list[str]) -> dict:
    assert main(["train", *args, "--print-config"]) == 0
    return tomllib.loads(capsys.readouterr().out)


def test_a_config_file_gets_the_default_recipe_as_options_do(tmp_path: Path, capsys) -> None:
    """Issue 21 #3: ``epochs = 3`` in a file is ``--epochs 3``: the fast recipe with three epochs."""
    file = tmp_path / "a.toml"
    file.write_text("epochs = 3\n")
    from_file = _printed_config(capsys, ["--config", str(file)])
    from_options = _printed_config(capsys, ["--epochs", "3"])
    assert from_file == from_options
    fast = rz.recipes.get_recipe("fast")
    assert (from_file["recipe"], from_file["epochs"], from_file["batch_size"]) == ("fast", 3, fast.batch_size)
    assert (from_file["schedule"], from_file["label_smoothing"]) == (fast.schedule, fast.label_smoothing)
    # The recipe moves its lr milestones with epochs the same way, whichever layer sets epochs.
    file.write_text('recipe = "paper"\nepochs = 10\n')
    paper = _printed_config(capsys, ["--config", str(file)])
    assert paper == _printed_config(capsys, ["--recipe", "paper", "--epochs", "10"])
    assert [round(m, 2) for m in paper["milestones"]] == [5.0, 7.49]
    # "none" in a file is no recipe at all: TrainConfig's defaults.
    file.write_text('recipe = "none"\nepochs = 3\n')
    plain = _printed_config(capsys, ["--config", str(file)])
    assert (plain["recipe"], plain["batch_size"], plain["schedule"]) == ("none", 128, "cosine")


def test_a_recipe_option_that_contradicts_the_files_recipe_is_refused(tmp_path: Path, capsys) -> None:
    """Issue 21 #3: --recipe long over a file printed from fast would say "long" and run fast's values."""
    file = tmp_path / "fast.toml"
    file.write_text(main(["train", "--print-config"]) == 0 and capsys.readouterr().out)
    assert main(["train", "--recipe", "long", "--config", str(file), "--print-config"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f'--recipe long and recipe = "fast" in the config file {file} disagree' in err
    # A file without a recipe of its own takes --recipe's, then its values over it.
    file.write_text("epochs = 7\n")
    long = _printed_config(capsys, ["--recipe", "long", "--config", str(file)])
    assert (long["recipe"], long["epochs"], long["tta"]) == ("long", 7, True)


def test_a_config_file_error_names_the_file_and_the_field_not_an_option(tmp_path: Path, capsys) -> None:
    file = tmp_path / "bad.toml"
    for content, field in [("epochs = 2.5", "TrainConfig.epochs"), ("lr = 0", "TrainConfig.lr")]:
        file.write_text(content)
        assert main(["train", "--config", str(file), "--print-config"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"resnetzoo train: error: the config file {file}: {field} must be ")
        assert "--epochs" not in err
        assert "--lr" not in err
    # The same value as an option names the option.
    assert main(["train", "--lr", "0", "--print-config"]) == 2
    assert capsys.readouterr().err.startswith("resnetzoo train: error: --lr must be a finite number > 0")
