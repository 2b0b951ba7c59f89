"""One source resolver: every kind of model source, through every function and command that takes one.

The same weights are written as each kind of source :func:`resnetzoo.hub.resolve_source` knows (a
registered name, a saved folder, a run folder, a Trainer checkpoint, a Hub repo, a state-dict file),
then loaded through each user of the resolver (``create_model``, ``from_pretrained``,
``load_checkpoint``, ``resnetzoo convert``, ``resnetzoo predict --weights``): the answers must be the
same logits. Then one NaN-weights source, one file that fails its sha256 and one pickle that
would run code are fed to every load path, which must refuse each the same way, naming the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from fakehub import FakeHub
from helpers import logits
from PIL import Image
from source_nets import AkamasterResNet, randomize, save_akamaster
from train_helpers import loaders, tiny_resnet, training_state

import resnetzoo as rz
from resnetzoo.cli import main
from resnetzoo.hub import ModelSource, resolve_source
from resnetzoo.hub.pretrained import MIRROR_ENV
from resnetzoo.models.weights import Weights
from resnetzoo.train import write_checkpoint

pytestmark = [
    # scoped_registry: whatever a test registers or replaces is gone after it.
    pytest.mark.usefixtures("single_thread", "scoped_registry"),
    # torch.load warns about the plain pickle's protocol before refusing it.
    pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning"),
]

NAME = "resnet20_cifar.akamaster_cifar10"  # the default CIFAR-10 weights of resnet20_cifar


def _register(record: Weights) -> Weights:
    """Add ``record`` to the weights table (replacing one of its name) for this test only."""
    rz.register_weights([record], replace=True)
    return record


@dataclasses.dataclass
class Sources:
    reference: torch.Tensor  # the logits of the network the weights came from
    record: Weights
    specs: dict[str, str]  # kind of source -> what a user types for it


@pytest.fixture
def sources(fake_hub: FakeHub, tmp_path: Path) -> Sources:
    """akamaster's resnet20 registered by name, and the same weights as every other kind of source."""
    network = randomize(AkamasterResNet(3), seed=21)
    data = save_akamaster(network, tmp_path / "ckpt.th")
    url = fake_hub.put_file(f"resnet20-{hashlib.sha256(data).hexdigest()[:8]}.th", data)
    record = _register(
        dataclasses.replace(
            rz.get_weights(NAME), url=url, sha256=hashlib.sha256(data).hexdigest(), file_size=len(data)
        ),
    )
    model = rz.create_model(NAME, progress=False)
    saved = rz.save_pretrained(model, tmp_path / "saved")
    rz.save_pretrained(model, tmp_path / "run" / "best")
    fake_hub.commit("me/r20", {p.name: p.read_bytes() for p in saved.iterdir()})
    write_checkpoint(
        tmp_path / "epoch_0001.pt",
        {
            **training_state(model.state_dict()),
            "model_name": "resnet20_cifar",
            "model_kwargs": {"num_classes": 10},
            "pretrained_cfg": model.pretrained_cfg.to_dict(),
        },
    )
    torch.save(model.state_dict(), tmp_path / "state_dict.pt")
    specs = {
        "registered": NAME,
        "registered-bare": "resnet20_cifar",
        "saved": str(saved),
        "run": str(tmp_path / "run"),
        "checkpoint": str(tmp_path / "epoch_0001.pt"),
        "hub": "hf-hub:me/r20",
        "hub-bare": "me/r20",
        "state_dict": str(tmp_path / "state_dict.pt"),
        "state_dict-safetensors": str(saved / "model.safetensors"),
    }
    return Sources(logits(network, n=2), record, specs)


def test_resolve_source_names_each_kind(sources: Sources, tmp_path: Path) -> None:
    kinds = {key: resolve_source(spec).kind for key, spec in sources.specs.items()}
    assert kinds == {
        "registered": "registered",
        "registered-bare": "registered",
        "saved": "saved",
        "run": "run",
        "checkpoint": "checkpoint",
        "hub": "hub",
        "hub-bare": "hub",
        "state_dict": "state_dict",
        "state_dict-safetensors": "state_dict",
    }
    assert resolve_source(NAME) == ModelSource(
        "registered", NAME, name="resnet20_cifar", tag="akamaster_cifar10"
    )
    assert resolve_source(sources.specs["run"]).path == tmp_path / "run" / "best"
    assert resolve_source("hf-hub:me/r20/sub/w.pt") == ModelSource(
        "hub", "hf-hub:me/r20/sub/w.pt", repo_id="me/r20", filename="sub/w.pt"
    )


def test_what_was_tried_is_listed_when_nothing_matches(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.pt does not exist; expected a registered model name"):
        resolve_source(tmp_path / "nope.pt")
    with pytest.raises(
        rz.ArgumentError, match=r"did you mean 'resnet18_cifar'.*no file or folder of that name"
    ):
        resolve_source("resnet19_cifar")
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        FileNotFoundError, match=r"has no config\.json.*nor a run folder with best/config\.json"
    ):
        resolve_source(tmp_path / "empty")
    with pytest.raises(rz.ArgumentError, match=r"expected hf-hub:org/name\[/filename\]"):
        resolve_source("hf-hub:justaname")


@pytest.mark.parametrize(
    "kind",
    ["registered", "registered-bare", "saved", "run", "checkpoint", "hub", "hub-bare"],
)
def test_from_pretrained_gives_the_same_logits_from_every_source(sources: Sources, kind: str) -> None:
    model = rz.from_pretrained(sources.specs[kind], progress=False)
    torch.testing.assert_close(logits(model, n=2), sources.reference, rtol=1e-5, atol=1e-5)
    assert model.pretrained_cfg.architecture == "resnet20_cifar"
    assert model.pretrained_cfg.mean == sources.record.mean


def test_from_pretrained_of_a_bare_state_dict_says_which_call_loads_it(sources: Sources) -> None:
    with pytest.raises(rz.ArgumentError, match=r"does not name its architecture.*resnetzoo\.load_checkpoint"):
        rz.from_pretrained(sources.specs["state_dict"])


def test_a_bare_name_without_weights_says_which_call_builds_it() -> None:
    with pytest.raises(
        rz.WeightsNotPublishedError,
        match=r"not published.*For random weights call resnetzoo\.create_model\('resnet101_cifar'\)",
    ):
        rz.from_pretrained("resnet101_cifar")


@pytest.mark.parametrize("kind", ["registered", "hub"])
def test_create_model_gives_the_same_logits(sources: Sources, kind: str) -> None:
    model = rz.create_model(sources.specs[kind], progress=False)
    torch.testing.assert_close(logits(model, n=2), sources.reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "kind",
    [
        "registered",
        "registered-bare",
        "saved",
        "run",
        "checkpoint",
        "hub",
        "hub-bare",
        "state_dict",
        "state_dict-safetensors",
    ],
)
def test_load_checkpoint_gives_the_same_logits_from_every_source(sources: Sources, kind: str) -> None:
    model = rz.resnet20_cifar()
    report = rz.load_checkpoint(model, sources.specs[kind])
    assert report.ok
    torch.testing.assert_close(logits(model, n=2), sources.reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["registered", "saved", "run", "checkpoint", "hub", "state_dict"])
def test_convert_gives_the_same_logits_from_every_source(
    sources: Sources, kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "converted"
    assert main(["convert", sources.specs[kind], str(out), "--model", "resnet20_cifar"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    torch.testing.assert_close(logits(rz.from_pretrained(out), n=2), sources.reference, rtol=1e-5, atol=1e-5)


def _image(tmp_path: Path) -> Path:
    path = tmp_path / "image.png"
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def _predict(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    assert main(["predict", *args, "--topk", "10", "--json"]) == 0
    return json.loads(capsys.readouterr().out)[0]["predictions"]


@pytest.mark.parametrize("kind", ["registered", "registered-bare", "saved", "run", "checkpoint", "hub-bare"])
def test_the_cli_weights_option_gives_the_same_answer_from_every_source(
    sources: Sources, kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = _image(tmp_path)
    expected = rz.predict(rz.from_pretrained(sources.specs["saved"]), [image], topk=10)[0]
    got = _predict(capsys, "--weights", sources.specs[kind], str(image))
    assert [p["index"] for p in got] == [p.index for p in expected]
    np.testing.assert_allclose([p["probability"] for p in got], [p.probability for p in expected], atol=1e-6)
    # A state-dict file names no architecture: --checkpoint with --model gives the same network.
    if kind == "registered":
        model = rz.resnet20_cifar()
        model.load_state_dict(torch.load(sources.specs["state_dict"], weights_only=True))
        plain = rz.predict(model, [image], topk=10)[0]
        got = _predict(
            capsys, "--checkpoint", sources.specs["state_dict"], "--model", "resnet20_cifar", str(image)
        )
        np.testing.assert_allclose([p["probability"] for p in got], [p.probability for p in plain], atol=1e-6)


# -- one refusal per bad input, whichever door it comes through --------------------------------------


class _Exploit:
    """Unpickling this would create a file: the test checks that it never happens."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return (Path.touch, (self.marker,))


def _diverged() -> torch.nn.Module:
    model = rz.resnet20_cifar()
    with torch.no_grad():
        model.fc.bias[3] = float("nan")
    return model


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> Exception:
    """Run a command that must fail; its one-line error, as the exception the library raised would say it."""
    assert main(list(args)) == 2
    return RuntimeError(capsys.readouterr().err)


def test_every_load_path_refuses_nan_weights_a_wrong_sha256_and_a_code_carrying_pickle_the_same_way(
    fake_hub: FakeHub,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    image = str(_image(tmp_path))
    out = str(tmp_path / "out")

    def resume(path: Path) -> object:
        train, val = loaders(n_train=16)
        config = rz.TrainConfig(epochs=1, progress=False, device="cpu", out_dir=str(tmp_path / "resumed"))
        return rz.Trainer(tiny_resnet(), config).fit(train, val, resume=path)

    def doors(spec: str, *, registered: bool = False) -> dict[str, Callable[[], object]]:
        found = {
            "from_pretrained": lambda: rz.from_pretrained(spec, progress=False),
            "load_checkpoint": lambda: rz.load_checkpoint(rz.resnet20_cifar(), spec),
            "convert": lambda: _cli(capsys, "convert", spec, out, "--model", "resnet20_cifar", "--force"),
            "cli --weights": lambda: _cli(capsys, "predict", "--weights", spec, image),
            "cli --checkpoint": lambda: _cli(
                capsys, "predict", "--checkpoint", spec, "--model", "resnet20_cifar", image
            ),
            "cli --teacher": lambda: _cli(
                capsys,
                "distill",
                "--teacher",
                spec,
                "--student",
                "resnet20_cifar",
                "--data",
                "sample",
                "--out",
                out,
            ),
        }
        if registered:
            found["create_model(pretrained=)"] = lambda: rz.create_model(
                spec, pretrained=True, progress=False
            )
            found["factory(pretrained=)"] = lambda: rz.resnet20_cifar(pretrained=True, progress=False)
        return found

    def refused_alike(doors: dict[str, Callable[[], object]], error: type[Exception], message: str) -> None:
        for door, load in doors.items():
            try:
                result = load()
            except error as err:
                result = err
            except Exception as err:  # the wrong kind of refusal fails, saying which door
                pytest.fail(f"{door}: {type(err).__name__}: {err}")
            text = str(result)
            assert isinstance(result, (error, RuntimeError)), f"{door} loaded it: {result!r}"
            assert message in text, f"{door}: {text}"
        assert not (tmp_path / "out").exists()

    # 1. NaN weights: a saved folder, a run's checkpoint, and a mirror file of a record with no sha256 pin.
    folder = rz.save_pretrained(_diverged(), tmp_path / "diverged", allow_nonfinite=True)
    nan_message = f"{folder} holds NaN or infinite values in 1 tensor (fc.bias)"
    refused_alike(doors(str(folder)), rz.CheckpointError, nan_message)
    nan_checkpoint = tmp_path / "diverged.pt"
    write_checkpoint(
        nan_checkpoint,
        {**training_state(_diverged().state_dict()), "model_name": "resnet20_cifar", "model_kwargs": {}},
    )
    checkpoint_doors = {**doors(str(nan_checkpoint)), "Trainer resume": lambda: resume(nan_checkpoint)}
    refused_alike(
        checkpoint_doors,
        rz.CheckpointError,
        f"{nan_checkpoint} holds NaN or infinite values in 1 tensor (fc.bias)",
    )
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    record = rz.get_weights(NAME)
    unpinned = dataclasses.replace(  # a Hub record may pin no sha256: the Hub's ETag checks a download
        record, url=None, hf_hub_id="me/r20", hf_hub_filename="resnet20.th", sha256=None, file_size=None
    )
    (mirror / "me" / "r20").mkdir(parents=True)
    torch.save(_diverged().state_dict(), mirror / "me" / "r20" / "resnet20.th")
    _register(unpinned)
    monkeypatch.setenv(MIRROR_ENV, str(mirror))
    with caplog.at_level(logging.ERROR):  # the mirror's "no sha256 to check" warning is expected
        refused_alike(
            doors(NAME, registered=True),
            rz.CheckpointError,
            f"{mirror / 'me' / 'r20' / 'resnet20.th'} holds NaN or infinite values in 1 tensor",
        )
    monkeypatch.delenv(MIRROR_ENV)

    # 2. A file that does not have the sha256 its record pins.
    data = b"not the file the record names"
    url = fake_hub.put_file("resnet20-0badc0de.th", data)
    _register(dataclasses.replace(record, url=url, sha256="0" * 64, file_size=None))
    refused_alike(
        doors(NAME, registered=True),
        rz.ChecksumError,
        f"the file downloaded from {url} does not have the expected sha256",
    )

    # 3. A pickle that would run code: refused as UNSAFE, never as damage, and nothing runs.
    marker = tmp_path / "exploited"
    evil = tmp_path / "evil.pt"
    torch.save({"state_dict": rz.resnet20_cifar().state_dict(), "extra": _Exploit(marker)}, evil)
    plain = (
        tmp_path / "plain.pth"
    )  # a plain pickle, not torch's zip: torch 2.14 fails on it before any GLOBAL
    with open(plain, "wb") as f:
        pickle.dump({"state_dict": {}, "extra": _Exploit(marker)}, f)
    for path in (evil, plain):
        unsafe = f"cannot read checkpoint {path}: the file is UNSAFE"
        refused_alike(
            {**doors(str(path)), "Trainer resume": lambda path=path: resume(path)}, rz.CheckpointError, unsafe
        )
    evil_url = fake_hub.put_file("resnet20-e5e5e5e5.th", evil.read_bytes())
    _register(
        dataclasses.replace(
            record, url=evil_url, sha256=hashlib.sha256(evil.read_bytes()).hexdigest(), file_size=None
        ),
    )
    refused_alike(doors(NAME, registered=True), rz.CheckpointError, "the file is UNSAFE")
    assert not marker.exists()


def test_torch_s_advice_to_unpickle_unsafely_never_reaches_a_message(tmp_path: Path) -> None:
    """torch 2.14: "Re-running `torch.load` with `weights_only` set to `False` will likely succeed"."""
    evil = tmp_path / "evil.pt"
    torch.save({"extra": _Exploit(tmp_path / "x")}, evil)
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01ctorch\nno_such\nq\x02s.")
    for path in (evil, damaged):
        with pytest.raises(rz.CheckpointError) as info:
            rz.load_checkpoint(rz.resnet20_cifar(), path)
        text = str(info.value)
        assert "weights_only" not in text
        assert "will likely succeed" not in text
        assert str(path) in text
    assert "corrupted or truncated" in text  # the damaged one is damage, not unsafe
