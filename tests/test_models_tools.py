"""The models fit the ecosystem's tools (FX, torch.export, TorchScript, torchvision's feature
extraction), and take timm's regularisers ``drop_rate`` and ``drop_path_rate``."""

from __future__ import annotations

import inspect
import warnings

import pytest
import torch
from torchvision.models.feature_extraction import create_feature_extractor
from torchvision.ops import StochasticDepth

import resnetzoo as rz
from resnetzoo.models._builder import _ARCHITECTURES

pytestmark = pytest.mark.usefixtures("single_thread")


def _shallowest_of_each_kind() -> set[str]:
    """Per block kind and default shortcut, the registered network with the fewest blocks."""
    kinds: dict[tuple[type, str], str] = {}
    for name in sorted(_ARCHITECTURES, key=lambda n: sum(_ARCHITECTURES[n].layers)):
        shortcut = (
            inspect.signature(rz.models.registry.get_model_factory(name)).parameters["shortcut"].default
        )
        kinds.setdefault((_ARCHITECTURES[name].block, shortcut), name)
    return set(kinds.values())


# Exporting and scripting cost time in proportion to the blocks: one network of each kind runs by
# default, the deeper ones of the same kinds under the slow marker.
_FAST = _shallowest_of_each_kind()


# ResNet-1202 is ResNet-110's blocks, shortcuts and stages, 11x as many: exporting and scripting it took
# 9 minutes on the 2-core test machine, so it is traced (FX, feature extraction) but not exported or
# scripted; resnet110_cifar carries those checks for the same code.
_TRACE_ONLY = {"resnet1202_cifar"}


def _fresh(name: str, **kwargs: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return rz.create_model(name, **kwargs).eval()


def _calibrated(model: torch.nn.Module) -> torch.nn.Module:
    """Running statistics of one batch in every BatchNorm, as a trained model has, then eval mode.

    With fresh statistics (mean 0, var 1) the hundreds of untrained blocks of ResNet-1202 overflow.
    """
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # a cumulative average: after one batch, exactly its statistics
    model.train()
    with torch.no_grad():
        model(torch.randn(4, 3, 8, 8))
    return model.eval()


@pytest.mark.parametrize(
    "name", [n if n in _FAST else pytest.param(n, marks=pytest.mark.slow) for n in rz.list_models()]
)
def test_fx_export_script_and_feature_extraction_agree_with_eager(name: str) -> None:
    # With both regularisers on: in eval mode they must leave every tool's graph equal to eager.
    model = _calibrated(_fresh(name, drop_rate=0.2, drop_path_rate=0.2))
    x = torch.randn(2, 3, 8, 8)  # tiny input: every level still has a map (the last is 2x2 or 1x1)
    with torch.no_grad():
        expected = model(x)
        _, maps = model.forward_intermediates(x)
        assert torch.equal(torch.fx.symbolic_trace(model)(x), expected)
        if name not in _TRACE_ONLY:
            torch.testing.assert_close(torch.export.export(model, (x,)).module()(x), expected)
            # A fresh instance: scripting a module that FX has traced in the same process once failed
            # ("forward() is missing value for argument 'pre_logits'").
            fresh = _fresh(name, drop_rate=0.2, drop_path_rate=0.2)
            fresh.load_state_dict(model.state_dict())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated in torch 2.x
                scripted = torch.jit.script(fresh)
            torch.testing.assert_close(scripted(x), expected)
        levels = model.feature_info.module_name()
        features = create_feature_extractor(model, return_nodes=levels)(x)
    assert list(features) == levels
    for level, feature_map in zip(levels, maps, strict=True):
        assert torch.equal(features[level], feature_map), level


def test_a_traced_model_still_checks_its_input() -> None:
    traced = torch.fx.symbolic_trace(_fresh("resnet20_cifar"))
    with pytest.raises(
        ValueError, match=r"4-D input of shape \(batch, 3, height, width\), got shape \[3, 8, 8\]"
    ):
        traced(torch.randn(3, 8, 8))
    with pytest.raises(ValueError, match="floating point input"):
        traced(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))


# -- drop_rate and drop_path_rate (timm's names) -----------------------------------------------------


@pytest.mark.parametrize(
    "name", ["resnet20_cifar", "resnet50_cifar", "preact_resnet18_cifar", "preact_resnet164_cifar"]
)
def test_drop_path_grows_linearly_over_the_blocks(name: str) -> None:
    with torch.device("meta"):
        model = rz.create_model(name, drop_path_rate=0.3)
    blocks = [block for stage in model.stages for block in stage]
    rates = [block.drop_path.p if isinstance(block.drop_path, StochasticDepth) else 0.0 for block in blocks]
    expected = [0.3 * i / (len(blocks) - 1) for i in range(len(blocks))]
    assert rates == pytest.approx(expected)
    assert all(block.drop_path.mode == "row" for block in blocks[1:])
    assert isinstance(blocks[0].drop_path, torch.nn.Identity)  # rate 0: nothing to drop


def test_drop_rates_leave_evaluation_unchanged_and_drop_in_training() -> None:
    plain = _fresh("resnet20_cifar")
    regularised = _fresh("resnet20_cifar", drop_rate=0.5, drop_path_rate=0.5)
    regularised.load_state_dict(plain.state_dict())  # the same weights: the rates add no parameters
    x = torch.randn(8, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(regularised(x), plain(x))
        features = regularised.forward_features(x)
        assert torch.equal(
            regularised.forward_head(features, pre_logits=True), plain.forward_head(features, pre_logits=True)
        )
        regularised.train()
        plain.train()
        torch.manual_seed(1)
        first = regularised(x)
        torch.manual_seed(2)
        second = regularised(x)
        assert not torch.equal(first, second)  # random drops: two passes differ
        assert not torch.allclose(first, plain(x))
        # Dropout before the head: about half of the pooled features are zeroed, the rest scaled by 2.
        pooled = regularised.forward_head(regularised.forward_features(x), pre_logits=True)
        zeros = (pooled == 0).float().mean().item()
        assert 0.35 < zeros < 0.65


def test_drop_rates_are_checked_recorded_and_saved(tmp_path) -> None:
    with pytest.raises(rz.ArgumentError, match=r"drop_rate must be a finite number in \[0, 1\]; got 1.5"):
        rz.resnet20_cifar(drop_rate=1.5)
    with pytest.raises(rz.ArgumentTypeError, match="drop_path_rate must be a finite number"):
        rz.resnet20_cifar(drop_path_rate="0.1")
    model = rz.resnet20_cifar(drop_rate=0.25, drop_path_rate=0.1, num_classes=3)
    assert model.model_kwargs["drop_rate"] == 0.25
    assert model.model_kwargs["drop_path_rate"] == 0.1
    assert "drop_rate" not in rz.resnet20_cifar(drop_rate=0).model_kwargs  # 0 is the default: not recorded
    loaded = rz.from_pretrained(rz.save_pretrained(model, tmp_path / "saved"))
    assert loaded.model_kwargs == model.model_kwargs
    assert loaded.head_drop.p == 0.25
    assert loaded.layer3[-1].drop_path.p == pytest.approx(0.1)


def test_a_config_with_a_bad_drop_rate_is_refused(tmp_path) -> None:
    import json

    folder = rz.save_pretrained(rz.resnet20_cifar(drop_rate=0.25), tmp_path / "saved")
    config = json.loads((folder / "config.json").read_text())
    config["model_kwargs"]["drop_rate"] = 2.0
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        rz.ConfigError, match=r"'model_kwargs.drop_rate' must be a finite number in \[0, 1\]; got 2.0"
    ):
        rz.from_pretrained(folder)
