"""Pretrained weights by name, from each source format, through local stand-ins for the real hosts.

The fake Hub (``HF_ENDPOINT``) serves edadaltocg-style pickles; its plain ``/files/`` route serves
akamaster's and chenyaofo's release files as GitHub would; a folder or that route is the air-gapped
mirror. Each file is written by the tests from an independent copy of its source's network
(``source_nets``), so "loads" means "computes the same function as the network it came from".
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fakehub import FakeHub
from helpers import logits
from huggingface_hub import constants
from source_nets import (
    AkamasterResNet,
    ChenyaofoResNet,
    randomize,
    save_akamaster,
    save_chenyaofo,
    save_edadaltocg,
    torchvision_cifar_resnet,
)
from train_helpers import child_env

import resnetzoo as rz
from resnetzoo.hub.pretrained import MIRROR_ENV
from resnetzoo.models.weights import Weights

# scoped_registry: whatever a test registers or replaces is gone after it.
pytestmark = pytest.mark.usefixtures("single_thread", "scoped_registry")


def _same_function(model: torch.nn.Module, source: torch.nn.Module) -> None:
    torch.testing.assert_close(logits(model), logits(source), rtol=1e-5, atol=1e-5)


def _register(record: Weights) -> Weights:
    """Add ``record`` to the weights table (replacing one of its name) for this test only."""
    rz.register_weights([record], replace=True)
    return record


def _hashed_name(stem: str, suffix: str, data: bytes) -> str:
    """A file name in torch.hub's convention: ``<stem>-<first 8 hex of the sha256><suffix>``."""
    return f"{stem}-{hashlib.sha256(data).hexdigest()[:8]}{suffix}"


@pytest.fixture(scope="module")
def edadaltocg18(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, bytes]:
    """A timm-style CIFAR resnet18 (edadaltocg's network) and its pytorch_model.bin."""
    source = randomize(torchvision_cifar_resnet(18), seed=11)
    return source, save_edadaltocg(source, tmp_path_factory.mktemp("eda") / "pytorch_model.bin")


@pytest.fixture
def akamaster20(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[torch.nn.Module, Weights, bytes]:
    """akamaster's resnet20 as a legacy pickle on a plain URL, registered as its real record is."""
    source = randomize(AkamasterResNet(3), seed=12)
    data = save_akamaster(source, tmp_path / "ckpt.th")
    url = fake_hub.put_file(_hashed_name("resnet20", ".th", data), data)
    record = dataclasses.replace(
        rz.get_weights("resnet20_cifar.akamaster_cifar10"),
        url=url,
        sha256=hashlib.sha256(data).hexdigest(),
        file_size=len(data),
    )
    return source, _register(record), data


def _converted(hf_home: Path) -> list[str]:
    return sorted(p.parent.name for p in (hf_home / "resnetzoo" / "converted").rglob("model.safetensors"))


def _downloads(hf_home: Path) -> list[str]:
    root = hf_home / "resnetzoo" / "downloads"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


# -- each source format, by name -----------------------------------------------------------------


def test_edadaltocg_pickle_from_the_hub_checked_against_its_etag(
    fake_hub: FakeHub, edadaltocg18: tuple[torch.nn.Module, bytes], hf_home: Path
) -> None:
    source, data = edadaltocg18
    record = rz.get_weights("resnet18_cifar.edadaltocg_cifar10")
    assert record.sha256 is None  # SOURCES.md knows no sha256 for main's file: the Hub's ETag is the check
    fake_hub.commit("edadaltocg/resnet18_cifar10", {"pytorch_model.bin": data})
    model = rz.resnet18_cifar(pretrained=True, progress=False)
    _same_function(model, source)
    assert model.pretrained_cfg == record
    assert model.pretrained_cfg.std == (0.2023, 0.1994, 0.2010)
    assert _converted(hf_home) == ["resnet18_cifar.edadaltocg_cifar10"]
    assert fake_hub.downloads("/pytorch_model.bin") == 1


def test_a_hub_file_that_does_not_hash_to_its_etag_is_removed_and_never_loaded(
    fake_hub: FakeHub, edadaltocg18: tuple[torch.nn.Module, bytes], hf_home: Path
) -> None:
    _, data = edadaltocg18
    fake_hub.commit("edadaltocg/resnet18_cifar10", {"pytorch_model.bin": data})
    fake_hub.lie_about_etag("edadaltocg/resnet18_cifar10", "pytorch_model.bin", "ab" * 32)
    with pytest.raises(
        rz.ChecksumError, match=r"checked against the Hub's ETag.*expected a{1}b(ab){31}.*removed"
    ):
        rz.resnet18_cifar(pretrained=True, progress=False)
    assert not [p for p in (hf_home / "hub").rglob("*") if p.is_file() and "blobs" in p.parts]
    assert _converted(hf_home) == []


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def test_a_hub_file_outside_lfs_is_checked_against_its_git_sha1_etag(
    fake_hub: FakeHub, edadaltocg18: tuple[torch.nn.Module, bytes], hf_home: Path
) -> None:
    source, data = edadaltocg18
    fake_hub.commit("edadaltocg/resnet18_cifar10", {"pytorch_model.bin": data})
    fake_hub.keep_in_git("edadaltocg/resnet18_cifar10", "pytorch_model.bin")
    model = rz.resnet18_cifar(pretrained=True, progress=False)
    _same_function(model, source)
    blobs = [p.name for p in (hf_home / "hub").rglob("*") if p.is_file() and "blobs" in p.parts]
    assert blobs == [_git_blob_sha1(data)]  # the client cached it under the Hub's git-sha1 ETag


def test_a_hub_file_that_does_not_hash_to_its_git_sha1_etag_is_removed_and_never_loaded(
    fake_hub: FakeHub, edadaltocg18: tuple[torch.nn.Module, bytes], hf_home: Path
) -> None:
    _, data = edadaltocg18
    fake_hub.commit("edadaltocg/resnet18_cifar10", {"pytorch_model.bin": data})
    fake_hub.keep_in_git("edadaltocg/resnet18_cifar10", "pytorch_model.bin")
    damaged = bytearray(data)
    damaged[len(data) // 2] ^= 0xFF  # what the Hub announces is the sha1 of a file one byte away
    fake_hub.lie_about_etag(
        "edadaltocg/resnet18_cifar10", "pytorch_model.bin", _git_blob_sha1(bytes(damaged))
    )
    with pytest.raises(
        rz.ChecksumError,
        match=rf"git blob sha1 is {_git_blob_sha1(data)}, but the Hub's ETag is [0-9a-f]{{40}}",
    ):
        rz.resnet18_cifar(pretrained=True, progress=False)
    assert not [p for p in (hf_home / "hub").rglob("*") if p.is_file() and "blobs" in p.parts]
    assert _converted(hf_home) == []


def test_akamaster_legacy_pickle_from_a_url(
    fake_hub: FakeHub, akamaster20: tuple[torch.nn.Module, Weights, bytes], hf_home: Path
) -> None:
    source, record, data = akamaster20
    assert data[:2] != b"PK"  # the legacy pre-zip format, as the real files are
    model = rz.resnet20_cifar(pretrained=True, progress=False)
    _same_function(model, source)
    assert model.pretrained_cfg == record
    assert (model.pretrained_cfg.mean, model.pretrained_cfg.license) == (
        (0.485, 0.456, 0.406),
        "BSD-2-Clause",
    )
    assert _downloads(hf_home) == [record.source_file_name]
    assert _converted(hf_home) == ["resnet20_cifar.akamaster_cifar10"]


def test_chenyaofo_option_b_state_dict_from_a_url(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    source = randomize(ChenyaofoResNet(3, num_classes=100), seed=13)
    data = save_chenyaofo(source, tmp_path / "c100.pt")
    url = fake_hub.put_file(_hashed_name("cifar100_resnet20", ".pt", data), data)
    _register(dataclasses.replace(rz.get_weights("resnet20b_cifar.chenyaofo_cifar100"), url=url))
    model = rz.create_model("resnet20b_cifar.cifar100", progress=False)
    _same_function(model, source)
    assert model.num_classes == 100
    # The same weights do not fit the option-A network of the same depth, and the error says why.
    with pytest.raises(rz.CheckpointError, match=r"differ in their shortcuts.*resnet20b_cifar option B"):
        rz.create_model("resnet20b_cifar.cifar100", shortcut="A", progress=False)


# -- integrity: nothing cut short, altered or unsafe is loaded or kept ----------------------------


def test_a_file_whose_sha256_does_not_start_with_its_name_s_prefix_is_refused(
    fake_hub: FakeHub,
    akamaster20: tuple[torch.nn.Module, Weights, bytes],
    monkeypatch: pytest.MonkeyPatch,
    hf_home: Path,
) -> None:
    _, record, data = akamaster20
    url = fake_hub.put_file("resnet20-00000000.th", data)
    _register(dataclasses.replace(record, url=url, sha256=None, file_size=None))
    with pytest.raises(rz.ChecksumError, match=r"does not have the expected sha256.*nothing was kept"):
        rz.resnet20_cifar(pretrained=True, progress=False)
    assert _downloads(hf_home) == []
    # A name that does carry the file's sha256 prefix is enough to check it.
    good = fake_hub.put_file(_hashed_name("resnet20", ".th", data), data)
    _register(dataclasses.replace(record, url=good, sha256=None, file_size=None))
    rz.resnet20_cifar(pretrained=True, progress=False)


def test_a_download_cut_short_never_lands_in_the_cache(
    fake_hub: FakeHub, akamaster20: tuple[torch.nn.Module, Weights, bytes], hf_home: Path
) -> None:
    source, record, data = akamaster20
    fake_hub.cut_file("files", record.source_file_name, len(data) // 2)
    with pytest.raises(rz.ChecksumError, match="cut short"):
        rz.resnet20_cifar(pretrained=True, progress=False)
    assert _downloads(hf_home) == []  # not even a .partial file
    assert _converted(hf_home) == []
    fake_hub.cut_file("files", record.source_file_name, len(data))  # the server's copy is whole again
    _same_function(rz.resnet20_cifar(pretrained=True, progress=False), source)


def test_a_cached_download_that_was_altered_is_removed(
    fake_hub: FakeHub, akamaster20: tuple[torch.nn.Module, Weights, bytes], hf_home: Path
) -> None:
    source, record, data = akamaster20
    cached = hf_home / "resnetzoo" / "downloads" / record.source_file_name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit flipped, same size
    with pytest.raises(rz.ChecksumError, match=r"sha256 is .* expected .*cached copy was removed"):
        rz.resnet20_cifar(pretrained=True, progress=False)
    assert not cached.exists()
    _same_function(rz.resnet20_cifar(pretrained=True, progress=False), source)  # downloaded afresh


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return (Path.touch, (self.marker,))


def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(
    fake_hub: FakeHub,
    akamaster20: tuple[torch.nn.Module, Weights, bytes],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    _, record, _ = akamaster20
    marker = tmp_path / "exploited"
    torch.save(
        {"state_dict": rz.resnet20_cifar().state_dict(), "extra": _Exploit(marker)}, tmp_path / "evil.th"
    )
    data = (tmp_path / "evil.th").read_bytes()
    url = fake_hub.put_file(_hashed_name("resnet20", ".th", data), data)
    _register(dataclasses.replace(record, url=url, sha256=hashlib.sha256(data).hexdigest(), file_size=None))
    with pytest.raises(rz.CheckpointError, match="cannot be loaded safely"):
        rz.resnet20_cifar(pretrained=True, progress=False)
    assert not marker.exists()


def test_offline_with_an_empty_cache_is_a_clear_error_and_sends_nothing(
    fake_hub: FakeHub, akamaster20: tuple[torch.nn.Module, Weights, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(
        rz.HubRequestError, match=r"offline \(HF_HUB_OFFLINE=1\) and not in the cache.*mirror"
    ):
        rz.resnet20_cifar(pretrained=True, progress=False)
    with pytest.raises(rz.HubRequestError, match=r"cannot find 'pytorch_model.bin'.*HF_HUB_OFFLINE=1"):
        rz.resnet18_cifar(pretrained=True, progress=False)
    assert fake_hub.requests == []


# -- the converted cache ---------------------------------------------------------------------------


def test_the_converted_cache_is_read_without_the_network_and_redone_when_stale_or_damaged(
    fake_hub: FakeHub,
    akamaster20: tuple[torch.nn.Module, Weights, bytes],
    hf_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source, record, _ = akamaster20
    rz.resnet20_cifar(pretrained=True, progress=False)
    (hf_home / "resnetzoo" / "downloads").rename(hf_home / "gone")  # only the converted copy is left
    fake_hub.stop()
    _same_function(rz.resnet20_cifar(pretrained=True, progress=False), source)
    (folder,) = (hf_home / "resnetzoo" / "converted").rglob("resnet20_cifar.akamaster_cifar10")
    assert rz.from_pretrained(folder).pretrained_cfg.sha256 == record.sha256  # a resnetzoo repo folder

    # A record that names another file does not take this copy; it needs its own download.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    _register(dataclasses.replace(record, sha256="0" * 64))
    with pytest.raises(rz.HubRequestError, match="offline"):
        rz.resnet20_cifar(pretrained=True, progress=False)
    _register(record)
    # A damaged copy is converted again from the download.
    (hf_home / "gone").rename(hf_home / "resnetzoo" / "downloads")
    (folder / "model.safetensors").write_bytes(b"damaged")
    _same_function(rz.resnet20_cifar(pretrained=True, progress=False), source)


# -- the air-gapped mirror ---------------------------------------------------------------------


def test_a_mirror_folder_serves_hub_and_url_files_with_no_request(
    fake_hub: FakeHub,
    edadaltocg18: tuple[torch.nn.Module, bytes],
    akamaster20: tuple[torch.nn.Module, Weights, bytes],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    eda_source, eda_data = edadaltocg18
    aka_source, record, aka_data = akamaster20
    mirror = tmp_path / "mirror"
    (mirror / "edadaltocg" / "resnet18_cifar10").mkdir(parents=True)
    (mirror / "edadaltocg" / "resnet18_cifar10" / "pytorch_model.bin").write_bytes(eda_data)
    (mirror / record.source_file_name).write_bytes(aka_data)
    monkeypatch.setenv(MIRROR_ENV, str(mirror))
    _same_function(rz.resnet20_cifar(pretrained=True, progress=False), aka_source)
    _same_function(rz.resnet18_cifar(pretrained=True, progress=False), eda_source)
    by_name = rz.from_pretrained("resnet20_cifar.cifar10", progress=False)  # weights by name, one door
    _same_function(by_name, aka_source)
    assert by_name.pretrained_cfg == record
    assert fake_hub.requests == []

    with pytest.raises(
        rz.HubRequestError,
        match=rf"mirror {MIRROR_ENV}=.*no file .*edadaltocg/resnet34_cifar10/pytorch_model.bin",
    ):
        rz.resnet34_cifar(pretrained=True, progress=False)
    (mirror / record.source_file_name).write_bytes(aka_data[::-1])
    monkeypatch.setenv("HF_HOME", str(tmp_path / "other-home"))
    monkeypatch.setattr(constants, "HF_HOME", str(tmp_path / "other-home"))
    with pytest.raises(rz.ChecksumError, match="from the mirror"):
        rz.resnet20_cifar(pretrained=True, progress=False)
    assert (mirror / record.source_file_name).exists()  # a mirror's file is never deleted


def test_a_mirror_url_serves_the_same_layout(
    fake_hub: FakeHub,
    akamaster20: tuple[torch.nn.Module, Weights, bytes],
    monkeypatch: pytest.MonkeyPatch,
    hf_home: Path,
) -> None:
    source, record, data = akamaster20
    fake_hub.put_file(f"mirror/{record.source_file_name}", data)
    monkeypatch.setenv(MIRROR_ENV, f"{fake_hub.url}/files/mirror")
    _same_function(rz.resnet20_cifar(pretrained=True, progress=False), source)
    assert fake_hub.downloads(f"/files/mirror/{record.source_file_name}") == 1
    assert fake_hub.downloads(f"/files/{record.source_file_name}") == 0  # not the origin
    with pytest.raises(
        rz.HubRequestError, match=r"HTTP 404.*the mirror must serve the file of .*pytorch_model.bin"
    ):
        rz.resnet18_cifar(pretrained=True, progress=False)


# -- the real files ----------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [20, 32, 44, 56])
def test_the_real_akamaster_files_convert_and_compute_what_their_network_does(
    depth: int, hf_home: Path, monkeypatch: pytest.MonkeyPatch, shared_akamaster: Path
) -> None:
    monkeypatch.setenv(MIRROR_ENV, str(shared_akamaster))
    record = rz.get_weights(f"resnet{depth}_cifar")
    model = rz.create_model(f"resnet{depth}_cifar", pretrained=True)  # sha256 and size checked
    assert model.pretrained_cfg == record
    source = AkamasterResNet((depth - 2) // 6)
    checkpoint = torch.load(shared_akamaster / record.source_file_name, map_location="cpu", weights_only=True)
    source.load_state_dict({k.removeprefix("module."): v for k, v in checkpoint["state_dict"].items()})
    _same_function(model, source)


def test_messages_never_repeat_torch_s_advice_to_unpickle_unsafely(tmp_path: Path) -> None:
    (tmp_path / "damaged.pt").write_bytes(b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01ctorch\nno_such\nq\x02s.")
    with pytest.raises(rz.CheckpointError) as info:
        rz.load_checkpoint(rz.resnet20_cifar(), tmp_path / "damaged.pt")
    assert "weights_only` set to `False`" not in str(info.value)
    assert "will likely succeed" not in str(info.value)


def test_readme_quick_start_loads_real_weights(hf_home, monkeypatch, tmp_path, capsys, shared_akamaster):
    from PIL import Image

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    snippet = readme.split("```python\n")[1].split("```")[0]
    assert "pretrained=True" in snippet
    monkeypatch.setenv(MIRROR_ENV, str(shared_akamaster))  # the real file, no network
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (32, 32), (200, 120, 60)).save("cat.png")
    exec(compile(snippet, "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "93.39%"
    assert "Prediction(index=" in out[1]
    assert out[2] == "['resnet18_cifar.edadaltocg_cifar10', 'resnet18_cifar.edadaltocg_cifar100']"


def _run_real_weight_tests(tmp_path: Path, *options: str, **env: str) -> subprocess.CompletedProcess:
    """This file's README test in a child pytest (with ``options``), with ../shared looked for where nothing
    is."""
    root = Path(__file__).resolve().parents[1]
    child = {k: v for k, v in child_env().items() if k != "RESNETZOO_REQUIRE_SHARED"}  # CI sets it
    child.update(RESNETZOO_SHARED=str(tmp_path / "no-shared"), **env)
    command = [
        sys.executable,
        "-m",
        "pytest",
        f"{Path(__file__).name}::test_readme_quick_start_loads_real_weights",
    ]
    return subprocess.run(
        [*command, "-p", "no:cacheprovider", "-q", *options],
        cwd=root / "tests",
        env=child,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_missing_real_weights_are_a_loud_skip_and_a_failure_where_required(tmp_path: Path) -> None:
    skipped = _run_real_weight_tests(tmp_path)
    assert skipped.returncode == 0, skipped.stdout[-2000:]
    assert "1 skipped" in skipped.stdout
    assert "1 tests on REAL WEIGHTS were SKIPPED" in skipped.stdout
    assert f"{tmp_path / 'no-shared'} is missing" in skipped.stdout
    # The same under pytest-xdist, as CI runs the tests: the skip happens in a worker, the summary in the
    # main process.
    in_worker = _run_real_weight_tests(tmp_path, "-n", "1")
    assert in_worker.returncode == 0, in_worker.stdout[-2000:]
    assert "1 tests on REAL WEIGHTS were SKIPPED" in in_worker.stdout

    required = _run_real_weight_tests(tmp_path, RESNETZOO_REQUIRE_SHARED="1")
    assert required.returncode == 1, required.stdout[-2000:]
    assert "1 error" in required.stdout  # the fixture fails: an error, never a skip
    assert "skipped" not in required.stdout
    assert "RESNETZOO_REQUIRE_SHARED=1 forbids skipping the tests on real weights" in required.stdout


def test_ci_requires_the_real_weights() -> None:
    script = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert script.index("export RESNETZOO_REQUIRE_SHARED=1") < script.index("-m pytest")


# -- the command line ------------------------------------------------------------------------------


def test_resnetzoo_list_pretrained_prints_source_license_accuracy_and_size(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from resnetzoo.cli import main

    assert main(["list", "--pretrained", "resnet56*"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["weights", "source", "license", "reported", "measured", "size"]
    rows = {line.split()[0]: line.split() for line in lines[1:4]}
    assert rows["resnet56_cifar.akamaster_cifar10"] == [
        "resnet56_cifar.akamaster_cifar10",
        "github.com/akamaster/pytorch_resnet_cifar10",
        "BSD-2-Clause",
        "93.39%",
        "83.20%",
        "3.5",
        "MB",
    ]
    assert rows["resnet56b_cifar.chenyaofo_cifar100"][2:5] == ["BSD-3-Clause", "72.63%", "-"]
    assert "JPEG copy" in lines[-1]


def test_resnetzoo_eval_of_weights_by_name_normalises_as_they_were_trained(
    akamaster20: tuple[torch.nn.Module, Weights, bytes],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from resnetzoo.cli import main
    from resnetzoo.data import DeviceLoader, sample_cifar10

    _, record, _ = akamaster20
    args = [
        "eval",
        "--model",
        "resnet20_cifar.cifar10",
        "--data",
        "sample",
        "--device",
        "cpu",
        "--batch-size",
        "500",
    ]
    with caplog.at_level(logging.INFO, logger="resnetzoo.cli"):
        assert main(args) == 0
    assert f"normalising with the mean {record.mean} and std {record.std}" in caplog.text
    printed = capsys.readouterr().out
    model = rz.create_model("resnet20_cifar.cifar10", progress=False)
    loader = DeviceLoader(sample_cifar10("test"), 500, train=False, mean=record.mean, std=record.std)
    expected = rz.Trainer(model, rz.TrainConfig(device="cpu", progress=False)).test(loader)["top1"]
    assert f"top-1 {100 * expected:.2f}%" in printed
