"""resnetzoo repos: save_pretrained, from_pretrained (local and over HTTP), push_to_hub, config validation."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import torch
import yaml
from fakehub import WRITE_TOKEN, FakeHub
from helpers import logits, tiny_model
from huggingface_hub import constants
from safetensors.torch import load_file

import resnetzoo as rz

pytestmark = pytest.mark.usefixtures("single_thread")


def _model(seed: int = 0, **kwargs: object) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = rz.resnet20_cifar(**kwargs)
    for module in model.modules():  # non-trivial BN statistics, so outputs depend on every buffer
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def test_save_pretrained_writes_weights_config_and_card(tmp_path: Path) -> None:
    model = _model()
    folder = rz.save_pretrained(
        model,
        tmp_path / "repo",
        metrics={"top1": 0.9125, "top1_jpeg": 0.885},
        recipe="long",
        dataset="cifar10",
    )
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]

    state = load_file(folder / "model.safetensors")
    assert state.keys() == model.state_dict().keys()
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())

    config = json.loads((folder / "config.json").read_text())
    assert config["format_version"] == 3
    assert config["architecture"] == "resnet20_cifar"
    assert config["model_kwargs"] == {
        "num_classes": 10,
        "in_chans": 3,
        "zero_init_residual": False,
        "shortcut": "A",
    }
    assert config["num_classes"] == 10
    assert config["categories"][:2] == ["airplane", "automobile"]  # filled in from dataset="cifar10"
    assert config["metrics"] == [  # fractions; save_pretrained was not told the split or the image count
        {"name": "top1", "value": 0.9125, "split": None, "num_images": None},
        {"name": "top1_jpeg", "value": 0.885, "split": None, "num_images": None},
    ]
    assert config["resnetzoo_version"] == rz.__version__
    assert config["input_size"] == [3, 32, 32]

    card = (folder / "README.md").read_text()
    meta = _front_matter(card)
    assert meta["library_name"] == "resnetzoo"
    assert meta["datasets"] == ["uoft-cs/cifar10"]
    assert {"image-classification", "resnetzoo"} <= set(meta["tags"])
    results = meta["model-index"][0]["results"]
    scores = {m["name"]: m["value"] for result in results for m in result["metrics"]}
    assert scores == {"top1": 91.25, "top1_jpeg": 88.5}  # the card speaks percent
    assert results[0]["dataset"]["type"] == "uoft-cs/cifar10"
    assert "rz.from_pretrained(" in card
    assert "269,722 parameters" in card


def test_the_model_card_usage_snippet_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = rz.save_pretrained(
        _model(),
        tmp_path / "repo",
        dataset="cifar10",
        mean=(0.4914, 0.4822, 0.4465),
        std=(0.2470, 0.2435, 0.2616),
    )
    card = (folder / "README.md").read_text()
    snippet = card.split("```python\n")[1].split("```")[0].replace("path/to/this/folder", str(folder))
    exec(compile(snippet, "README.md", "exec"), {})
    printed = ast.literal_eval(capsys.readouterr().out)  # the predicted class names
    assert len(printed) == 5
    assert set(printed) <= set(rz.data.CIFAR10_CLASSES)


def test_local_round_trip_gives_identical_outputs(tmp_path: Path) -> None:
    model = _model(seed=1, num_classes=7, shortcut="B")
    rz.save_pretrained(model, tmp_path / "repo", mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    loaded = rz.from_pretrained(tmp_path / "repo")
    assert loaded.training  # like every factory; the caller decides
    assert loaded.model_kwargs["shortcut"] == "B"
    assert torch.equal(logits(loaded), logits(model))
    assert loaded.pretrained_cfg.mean == (0.5, 0.5, 0.5)
    assert loaded.pretrained_cfg.categories is None
    assert loaded.pretrained_cfg.file == str(tmp_path / "repo")


def test_round_trip_over_http(fake_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model(seed=2)
    folder = rz.save_pretrained(model, tmp_path / "repo", dataset="cifar10")
    sha = fake_hub.commit("me/resnet20", {p.name: p.read_bytes() for p in folder.iterdir()})
    loaded = rz.from_pretrained("hf-hub:me/resnet20", progress=False)
    assert torch.equal(logits(loaded), logits(model))
    assert loaded.pretrained_cfg.hf_hub_revision == sha
    assert loaded.pretrained_cfg.source == f"hf-hub:me/resnet20/model.safetensors@{sha}"

    # The same repo by its bare id, and through create_model, as timm users write it.
    assert torch.equal(logits(rz.from_pretrained("me/resnet20", progress=False)), logits(model))
    assert torch.equal(logits(rz.create_model("hf-hub:me/resnet20", progress=False)), logits(model))
    with pytest.raises(ValueError, match=r"takes only revision, .* not num_classes"):
        rz.create_model("hf-hub:me/resnet20", num_classes=5)

    # Offline, the branch resolves through the cache to the same commit.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    requests = len(fake_hub.requests)
    offline = rz.from_pretrained("hf-hub:me/resnet20", progress=False)
    assert torch.equal(logits(offline), logits(model))
    assert offline.pretrained_cfg.hf_hub_revision == sha
    assert len(fake_hub.requests) == requests


def test_push_to_hub_commits_a_loadable_repo(fake_hub: FakeHub) -> None:
    model = _model(seed=3)
    info = rz.push_to_hub(
        model, "me/pushed", token=WRITE_TOKEN, metrics={"top1": 0.9}, dataset="cifar10", recipe="long"
    )
    files = fake_hub.repos["me/pushed"].commits[info.oid]
    assert sorted(files) == ["README.md", "config.json", "model.safetensors"]
    assert "hf-hub:me/pushed" in files["README.md"].decode()  # the usage snippet names the repo
    assert info.commit_url.endswith(f"/me/pushed/commit/{info.oid}")
    loaded = rz.from_pretrained("hf-hub:me/pushed", revision=info.oid, progress=False)
    assert torch.equal(logits(loaded), logits(model))
    assert dict(loaded.pretrained_cfg.metrics) == {"top1": 0.9}

    # Pushing again to the existing repo makes a new commit.
    second = rz.push_to_hub(_model(seed=4), "me/pushed", token=WRITE_TOKEN)
    assert second.oid != info.oid
    assert fake_hub.repos["me/pushed"].branches["main"] == second.oid


def test_push_without_write_access_is_a_clear_error(fake_hub: FakeHub) -> None:
    with pytest.raises(
        rz.HubRequestError,
        match=r"pushing to 'me/denied' failed \(HTTP 401 .*Invalid credentials.*write access",
    ):
        rz.push_to_hub(_model(), "me/denied", token="hf_read_only")
    assert "me/denied" not in fake_hub.repos


def test_save_refuses_what_config_json_cannot_record(tmp_path: Path) -> None:
    model = rz.resnet20_cifar(norm_layer=lambda c: torch.nn.GroupNorm(4, c))
    with pytest.raises(ValueError, match=r"constructor arguments norm_layer=.*cannot be recorded"):
        rz.save_pretrained(model, tmp_path / "repo")
    with pytest.raises(ValueError, match="not built by a registered factory"):
        rz.save_pretrained(tiny_model((16, 32, 64)), tmp_path / "repo")
    with pytest.raises(ValueError, match="3 categories for 10 classes"):
        rz.save_pretrained(_model(), tmp_path / "repo", categories=["a", "b", "c"])
    assert not (tmp_path / "repo").exists()


def test_save_records_a_replaced_head_and_drops_stale_metadata(tmp_path: Path) -> None:
    model = _model()
    rz.save_pretrained(model, tmp_path / "a", dataset="cifar10", metrics={"top1": 0.91})
    loaded = rz.from_pretrained(tmp_path / "a")
    loaded.reset_classifier(5)  # what fine-tuning does
    rz.save_pretrained(loaded, tmp_path / "b")
    config = json.loads((tmp_path / "b" / "config.json").read_text())
    assert config["num_classes"] == 5
    assert config["model_kwargs"]["num_classes"] == 5
    assert config["categories"] is None
    assert config["metrics"] == []
    assert rz.from_pretrained(tmp_path / "b").fc.out_features == 5


def test_save_inherits_metadata_from_the_loader(tmp_path: Path) -> None:
    rz.save_pretrained(_model(), tmp_path / "a", dataset="cifar10", mean=(0.4, 0.4, 0.4), std=(0.2, 0.2, 0.2))
    rz.save_pretrained(rz.from_pretrained(tmp_path / "a"), tmp_path / "b")
    config = json.loads((tmp_path / "b" / "config.json").read_text())
    assert config["dataset"] == "cifar10"
    assert config["mean"] == [0.4, 0.4, 0.4]
    assert len(config["categories"]) == 10


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    with pytest.raises(OSError, match="No space left") as info:
        rz.save_pretrained(_model(), tmp_path / "repo")
    assert info.value.errno == 28
    message = (
        f"could not write the saved model {tmp_path / 'repo'} (No space left on device); nothing was written"
    )
    assert info.value.strerror == message
    assert list(tmp_path.iterdir()) == []  # neither the folder nor the staging folder remains

    # Re-saving into an existing folder replaces our files and keeps the others.
    monkeypatch.undo()
    rz.save_pretrained(_model(seed=1), tmp_path / "run")
    (tmp_path / "run" / "train.log").write_text("epoch 1")
    model = _model(seed=2)
    rz.save_pretrained(model, tmp_path / "run")
    assert (tmp_path / "run" / "train.log").read_text() == "epoch 1"
    assert torch.equal(logits(rz.from_pretrained(tmp_path / "run")), logits(model))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_save_unwraps_compiled_and_data_parallel_models(tmp_path: Path) -> None:
    model = _model()
    rz.save_pretrained(torch.nn.DataParallel(model), tmp_path / "repo")
    keys = load_file(tmp_path / "repo" / "model.safetensors").keys()
    assert keys == model.state_dict().keys()


def _write_config(tmp_path: Path, **changes: object) -> Path:
    folder = rz.save_pretrained(_model(), tmp_path / "repo")
    config = json.loads((folder / "config.json").read_text())
    for key, value in changes.items():
        if value is ...:
            del config[key]
        else:
            config[key] = value
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"architecture": "resnet19_cifar"}, r"'resnet19_cifar' is not a registered model.*did you mean"),
        ({"architecture": "os.system"}, "'os.system' is not a registered model"),
        ({"evil": "x", "_target_": "torch.nn.Module"}, r"unexpected fields \['_target_', 'evil'\]"),
        ({"architecture": ...}, r"missing required fields \['architecture'\]"),
        ({"num_classes": "10"}, "'num_classes' must be an integer >= 0"),
        ({"num_classes": True}, "'num_classes' must be an integer >= 0"),
        ({"num_classes": 11}, "num_classes is 11 but model_kwargs.num_classes is 10"),
        ({"model_kwargs": {"norm_layer": "torch.nn.GroupNorm"}}, r"unsupported arguments \['norm_layer'\]"),
        ({"model_kwargs": {"shortcut": "C"}}, "'model_kwargs.shortcut' must be one of 'A', 'B'"),
        ({"model_kwargs": {"in_chans": 0}}, "'model_kwargs.in_chans' must be an integer >= 1"),
        ({"mean": [0.5, 0.5]}, "mean has 2 values for 3 input channels"),
        ({"mean": [0.5] * 5}, "'mean' must be null or a list of 1 to 4 numbers"),
        ({"std": [0.2, 0.0, 0.2]}, "'std' must be null or a list of 1 to 4 positive numbers"),
        ({"categories": ["a"]}, "1 categories for 10 classes"),
        ({"sha256": "12fca82f"}, "'sha256' must be null or 64 lowercase hex digits"),
        ({"layout": "pickle"}, "'layout' must be one of"),
        ({"hf_hub_id": "me/../../etc"}, "'hf_hub_id' must be null or 'org/name'"),
        ({"hf_hub_id": "me/x", "hf_hub_filename": "../../passwd"}, "invalid file name '../../passwd'"),
        ({"url": "https://example.org/weights.pt"}, "a URL source needs a sha256"),
        ({"file": "/etc"}, r"unexpected fields \['file'\]"),
        ({"input_size": [3, 32]}, "'input_size' must be a list of 3 positive integers"),
        ({"input_size": [3, 32, 10**6]}, "height and width <= 4096"),
        ({"input_size": [1, 32, 32]}, r"input_size \[1, 32, 32\] has 1 channels but the model takes 3"),
        ({"metrics": {"top1": "high"}}, r"'metrics\['top1'\]\.value' must be a finite number"),
        ({"metrics": [{"name": "top1", "value": 0.9, "split": 3}]}, r"'metrics\['top1'\]\.split' must be"),
        ({"metrics": "high"}, "'metrics' must be a list of {name, value, split, num_images} objects"),
        ({"format_version": 4}, "written by a newer resnetzoo"),
    ],
)
def test_invalid_configs_are_rejected_naming_the_field(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    folder = _write_config(tmp_path, **changes)
    with pytest.raises(rz.ConfigError, match=message):
        rz.from_pretrained(folder)


def test_config_that_is_not_json(tmp_path: Path) -> None:
    folder = rz.save_pretrained(_model(), tmp_path / "repo")
    (folder / "config.json").write_text("{'architecture': ")
    with pytest.raises(rz.ConfigError, match="not JSON"):
        rz.from_pretrained(folder)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"architecture": "resnet19_cifar"}, "'resnet19_cifar' is not a registered model"),
        ({"trust_remote_code": True}, r"unexpected fields \['trust_remote_code'\]"),
    ],
)
def test_invalid_config_served_over_http(
    fake_hub: FakeHub, tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    folder = _write_config(tmp_path, **changes)
    fake_hub.commit("me/bad", {p.name: p.read_bytes() for p in folder.iterdir()})
    with pytest.raises(
        rz.ConfigError, match=rf"invalid config.json in hf-hub:me/bad@[0-9a-f]{{40}}: .*{message}"
    ):
        rz.from_pretrained("hf-hub:me/bad", progress=False)
    assert fake_hub.downloads("/model.safetensors") == 0  # rejected before the weights are fetched


def test_weights_that_do_not_fit_the_config(tmp_path: Path) -> None:
    folder = rz.save_pretrained(_model(), tmp_path / "repo")
    config = json.loads((folder / "config.json").read_text())
    config["architecture"] = "resnet32_cifar"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        rz.CheckpointError, match=r"(?s)does not fit resnet32_cifar.*missing from the checkpoint"
    ):
        rz.from_pretrained(folder)


def test_missing_folders_and_files(tmp_path: Path, fake_hub: FakeHub) -> None:
    with pytest.raises(
        rz.HubRequestError, match=r"'me/model' is no local folder either, so it was taken for a Hub repo"
    ):
        rz.from_pretrained("me/model", progress=False)
    tmp_path.joinpath("empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"has no config\.json, so it is not a resnetzoo repo"):
        rz.from_pretrained(tmp_path / "empty")


def test_a_format_version_1_config_still_loads(tmp_path: Path) -> None:
    model = _model(seed=5)
    folder = rz.save_pretrained(model, tmp_path / "repo", dataset="cifar10", metrics={"top1": 0.91})
    config = json.loads((folder / "config.json").read_text())
    config["metrics"] = {"top1": 91.0}  # version 1 wrote percent
    version_1 = [
        *("architecture", "model_kwargs", "num_classes", "categories", "mean", "std", "input_size"),
        *("dataset", "metrics", "recipe", "license", "resnetzoo_version"),
    ]
    (folder / "config.json").write_text(
        json.dumps({"format_version": 1, **{k: config[k] for k in version_1}})
    )
    loaded = rz.from_pretrained(folder)
    assert torch.equal(logits(loaded), logits(model))
    assert (loaded.pretrained_cfg.dataset, dict(loaded.pretrained_cfg.metrics)) == ("cifar10", {"top1": 0.91})


def test_saved_pretrained_weights_keep_their_credit(tmp_path: Path) -> None:
    model = _model(seed=6)
    model.pretrained_cfg = rz.get_weights("resnet20_cifar.akamaster_cifar10")
    folder = rz.save_pretrained(model, tmp_path / "repo")
    loaded = rz.from_pretrained(folder).pretrained_cfg
    assert loaded.name == "resnet20_cifar.akamaster_cifar10"
    assert (loaded.license, loaded.url, loaded.mean) == (
        "BSD-2-Clause",
        model.pretrained_cfg.url,
        (0.485, 0.456, 0.406),
    )
    card = (folder / "README.md").read_text()
    assert "license: bsd-2-clause" in card
    assert "| reported top-1 | 91.73% (https://github.com/akamaster/pytorch_resnet_cifar10#results) |" in card
    assert "He et al. 2015" in card


def test_the_card_of_fine_tuned_weights_names_its_base_model_and_its_data(tmp_path: Path) -> None:
    model = _model(seed=7, num_classes=100)
    model.pretrained_cfg = rz.Weights(architecture="resnet20_cifar", num_classes=100).derived(
        base_model="resnet18_cifar.edadaltocg_cifar10"
    )
    model.reset_classifier(5)
    folder = rz.save_pretrained(model, tmp_path / "repo", dataset="flowers", metrics={"top1": 0.875})
    card = (folder / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["base_model"] == "edadaltocg/resnet18_cifar10"  # a Hub repo: the card links it
    assert "datasets" not in meta  # "flowers" is no Hub dataset repo...
    (result,) = meta["model-index"][0]["results"]  # ...but the scores say what they were measured on
    assert result["dataset"] == {"name": "flowers", "type": "flowers", "split": "test"}
    assert result["metrics"][0]["value"] == 87.5
    assert "| trained on | flowers |" in card
    assert "| fine-tuned from | `resnet18_cifar.edadaltocg_cifar10` |" in card
