"""Published weights through the real huggingface_hub client against the fake Hub on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from pathlib import Path

import pytest
import torch
from fakehub import FakeHub
from helpers import inputs, logits
from huggingface_hub import constants

import resnetzoo as rz
from resnetzoo.hub.download import HubOptions, download_file, verify_hub_etag
from resnetzoo.models.weights import Weights

# scoped_registry: whatever a test registers or replaces is gone after it.
pytestmark = pytest.mark.usefixtures("single_thread", "scoped_registry")

X = inputs()


def _trained_resnet20(seed: int, num_classes: int = 10) -> torch.nn.Module:
    """A resnet20 with random weights *and* BN statistics, so outputs tell weights apart."""
    torch.manual_seed(seed)
    model = rz.resnet20_cifar(num_classes=num_classes)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)
    return model.eval()


def _repo_files(model: torch.nn.Module, tmp_path: Path) -> dict[str, bytes]:
    folder = rz.save_pretrained(model, tmp_path / f"repo-{id(model)}")
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _register(record: Weights) -> Weights:
    """Add ``record`` to the weights table (replacing one of its name) for this test only."""
    rz.register_weights([record], replace=True)
    return record


def _hub_record(
    architecture: str, repo_id: str, revision: str, weights_file: bytes, **fields: object
) -> Weights:
    """A record of resnetzoo-format weights on the fake Hub, more accurate than any real one (the default)."""
    return Weights(
        architecture=architecture,
        tag="test_cifar10",
        hf_hub_id=repo_id,
        hf_hub_revision=revision,
        sha256=hashlib.sha256(weights_file).hexdigest(),
        categories=rz.data.CIFAR10_CLASSES,
        dataset="cifar10",
        mean=rz.data.CIFAR10_MEAN,
        std=rz.data.CIFAR10_STD,
        reported_top1=0.999,
        **fields,
    )


@pytest.fixture
def published20(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[Weights, torch.nn.Module]:
    """resnet20 weights on the fake Hub, registered as resnet20_cifar's default; the record and the model."""
    model = _trained_resnet20(seed=1)
    files = _repo_files(model, tmp_path)
    sha = fake_hub.commit("resnetzoo/resnet20_cifar.test", files)
    record = _hub_record("resnet20_cifar", "resnetzoo/resnet20_cifar.test", sha, files["model.safetensors"])
    return _register(record), model


def _cached_weights(hf_home: Path) -> list[Path]:
    return sorted(p for p in (hf_home / "hub").rglob("*") if p.is_file() and "blobs" in p.parts)


def _converted(hf_home: Path) -> list[Path]:
    return sorted((hf_home / "resnetzoo" / "converted").rglob("model.safetensors"))


def test_pretrained_downloads_verifies_and_loads_the_published_weights(
    fake_hub: FakeHub, published20: tuple[Weights, torch.nn.Module], hf_home: Path
) -> None:
    record, reference = published20
    model = rz.resnet20_cifar(pretrained=True, progress=False)
    assert torch.equal(logits(model), logits(reference))
    assert model.num_classes == 10
    assert model.pretrained_cfg == record
    assert (
        model.pretrained_cfg.source
        == f"hf-hub:resnetzoo/resnet20_cifar.test/model.safetensors@{record.hf_hub_revision}"
    )
    # The pinned commit and the file went over HTTP once, announcing the library to the Hub.
    assert fake_hub.downloads(f"/resolve/{record.hf_hub_revision}/model.safetensors") == 1
    agents = {r.user_agent for r in fake_hub.requests if "/resolve/" in r.path}
    assert agents
    assert all(agent.startswith(f"resnetzoo/{rz.__version__};") for agent in agents)
    assert len(_cached_weights(hf_home)) == 1
    assert [p.parent.name for p in _converted(hf_home)] == ["resnet20_cifar.test_cifar10"]


def test_second_load_reads_only_the_converted_cache(
    fake_hub: FakeHub, published20: tuple[Weights, torch.nn.Module]
) -> None:
    _, reference = published20
    rz.create_model("resnet20_cifar.cifar10", progress=False)
    fake_hub.stop()
    before = len(fake_hub.requests)
    model = rz.create_model("resnet20_cifar.cifar10", progress=False)
    assert torch.equal(logits(model), logits(reference))
    assert len(fake_hub.requests) == before


def test_offline_mode_uses_the_cache_and_sends_nothing(
    fake_hub: FakeHub, published20: tuple[Weights, torch.nn.Module], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, reference = published20
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(rz.HubRequestError, match=r"cannot find 'model.safetensors'.*HF_HUB_OFFLINE=1"):
        rz.resnet20_cifar(pretrained=True, progress=False)
    assert fake_hub.requests == []

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    rz.resnet20_cifar(pretrained=True, progress=False)  # online once: fills the cache
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    before = len(fake_hub.requests)
    model = rz.resnet20_cifar(pretrained=True, progress=False)
    assert torch.equal(logits(model), logits(reference))
    assert len(fake_hub.requests) == before


def test_the_record_pins_its_revision_not_the_branch(
    fake_hub: FakeHub, published20: tuple[Weights, torch.nn.Module], tmp_path: Path
) -> None:
    record, reference = published20
    newer = _trained_resnet20(seed=2)
    head = fake_hub.commit(record.hf_hub_id, _repo_files(newer, tmp_path))
    assert head != record.hf_hub_revision
    pinned = rz.resnet20_cifar(pretrained=True, progress=False)
    assert torch.equal(logits(pinned), logits(reference))
    # from_pretrained follows the branch unless given a revision.
    assert torch.equal(
        logits(rz.from_pretrained(f"hf-hub:{record.hf_hub_id}", progress=False)), logits(newer)
    )
    old = rz.from_pretrained(f"hf-hub:{record.hf_hub_id}", revision=record.hf_hub_revision, progress=False)
    assert torch.equal(logits(old), logits(reference))
    assert old.pretrained_cfg.hf_hub_revision == record.hf_hub_revision


def test_checksum_mismatch_removes_the_cached_file_and_raises(
    fake_hub: FakeHub,
    published20: tuple[Weights, torch.nn.Module],
    monkeypatch: pytest.MonkeyPatch,
    hf_home: Path,
) -> None:
    record, reference = published20
    _register(dataclasses.replace(record, sha256="0" * 64))
    with pytest.raises(
        rz.ChecksumError, match=r"sha256 is [0-9a-f]{64}, expected 0{64}.*cached copy was removed"
    ):
        rz.resnet20_cifar(pretrained=True, progress=False)
    assert _cached_weights(hf_home) == []
    assert not list((hf_home / "hub").rglob("model.safetensors"))
    assert _converted(hf_home) == []

    # With the right checksum the next attempt downloads the file again and loads it.
    _register(record)
    model = rz.resnet20_cifar(pretrained=True, progress=False)
    assert torch.equal(logits(model), logits(reference))
    assert fake_hub.downloads("/model.safetensors") == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hf_hub_id": "resnetzoo/no-such-repo"}, "repository not found"),
        ({"hf_hub_filename": "weights-v2.safetensors"}, "the repo has no such file"),
        ({"hf_hub_revision": "f" * 40}, "the revision does not exist"),
    ],
)
def test_missing_repo_file_or_revision_is_a_clear_error(
    fake_hub: FakeHub,
    published20: tuple[Weights, torch.nn.Module],
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, str],
    message: str,
) -> None:
    record, _ = published20
    _register(dataclasses.replace(record, **change))
    with pytest.raises(rz.HubRequestError, match=message) as info:
        rz.resnet20_cifar(pretrained=True, progress=False)
    assert "resnetzoo/" in str(info.value)


def test_a_download_cut_short_is_never_loaded(
    fake_hub: FakeHub, hf_home: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = _trained_resnet20(seed=3)
    files = _repo_files(model, tmp_path)
    fake_hub.commit("me/cut", files)
    size = len(files["model.safetensors"])
    # The server announces the full size, sends half and hangs up; asked to resume, it has no more.
    fake_hub.cut_file("me/cut", "model.safetensors", size // 2)
    caplog.set_level(logging.CRITICAL, logger="huggingface_hub")  # the client's retry warning
    with pytest.raises(
        rz.HubRequestError,
        match=r"downloading 'model.safetensors' of 'me/cut'.*failed \(.+\); nothing partial was kept",
    ):
        rz.from_pretrained("hf-hub:me/cut", progress=False)
    assert not [p for p in _cached_weights(hf_home) if p.stat().st_size == size // 2]
    assert not list((hf_home / "hub").rglob("*.incomplete"))
    assert not list((hf_home / "hub").rglob("model.safetensors"))

    fake_hub.cut_file("me/cut", "model.safetensors", size)  # the server's copy is whole again
    assert torch.equal(logits(rz.from_pretrained("hf-hub:me/cut", progress=False)), logits(model))


def test_a_dropped_connection_resumes_with_a_range_request(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The client writes 10 MiB chunks and resumes after the last whole one, so this needs a file
    # larger than that: resnet18_cifar's 45 MB.
    torch.manual_seed(5)
    reference = rz.resnet18_cifar().eval()
    files = _repo_files(reference, tmp_path)
    sha = fake_hub.commit("me/resnet18", files)
    _register(_hub_record("resnet18_cifar", "me/resnet18", sha, files["model.safetensors"]))
    fake_hub.drop_once("me/resnet18", "model.safetensors", 15_000_000)
    caplog.set_level(logging.CRITICAL, logger="huggingface_hub")  # the client's retry warning
    model = rz.resnet18_cifar(pretrained=True, progress=False)  # sha256-verified after the resume
    assert torch.equal(logits(model), logits(reference))
    gets = [r for r in fake_hub.requests if r.method == "GET" and r.path.endswith("/model.safetensors")]
    assert [r.range for r in gets] == [None, f"bytes={10 * 1024 * 1024}-"]


def test_num_classes_comes_from_the_weights_and_a_mismatch_needs_reset_head(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A 100-class record for resnet20, published on the fake Hub for this test.
    reference = _trained_resnet20(seed=4, num_classes=100)
    files = _repo_files(reference, tmp_path)
    sha = fake_hub.commit("me/resnet20-c100", files)
    record = dataclasses.replace(
        _hub_record("resnet20_cifar", "me/resnet20-c100", sha, files["model.safetensors"]),
        tag="test_cifar100",
        num_classes=100,
        categories=rz.data.CIFAR100_CLASSES,
        dataset="cifar100",
    )
    _register(record)

    model = rz.create_model("resnet20_cifar.cifar100", progress=False)
    assert model.num_classes == 100
    assert torch.equal(logits(model), logits(reference))
    assert len(model.pretrained_cfg.categories) == 100

    with pytest.raises(ValueError, match=r"have 100 classes but the model has 5.*reset_head=True"):
        rz.resnet20_cifar(weights="cifar100", num_classes=5, progress=False)

    with caplog.at_level(logging.WARNING, logger="resnetzoo.hub"):
        tuned = rz.resnet20_cifar(weights="cifar100", num_classes=5, reset_head=True, progress=False)
    assert tuned.fc.out_features == 5
    assert not tuned.fc.weight.is_meta  # a real, initialised head
    assert "loaded the backbone" in caplog.text
    with torch.no_grad():
        assert torch.equal(tuned.eval().forward_features(X), reference.forward_features(X))
    assert tuned.pretrained_cfg.categories is None
    assert tuned.pretrained_cfg.num_classes == 5
    assert tuned.pretrained_cfg.base_model == "resnet20_cifar.test_cifar100"
    assert not any(t.is_meta for t in tuned.state_dict().values())


def test_load_pretrained_into_an_existing_model(
    fake_hub: FakeHub, published20: tuple[Weights, torch.nn.Module]
) -> None:
    record, reference = published20
    model = rz.resnet20_cifar()
    assert rz.load_pretrained(model, "cifar10", progress=False) is model
    assert torch.equal(logits(model), logits(reference))
    other = rz.load_pretrained(rz.resnet20_cifar(), record, progress=False)
    assert torch.equal(logits(other), logits(reference))
    with pytest.raises(ValueError, match="cannot load into 'resnet56_cifar'"):
        rz.load_pretrained(rz.resnet56_cifar(), record)


def test_a_small_file_gets_a_git_sha1_etag_and_damage_to_it_is_detected(fake_hub: FakeHub) -> None:
    config = json.dumps({"architecture": "resnet20_cifar", "num_classes": 10}).encode()
    fake_hub.commit("me/small", {"config.json": config})
    path = download_file("me/small", "config.json", HubOptions(progress=False))
    etag = Path(os.path.realpath(path)).name
    assert etag == hashlib.sha1(b"blob %d\0" % len(config) + config, usedforsecurity=False).hexdigest()
    assert verify_hub_etag(path, what="config.json") == hashlib.sha256(config).hexdigest()

    blob = Path(os.path.realpath(path))
    blob.write_bytes(config.replace(b"10", b"11"))  # same size: only the content check can tell
    with pytest.raises(
        rz.ChecksumError,
        match=rf"config\.json: git blob sha1 is [0-9a-f]{{40}}, but the Hub's ETag is {etag}",
    ):
        verify_hub_etag(path, what="config.json")
    assert not blob.exists()  # removed, so the next attempt downloads it again
