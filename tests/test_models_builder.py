"""One builder, real entry points, and a scoped registry for tests."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest
import torch

import resnetzoo as rz
import resnetzoo.hub
import resnetzoo.hub.pretrained
from resnetzoo.models import registry, registry_scope


@pytest.mark.parametrize("name", rz.list_models())
def test_entry_points_are_plain_functions_defined_once(name: str) -> None:
    factory = registry.get_model_factory(name)
    assert inspect.isfunction(factory)
    assert factory.__closure__ is None  # not a generated closure
    assert factory.__code__.co_name == factory.__qualname__ == name
    assert factory.__module__ == "resnetzoo.models.resnet"
    params = inspect.signature(factory).parameters
    assert list(params)[:7] == [
        "pretrained",
        "weights",
        "progress",
        "reset_head",
        "num_classes",
        "shortcut",
        "kwargs",
    ]
    assert params["kwargs"].annotation == "Unpack[CifarResNetArgs]"
    assert inspect.signature(factory).return_annotation == "CifarResNet"


def test_the_loaded_model_family_shares_one_table() -> None:
    from resnetzoo.models._builder import _ARCHITECTURES

    assert sorted(_ARCHITECTURES) == rz.list_models()
    with torch.device("meta"):
        model = rz.resnet110_cifar()
    arch = _ARCHITECTURES["resnet110_cifar"]
    assert [len(stage) for stage in model.stages] == list(arch.layers) == [18, 18, 18]
    assert isinstance(model.layer1[0], arch.block)


def test_no_loader_is_installed_into_the_registry() -> None:
    for name in ("set_weights_loader", "load_with_weights", "_weights_loader", "_repo_loader"):
        assert not hasattr(registry, name)


class _FakeLoader:
    """Stands in for the hub's build_with_weights: records the call and builds the bare network."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, model_name: str, build: Any, **kwargs: Any) -> torch.nn.Module:
        self.calls.append({"model_name": model_name, **kwargs})
        return build(kwargs["num_classes"] or 10)


def test_the_builder_calls_the_hub_loader_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    loader = _FakeLoader()
    # Patched after import: only a loader looked up when the factory runs sees it.
    monkeypatch.setattr(resnetzoo.hub.pretrained, "build_with_weights", loader)
    rz.resnet20_cifar(pretrained=True, progress=False)
    rz.resnet56_cifar("cifar100")  # a tag by position: weights="cifar100"
    rz.resnet32_cifar(True, num_classes=3, reset_head=True)
    rz.create_model("resnet44_cifar.akamaster_cifar10")
    assert [(c["model_name"], c["weights"]) for c in loader.calls] == [
        ("resnet20_cifar", None),
        ("resnet56_cifar", "cifar100"),
        ("resnet32_cifar", None),
        ("resnet44_cifar", "akamaster_cifar10"),
    ]
    assert loader.calls[0]["progress"] is False
    assert loader.calls[2]["num_classes"] == 3
    assert loader.calls[2]["reset_head"] is True
    assert rz.resnet20_cifar().model_name == "resnet20_cifar"  # no weights: the hub is not called
    assert len(loader.calls) == 4


def test_pretrained_as_a_tag_and_weights_together_are_refused() -> None:
    with pytest.raises(rz.ArgumentError, match=r"pretrained='cifar100' names weights and so does weights="):
        rz.resnet56_cifar("cifar100", weights="cifar10")
    with pytest.raises(rz.ArgumentError, match="pretrained must be True, False or a weights tag"):
        rz.resnet56_cifar(" ")
    with pytest.raises(rz.ArgumentTypeError, match="pretrained must be True or False"):
        rz.resnet56_cifar(1)


def test_a_hub_repo_name_goes_to_from_pretrained(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_from_pretrained(name: str, **options: Any) -> torch.nn.Module:
        calls.append((name, options))
        return rz.resnet20_cifar()

    monkeypatch.setattr(resnetzoo.hub, "from_pretrained", fake_from_pretrained)
    model = rz.create_model("hf-hub:me/resnet20", revision="main")
    assert isinstance(model, rz.CifarResNet)
    assert calls == [("hf-hub:me/resnet20", {"revision": "main"})]


# -- registry_scope: register for the duration of a test ----------------------------------------


def test_registry_scope_removes_what_it_registered() -> None:
    record = dataclasses.replace(rz.get_weights("resnet20_cifar"), tag="scoped_cifar10")
    with registry_scope():

        @rz.register_model
        def scoped_resnet_cifar(**kwargs: Any) -> torch.nn.Module:
            return rz.create_model("resnet20_cifar", **kwargs)

        rz.register_weights([dataclasses.replace(record, architecture="scoped_resnet_cifar")])
        assert "scoped_resnet_cifar" in rz.list_models()
        assert rz.list_pretrained("scoped_resnet_cifar.*") == ["scoped_resnet_cifar.scoped_cifar10"]
        assert rz.create_model("scoped_resnet_cifar", num_classes=4).fc.out_features == 4
    assert "scoped_resnet_cifar" not in rz.list_models()
    assert rz.list_pretrained("scoped_resnet_cifar.*") == []
    with pytest.raises(ValueError, match="unknown model 'scoped_resnet_cifar'"):
        rz.create_model("scoped_resnet_cifar")


def test_registry_scope_restores_a_replaced_record_also_after_an_error() -> None:
    original = rz.get_weights("resnet20_cifar.akamaster_cifar10")
    changed = dataclasses.replace(original, sha256="0" * 64)
    with pytest.raises(ValueError, match="already registered"):
        rz.register_weights([changed])

    def replace_then_fail() -> None:
        with registry_scope():
            rz.register_weights([changed], replace=True)
            assert rz.get_weights("resnet20_cifar.akamaster_cifar10") is changed
            raise RuntimeError("inside")

    with pytest.raises(RuntimeError, match="inside"):
        replace_then_fail()
    assert rz.get_weights("resnet20_cifar.akamaster_cifar10") is original
    with pytest.raises(rz.ArgumentTypeError, match="replace must be True or False"):
        rz.register_weights([changed], replace="yes")
