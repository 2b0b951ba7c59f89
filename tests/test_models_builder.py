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


def test_a_model_carries_one_record_that_says_how_to_rebuild_it() -> None:
    model = rz.resnet20_cifar(
        num_classes=7, in_chans=1, shortcut="B", drop_rate=0.25, zero_init_residual=False
    )
    record = model.pretrained_cfg
    # The arguments beyond the entry point's defaults are in the record; zero_init_residual=False is one.
    assert (record.architecture, record.num_classes) == ("resnet20_cifar", 7)
    assert record.model_kwargs == {"in_chans": 1, "shortcut": "B", "drop_rate": 0.25}
    # model_name and model_kwargs are read off it: the same network, spelled out as config.json has it.
    assert model.model_name == "resnet20_cifar"
    assert model.model_kwargs == {
        "num_classes": 7,
        "in_chans": 1,
        "zero_init_residual": False,
        "shortcut": "B",
        "drop_rate": 0.25,
    }
    rebuilt = rz.create_model(model.model_name, **model.model_kwargs)
    assert rebuilt.pretrained_cfg == record
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {
        k: v.shape for k, v in model.state_dict().items()
    }
    # Built with the defaults, a model's record is the zoo's kind of record: no arguments.
    assert rz.resnet20_cifar().pretrained_cfg.model_kwargs == {}
    assert rz.resnet20b_cifar(shortcut="B").pretrained_cfg.model_kwargs == {}  # its own default
    assert rz.resnet20b_cifar(shortcut="A").pretrained_cfg.model_kwargs == {"shortcut": "A"}
    # The feature backbone carries the same record.
    assert rz.resnet20_cifar(features_only=True, in_chans=1).pretrained_cfg.model_kwargs == {"in_chans": 1}


def test_model_name_and_model_kwargs_are_read_off_the_record_and_setting_them_is_deprecated() -> None:
    model = rz.resnet20_cifar()
    model.model_kwargs["num_classes"] = 3  # a copy: the record is unchanged
    assert model.model_kwargs["num_classes"] == 10
    # Setting them (as 0.2.0 allowed) changes the record, with a warning naming the release that removes it.
    with pytest.warns(DeprecationWarning, match=r"setting model\.model_kwargs .*removed in 0\.3"):
        model.model_kwargs = {"num_classes": 10, "shortcut": "B"}
    assert model.pretrained_cfg.model_kwargs == {"shortcut": "B"}
    with pytest.warns(DeprecationWarning, match=r"setting model\.model_name"):
        model.model_name = "resnet20b_cifar"
    assert model.pretrained_cfg.architecture == "resnet20b_cifar"
    assert model.pretrained_cfg.model_kwargs == {}  # shortcut B is resnet20b_cifar's own default
    bare = rz.CifarResNet(rz.BasicBlock, (1, 1, 1), (16, 32, 64))
    assert (bare.pretrained_cfg, bare.model_name, bare.model_kwargs) == (None, None, {})


def test_a_record_attached_to_a_model_keeps_what_the_network_was_built_with() -> None:
    model = rz.resnet20_cifar(shortcut="B", in_chans=1)
    zoo = rz.Weights(architecture="resnet20_cifar", tag="mine", input_size=(1, 32, 32), dataset="gray")
    model.pretrained_cfg = zoo  # what the loaders do after loading weights, and what users may do
    assert model.pretrained_cfg == dataclasses.replace(zoo, model_kwargs={"shortcut": "B", "in_chans": 1})
    assert model.model_kwargs["shortcut"] == "B"
    with pytest.raises(
        rz.ArgumentError, match=r"a record of 'resnet56_cifar' cannot describe this resnet20_cifar"
    ):
        model.pretrained_cfg = rz.Weights(architecture="resnet56_cifar")
    with pytest.raises(
        rz.ArgumentTypeError, match=r"pretrained_cfg must be None or a resnetzoo\.Weights record"
    ):
        model.pretrained_cfg = {"architecture": "resnet20_cifar"}
    model.reset_classifier(3)
    assert model.pretrained_cfg.num_classes == model.model_kwargs["num_classes"] == 3
    assert model.pretrained_cfg.model_kwargs == {"shortcut": "B", "in_chans": 1}


def test_a_record_refuses_arguments_that_contradict_it() -> None:
    with pytest.raises(ValueError, match=r"num_classes is 10 but model_kwargs\.num_classes is 5"):
        rz.Weights(architecture="resnet20_cifar", model_kwargs={"num_classes": 5})
    with pytest.raises(rz.ArgumentTypeError, match="model_kwargs must be a mapping"):
        rz.Weights(architecture="resnet20_cifar", model_kwargs=[("in_chans", 1)])
    # Spelled out or not, one record: num_classes and the defaults go, nested sequences become lists.
    spelled = rz.Weights(
        architecture="resnet20_cifar",
        model_kwargs={"num_classes": 10, "in_chans": 3, "shortcut": "A", "inner_channels": ((1,), (2,))},
    )
    assert spelled.model_kwargs == {"inner_channels": [[1], [2]]}
