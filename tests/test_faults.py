"""Faults survived (issue 8): a crash, a full disk, a broken server or a read-only cache loses nothing.

Each row is asserted once: by a test below (named after it) or by the existing test named.

Training
 1. kill -9 in the middle of an epoch, then resume: finishes, bitwise equal to an uninterrupted
    run (CPU, deterministic):
    test_train_checkpoint.py::test_a_run_killed_by_sigkill_mid_epoch_resumes_bitwise_exactly
 2. torch.save raises halfway through a checkpoint: the previous file is byte-for-byte intact, no
    temporary file: test_train_checkpoint.py::test_a_failed_write_keeps_the_previous_file_whole
 3. the disk fills up halfway through a checkpoint (ENOSPC): test_a_failed_checkpoint_write[disk-full]
 4. fsync fails (EIO): test_a_failed_checkpoint_write[fsync-fails]
 5. the rename over the previous checkpoint fails: test_a_failed_checkpoint_write[rename-fails]
 6. the disk fills up during fit: the run stops naming the file, the previous epoch's checkpoint
    resumes: test_a_full_disk_stops_fit_and_the_run_resumes_from_the_previous_epoch
Saving and exporting
 7. save_pretrained into a new folder fails: nothing is left: test_save_load.py::test_save_is_atomic
 8. save_pretrained over a saved folder, the disk fills up halfway:
    test_save_pretrained_over_a_saved_folder_keeps_it_whole[disk-full]
 9. save_pretrained over a saved folder, a rename fails after the weights were replaced:
    test_save_pretrained_over_a_saved_folder_keeps_it_whole[rename-fails]
10. export fails while writing or checking: the previous file is intact, no temporary file:
    test_export.py::test_failed_export_keeps_the_existing_file
The Hub
11. a download cut off halfway: nothing partial is cached or loaded:
    test_hub_download.py::test_a_download_cut_short_is_never_loaded
12. published weights whose bytes do not have the pinned sha256: ChecksumError, the cached copy is
    removed: test_hub_download.py::test_checksum_mismatch_removes_the_cached_file_and_raises
13. a server sending random bytes as weights: test_garbage_weights_from_the_server_are_never_loaded
14. a server sending random bytes as config.json: test_a_config_json_that_is_not_json_stops_before_the_weights
15. a cache folder below a regular file: test_an_unwritable_cache_is_named_with_what_to_do[not-a-directory]
16. a read-only cache folder: test_an_unwritable_cache_is_named_with_what_to_do[read-only]
"""

from __future__ import annotations

import errno
import os
import random
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from fakehub import FakeHub
from helpers import logits
from huggingface_hub import constants
from train_helpers import synthetic_dataset, tiny_resnet, training_state

import resnetzoo as rz
from resnetzoo.data import DeviceLoader
from resnetzoo.train import TrainConfig, Trainer
from resnetzoo.train.checkpoint import list_checkpoints, read_checkpoint, write_checkpoint

# Tiny models: a second torch thread only adds barriers (see helpers.pinned_threads).
pytestmark = pytest.mark.usefixtures("single_thread")


def _resnet20(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return rz.resnet20_cifar().eval()


def _disk_full(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


# -- training checkpoints -------------------------------------------------------------------------


def _half_then_disk_full(obj: object, f, *args: object, **kwargs: object) -> None:
    f.write(b"the first half of a checkpoint")
    _disk_full()


def _fsync_fails(fd: int) -> None:
    raise OSError(errno.EIO, "Input/output error")


def _rename_fails(src: object, dst: object) -> None:
    raise OSError(errno.EXDEV, "Invalid cross-device link")


@pytest.mark.parametrize(
    ("target", "replacement", "code"),
    [
        ((torch, "save"), _half_then_disk_full, errno.ENOSPC),
        ((os, "fsync"), _fsync_fails, errno.EIO),
        ((os, "replace"), _rename_fails, errno.EXDEV),
    ],
    ids=["disk-full", "fsync-fails", "rename-fails"],
)
def test_a_failed_checkpoint_write(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    target: tuple[object, str],
    replacement: Callable[..., None],
    code: int,
) -> None:
    path = write_checkpoint(tmp_path / "epoch_0001.pt", training_state({"w": torch.arange(4.0)}))
    before = path.read_bytes()
    monkeypatch.setattr(*target, replacement)
    with pytest.raises(
        OSError, match=rf"could not write checkpoint {re.escape(str(path))} \(.+\); the previous"
    ) as info:
        write_checkpoint(path, training_state({"w": torch.zeros(4)}, epoch=2))
    monkeypatch.undo()
    assert info.value.errno == code
    assert path.read_bytes() == before
    assert read_checkpoint(path)["epoch"] == 1
    assert os.listdir(tmp_path) == ["epoch_0001.pt"]  # no temporary file left behind


def test_a_full_disk_stops_fit_and_the_run_resumes_from_the_previous_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = TrainConfig(
        epochs=2, batch_size=16, progress=False, device="cpu", loggers=(), out_dir=str(tmp_path)
    )
    data = synthetic_dataset(64)
    save = torch.save

    def disk_full_at_epoch_2(obj: dict, f, *args: object, **kwargs: object) -> None:
        if obj.get("kind") == "train" and obj.get("epoch") == 2:
            _half_then_disk_full(obj, f)
        save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", disk_full_at_epoch_2)
    with pytest.raises(
        OSError, match=r"could not write checkpoint .*checkpoints/epoch_0002\.pt \(No space left"
    ):
        Trainer(tiny_resnet(), config).fit(DeviceLoader(data, 16, channels_last=False))
    monkeypatch.undo()
    checkpoints = tmp_path / "checkpoints"
    assert sorted(os.listdir(checkpoints)) == ["epoch_0001.pt"]
    assert read_checkpoint(checkpoints / "epoch_0001.pt")["epoch"] == 1

    history = Trainer(tiny_resnet(), config).fit(DeviceLoader(data, 16, channels_last=False), resume="auto")
    assert [row["epoch"] for row in history] == [1, 2]
    assert [p.name for p in list_checkpoints(checkpoints)] == ["epoch_0001.pt", "epoch_0002.pt"]


# -- save_pretrained -----------------------------------------------------------------------------


def _weights_half_then_disk_full(monkeypatch: pytest.MonkeyPatch) -> None:
    write_bytes = Path.write_bytes

    def half_then_full(self: Path, data: bytes) -> int:
        if self.name != "model.safetensors":
            return write_bytes(self, data)
        write_bytes(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", half_then_full)


def _replace_fails_at_config(monkeypatch: pytest.MonkeyPatch) -> None:
    replace = os.replace

    def fails_at_config(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst).name == "config.json":  # after model.safetensors and README.md were replaced
            _rename_fails(src, dst)
        replace(src, dst)

    monkeypatch.setattr(os, "replace", fails_at_config)


@pytest.mark.parametrize(
    ("break_it", "code"),
    [
        (_weights_half_then_disk_full, errno.ENOSPC),
        (_replace_fails_at_config, errno.EXDEV),
    ],
    ids=["disk-full", "rename-fails"],
)
def test_save_pretrained_over_a_saved_folder_keeps_it_whole(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    break_it: Callable[[pytest.MonkeyPatch], None],
    code: int,
) -> None:
    previous = _resnet20(seed=1)
    folder = rz.save_pretrained(previous, tmp_path / "repo", metrics={"top1": 0.91})
    (folder / "train.log").write_text("epoch 1\n")
    files = {p.name: p.read_bytes() for p in folder.iterdir()}

    break_it(monkeypatch)
    with pytest.raises(OSError, match=os.strerror(code)) as info:
        rz.save_pretrained(_resnet20(seed=2), folder, metrics={"top1": 0.93})
    monkeypatch.undo()
    assert info.value.errno == code
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo"]  # no staging folder left
    reloaded = rz.from_pretrained(folder)
    assert torch.equal(logits(reloaded), logits(previous))
    assert dict(reloaded.pretrained_cfg.metrics) == {"top1": 0.91}


# -- the Hub -------------------------------------------------------------------------------------


def _repo_files(tmp_path: Path, seed: int = 0) -> dict[str, bytes]:
    folder = rz.save_pretrained(_resnet20(seed), tmp_path / f"saved-{seed}")
    return {p.name: p.read_bytes() for p in folder.iterdir()}


GARBAGE = random.Random(0).randbytes(64 * 1024)


@pytest.mark.parametrize(
    ("source", "load"),
    [
        ("hf-hub:me/garbage", lambda source, model: rz.from_pretrained(source, progress=False)),
        ("hf-hub:me/garbage/model.safetensors", lambda source, model: rz.load_checkpoint(model, source)),
        ("hf-hub:me/garbage/weights.pth", lambda source, model: rz.load_checkpoint(model, source)),
    ],
    ids=["from_pretrained", "load_checkpoint-safetensors", "load_checkpoint-pth"],
)
def test_garbage_weights_from_the_server_are_never_loaded(
    fake_hub: FakeHub,
    tmp_path: Path,
    source: str,
    load: Callable[[str, torch.nn.Module], object],
) -> None:
    files = _repo_files(tmp_path)
    fake_hub.commit("me/garbage", {**files, "model.safetensors": GARBAGE, "weights.pth": GARBAGE})
    model = _resnet20(seed=3)
    before = logits(model)
    name = source.rsplit("/", 1)[-1] if source.count("/") > 1 else "model.safetensors"
    with pytest.raises(
        rz.CheckpointError, match=rf"cannot read .*/{re.escape(name)}: .*(not a valid|corrupted)"
    ):
        load(source, model)
    assert torch.equal(logits(model), before)


def test_a_config_json_that_is_not_json_stops_before_the_weights(fake_hub: FakeHub, tmp_path: Path) -> None:
    fake_hub.commit("me/garbled", {**_repo_files(tmp_path), "config.json": GARBAGE[:2000]})
    with pytest.raises(
        rz.ConfigError, match=r"invalid config\.json in hf-hub:me/garbled@[0-9a-f]{40}: not JSON"
    ):
        rz.from_pretrained("hf-hub:me/garbled", progress=False)
    assert fake_hub.downloads("/model.safetensors") == 0


@pytest.fixture(params=["not-a-directory", "read-only"])
def unwritable_cache(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, dict[str, Path]]]:
    """A Hub cache that cannot be written, and the from_pretrained arguments that use it.

    One is given as ``cache_dir=`` and lies below a regular file (mkdir fails with
    NotADirectoryError, for root too); the other is ``HF_HUB_CACHE`` (what ``HF_HOME`` sets) and
    is read-only.
    """
    if request.param == "not-a-directory":
        (tmp_path / "a-file").write_text("not a folder")
        cache = tmp_path / "a-file" / "hub"
        yield cache, {"cache_dir": cache}
        return
    cache = tmp_path / "read-only-hub"
    cache.mkdir()
    cache.chmod(0o555)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    if os.access(cache, os.W_OK):
        # Root ignores permission bits (the tests run as root in some containers): refuse to create
        # anything below the folder, as the kernel does for everybody else.
        mkdir = os.mkdir

        def refuse(path: str | os.PathLike[str], *args: object, **kwargs: object) -> None:
            if Path(os.path.abspath(path)).is_relative_to(cache):
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
            mkdir(path, *args, **kwargs)

        monkeypatch.setattr(os, "mkdir", refuse)
    yield cache, {}
    cache.chmod(0o755)


def test_an_unwritable_cache_is_named_with_what_to_do(
    fake_hub: FakeHub, tmp_path: Path, unwritable_cache: tuple[Path, dict[str, Path]]
) -> None:
    fake_hub.commit("me/model", _repo_files(tmp_path))
    cache, kwargs = unwritable_cache
    with pytest.raises(
        rz.HubRequestError,
        match=rf"cannot store 'config\.json' of 'me/model' at revision 'main' in the Hub cache "
        rf"{re.escape(str(cache))} \((NotADirectoryError|PermissionError): .*\); make that folder "
        r"writable .*, or point HF_HOME \(or HF_HUB_CACHE, or cache_dir=\) at one that is",
    ) as info:
        rz.from_pretrained("hf-hub:me/model", progress=False, **kwargs)
    assert info.value.__cause__.errno in (errno.ENOTDIR, errno.EACCES)
    assert fake_hub.downloads("/model.safetensors") == 0


# -- permissions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_files_a_run_writes_have_the_permissions_the_umask_allows(tmp_path: Path, umask: int) -> None:
    """mkstemp and mkdtemp made checkpoints, metrics.csv and saved folders 0600/0700: a shared run folder
    could not be read by the rest of the team."""
    previous = os.umask(umask)
    try:
        out = tmp_path / "run"
        config = TrainConfig(epochs=1, batch_size=16, device="cpu", progress=False, out_dir=str(out))
        data = synthetic_dataset(32)
        trainer = Trainer(tiny_resnet(), config)
        trainer.fit(DeviceLoader(data, 16, channels_last=False), DeviceLoader(data, 16, train=False))
        rz.save_pretrained(rz.resnet20_cifar(), out / "saved")
    finally:
        os.umask(previous)
    written = sorted(out.rglob("*"))
    names = {p.relative_to(out).as_posix() for p in written}
    assert {
        "checkpoints/epoch_0001.pt",
        "metrics.csv",
        "train_config.json",
        "best/model.safetensors",
        "saved/model.safetensors",
        "saved/config.json",
    } <= names
    for path in written:
        expected = (0o777 if path.is_dir() else 0o666) & ~umask
        assert stat.S_IMODE(path.stat().st_mode) == expected, (
            path.relative_to(out),
            oct(path.stat().st_mode),
        )
