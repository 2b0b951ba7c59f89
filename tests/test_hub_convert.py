"""Importing other people's checkpoints: torchvision/timm, kuangliu/pytorch-cifar and
akamaster/pytorch_resnet_cifar10 layouts."""

from __future__ import annotations

import pathlib
from pathlib import Path

import pytest
import torch
import torchvision
from fakehub import FakeHub
from helpers import logits
from safetensors.torch import save_file
from source_nets import AkamasterResNet, randomize, torchvision_cifar_resnet
from torch import nn

import resnetzoo as rz

pytestmark = pytest.mark.usefixtures("single_thread")

# -- torchvision / timm -------------------------------------------------------------------------


def _torchvision_cifar_resnet18(num_classes: int = 10) -> nn.Module:
    """torchvision's resnet18 with the CIFAR stem that timm-based CIFAR repos use."""
    return randomize(torchvision_cifar_resnet(18, num_classes), seed=1)


def test_torchvision_resnet18_with_a_3x3_stem_loads_with_identical_outputs(tmp_path: Path) -> None:
    reference = _torchvision_cifar_resnet18()
    torch.save(reference.state_dict(), tmp_path / "tv.pth")
    model = rz.resnet18_cifar()
    report = rz.load_checkpoint(model, tmp_path / "tv.pth")
    assert report.ok
    assert report.layout == "resnetzoo"
    assert len(report.loaded) == len(reference.state_dict())
    assert torch.equal(logits(model), logits(reference))


def test_timm_style_safetensors_from_a_compiled_model(tmp_path: Path) -> None:
    reference = _torchvision_cifar_resnet18()
    state = {f"_orig_mod.{k}": v for k, v in reference.state_dict().items()}  # saved from torch.compile
    save_file(state, tmp_path / "model.safetensors")
    model = rz.resnet18_cifar()
    assert rz.load_checkpoint(model, str(tmp_path / "model.safetensors")).ok
    assert torch.equal(logits(model), logits(reference))


def test_an_imagenet_stem_is_a_shape_mismatch_not_a_silent_load(tmp_path: Path) -> None:
    torch.save(torchvision.models.resnet18(num_classes=10).state_dict(), tmp_path / "imagenet.pth")
    model = rz.resnet18_cifar()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(
        rz.CheckpointError,
        match=r"(?s)shape mismatch conv1.weight: checkpoint \[64, 3, 7, 7\] vs model \[64, 3, 3, 3\]"
        r".*ImageNet",
    ):
        rz.load_checkpoint(model, tmp_path / "imagenet.pth")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # nothing was loaded

    report = rz.load_checkpoint(model, tmp_path / "imagenet.pth", strict=False)
    assert report.mismatched == (("conv1.weight", (64, 3, 7, 7), (64, 3, 3, 3)),)
    assert not report.missing
    assert not report.unexpected
    assert not report.ok
    assert len(report.loaded) == len(before) - 1


def test_a_head_of_another_size_says_which_num_classes_to_use(tmp_path: Path) -> None:
    torch.save(_torchvision_cifar_resnet18(num_classes=100).state_dict(), tmp_path / "c100.pth")
    with pytest.raises(
        rz.CheckpointError, match="head has 100 classes: build the model with num_classes=100"
    ):
        rz.load_checkpoint(rz.resnet18_cifar(), tmp_path / "c100.pth")
    assert rz.load_checkpoint(rz.resnet18_cifar(num_classes=100), tmp_path / "c100.pth").ok


# -- kuangliu/pytorch-cifar ---------------------------------------------------------------------


def _kuangliu_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our keys the way kuangliu's ResNet names them, saved from nn.DataParallel."""
    renamed = {}
    for key, value in state.items():
        key = key.replace(".downsample.", ".shortcut.")
        key = "linear." + key.removeprefix("fc.") if key.startswith("fc.") else key
        renamed["module." + key] = value
    return renamed


def test_kuangliu_checkpoint(tmp_path: Path) -> None:
    reference = randomize(rz.resnet18_cifar(), seed=2)
    state = _kuangliu_names(reference.state_dict())
    assert "module.linear.weight" in state
    assert "module.layer2.0.shortcut.0.weight" in state
    torch.save({"net": state, "acc": 95.3, "epoch": 199}, tmp_path / "ckpt.pth")
    model = rz.resnet18_cifar()
    report = rz.load_checkpoint(model, tmp_path / "ckpt.pth")
    assert report.ok
    assert report.layout == "kuangliu"
    assert torch.equal(logits(model), logits(reference))


# -- akamaster/pytorch_resnet_cifar10 -----------------------------------------------------------


def _akamaster_checkpoint(tmp_path: Path, num_blocks: int = 3) -> tuple[nn.Module, Path]:
    reference = randomize(AkamasterResNet(num_blocks), seed=3)
    state = {f"module.{k}": v for k, v in reference.state_dict().items()}  # trained in nn.DataParallel
    path = tmp_path / "resnet20.th"
    torch.save({"state_dict": state, "best_prec1": torch.tensor(91.73)}, path)
    return reference, path


def test_akamaster_option_a_checkpoint_computes_the_same_function(tmp_path: Path) -> None:
    reference, path = _akamaster_checkpoint(tmp_path)
    model = rz.resnet20_cifar()
    report = rz.load_checkpoint(model, path)
    assert report.ok
    assert report.layout == "akamaster"
    torch.testing.assert_close(logits(model), logits(reference), rtol=1e-5, atol=1e-5)


def test_akamaster_without_the_channel_permutation_is_a_different_function(tmp_path: Path) -> None:
    # Why the akamaster layout permutes channels: the names match, the padding does not.
    reference, path = _akamaster_checkpoint(tmp_path)
    model = rz.resnet20_cifar()
    assert rz.load_checkpoint(model, path, layout="kuangliu").ok
    assert (logits(model) - logits(reference)).abs().max() > 0.1


def test_akamaster_checkpoint_of_the_wrong_depth_names_the_missing_blocks(tmp_path: Path) -> None:
    _, path = _akamaster_checkpoint(tmp_path)
    with pytest.raises(
        rz.CheckpointError, match=r"missing from the checkpoint \(60\): layer1\.3\.conv1\.weight"
    ):
        rz.load_checkpoint(rz.resnet32_cifar(), path)


# -- safety and sources -------------------------------------------------------------------------


class _Payload:
    """Unpickling this would create a file: the test checks that it never happens."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_pickled_code_is_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    torch.save(
        {"state_dict": rz.resnet20_cifar().state_dict(), "extra": _Payload(marker)}, tmp_path / "evil.pt"
    )
    with pytest.raises(rz.CheckpointError, match="cannot be loaded safely"):
        rz.load_checkpoint(rz.resnet20_cifar(), tmp_path / "evil.pt")
    assert not marker.exists()


def test_unreadable_sources(tmp_path: Path) -> None:
    model = rz.resnet20_cifar()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        rz.load_checkpoint(model, tmp_path / "nope.pth")
    (tmp_path / "weights.npz").write_bytes(b"PK")
    with pytest.raises(rz.CheckpointError, match=r"unsupported weights file 'weights\.npz'"):
        rz.load_checkpoint(model, tmp_path / "weights.npz")
    torch.save({"optimizer": {"lr": torch.tensor(0.1)}, "epoch": 3}, tmp_path / "opt.pt")
    with pytest.raises(
        rz.CheckpointError, match=r"no state dict found; its top-level keys are \['epoch', 'optimizer'\]"
    ):
        rz.load_checkpoint(model, tmp_path / "opt.pt")
    with pytest.raises(ValueError, match=r"layout must be one of 'auto', 'resnetzoo', .*; got 'caffe'"):
        rz.load_checkpoint(model, tmp_path / "opt.pt", layout="caffe")


def test_checkpoint_from_the_hub(fake_hub: FakeHub, tmp_path: Path) -> None:
    reference, path = _akamaster_checkpoint(tmp_path)
    fake_hub.commit("someone/cifar-resnets", {"pretrained_models/resnet20.th": path.read_bytes()})
    model = rz.resnet20_cifar()
    report = rz.load_checkpoint(model, "hf-hub:someone/cifar-resnets/pretrained_models/resnet20.th")
    assert report.ok
    assert report.source == "hf-hub:someone/cifar-resnets/pretrained_models/resnet20.th"
    torch.testing.assert_close(logits(model), logits(reference), rtol=1e-5, atol=1e-5)
    with pytest.raises(
        rz.HubRequestError, match=r"'model\.safetensors' of 'someone/cifar-resnets'.*no such file"
    ):
        rz.load_checkpoint(model, "hf-hub:someone/cifar-resnets")
