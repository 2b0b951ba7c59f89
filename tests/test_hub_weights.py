"""The weights records, the factories' weights arguments, and the public surface of the hub layer."""

from __future__ import annotations

import dataclasses
import functools
import inspect

import pytest
import torch

import resnetzoo as rz
from resnetzoo.hub import weights as weights_module
from resnetzoo.hub.weights import DEFAULT_TAG, Weights, get_weights, list_pretrained

pytestmark = pytest.mark.usefixtures("single_thread")

RECORDS = [get_weights(name) for name in list_pretrained()]


@functools.cache
def _built(model_name: str, num_classes: int) -> torch.nn.Module:
    return rz.create_model(model_name, num_classes=num_classes)


def test_every_registered_model_has_cifar10_weights_and_some_have_cifar100() -> None:
    names = set(list_pretrained())
    assert {f"{m}.cifar10" for m in rz.list_models()} <= names
    cifar100 = list_pretrained("*.cifar100")
    assert "resnet18_cifar.cifar100" in cifar100
    assert 3 <= len(cifar100) < len(rz.list_models())
    assert names == {f"{m}.cifar10" for m in rz.list_models()} | set(cifar100)


@pytest.mark.parametrize("record", RECORDS, ids=lambda w: w.name)
def test_record_matches_reality(record: Weights) -> None:
    model = _built(record.model_name, record.num_classes)
    assert model.fc.out_features == record.num_classes
    assert len(record.categories) == record.num_classes
    assert len(set(record.categories)) == record.num_classes
    assert len(record.mean) == 3
    assert len(record.std) == 3
    assert all(0 < s < 1 for s in record.std)
    assert all(0 < m < 1 for m in record.mean)
    assert record.input_size == (model.in_chans, 32, 32)
    assert record.repo_id == f"resnetzoo/{record.model_name}.{record.tag}"
    assert record.tag == record.dataset
    assert record.filename == "model.safetensors"


@pytest.mark.parametrize("record", RECORDS, ids=lambda w: w.name)
def test_nothing_is_published_so_nothing_is_invented(record: Weights) -> None:
    assert record.published is False
    assert record.revision is None
    assert record.sha256 is None
    assert dict(record.metrics) == {}


def test_dataset_statistics() -> None:
    c10, c100 = get_weights("resnet18_cifar.cifar10"), get_weights("resnet18_cifar.cifar100")
    assert c10.mean == (0.4914, 0.4822, 0.4465)
    assert c10.std == (0.2470, 0.2435, 0.2616)
    assert c100.mean == (0.5071, 0.4865, 0.4409)
    assert c100.std == (0.2673, 0.2564, 0.2762)
    assert c10.categories[0] == "airplane"
    assert c10.categories[-1] == "truck"
    assert list(c100.categories) == sorted(c100.categories)  # CIFAR-100 fine labels are alphabetical
    assert c100.categories[:3] == ("apple", "aquarium_fish", "baby")


def test_list_pretrained_filters() -> None:
    assert list_pretrained("resnet56*") == ["resnet56_cifar.cifar10", "resnet56_cifar.cifar100"]
    assert list_pretrained(published_only=True) == []
    assert list_pretrained() == sorted(list_pretrained())


def test_get_weights_default_tag_and_errors() -> None:
    assert get_weights("resnet56_cifar").tag == DEFAULT_TAG == "cifar10"
    with pytest.raises(
        ValueError, match=r"unknown weights 'cifar1000'.*did you mean 'cifar100'.*'cifar10', 'cifar100'"
    ):
        get_weights("resnet56_cifar.cifar1000")
    with pytest.raises(ValueError, match="unknown model 'resnet19_cifar'"):
        get_weights("resnet19_cifar.cifar10")


def test_published_record_must_pin_revision_and_sha256() -> None:
    record = get_weights("resnet20_cifar")
    with pytest.raises(ValueError, match="40-hex commit hash"):
        dataclasses.replace(record, published=True, revision="main", sha256="0" * 64)
    with pytest.raises(ValueError, match="64-hex sha256"):
        dataclasses.replace(record, published=True, revision="a" * 40, sha256=None)
    assert dataclasses.replace(record, published=True, revision="a" * 40, sha256="b" * 64).published


@pytest.mark.parametrize(
    "build",
    [
        lambda: rz.resnet20_cifar(pretrained=True),
        lambda: rz.resnet56_cifar(weights="cifar100"),
        lambda: rz.create_model("resnet18_cifar.cifar10"),
        lambda: rz.create_model("resnet18_cifar", pretrained=True, num_classes=10),
    ],
)
def test_unpublished_weights_raise_with_the_command_that_makes_them(build) -> None:
    with pytest.raises(
        rz.WeightsNotPublishedError, match=r"not published yet.*resnetzoo train --model"
    ) as info:
        build()
    assert isinstance(info.value, LookupError)
    assert isinstance(info.value, rz.HubError)


def test_unknown_tag_through_the_factory_lists_available_tags() -> None:
    with pytest.raises(
        ValueError, match=r"unknown weights 'imagenet' for 'resnet20_cifar'.*available: 'cifar10'"
    ):
        rz.create_model("resnet20_cifar.imagenet")


def test_weights_record_of_another_model_is_refused() -> None:
    with pytest.raises(ValueError, match="are for 'resnet56_cifar' and cannot load into 'resnet20_cifar'"):
        rz.resnet20_cifar(weights=get_weights("resnet56_cifar"))


def test_without_weights_factories_behave_as_before() -> None:
    model = rz.resnet20_cifar()
    assert model.num_classes == 10
    assert model.model_kwargs["num_classes"] == 10
    assert rz.resnet20_cifar(num_classes=7).fc.out_features == 7
    with pytest.raises(ValueError, match="reset_head=True only applies when loading weights"):
        rz.resnet20_cifar(reset_head=True)


@pytest.mark.parametrize("name", rz.list_models())
def test_factories_take_the_same_weights_arguments(name: str) -> None:
    params = inspect.signature(rz.models.registry.get_model_factory(name)).parameters
    expected = {
        "pretrained": False,
        "weights": None,
        "progress": True,
        "reset_head": False,
        "num_classes": None,
    }
    for arg, default in expected.items():
        assert params[arg].kind is inspect.Parameter.KEYWORD_ONLY
        assert params[arg].default == default


def test_public_api() -> None:
    for name in (
        "Weights",
        "load_pretrained",
        "from_pretrained",
        "save_pretrained",
        "push_to_hub",
        "load_checkpoint",
        "list_pretrained",
        "HubError",
        "WeightsNotPublishedError",
        "ChecksumError",
        "ConfigError",
        "CheckpointError",
        "HubRequestError",
    ):
        assert name in rz.__all__
        assert getattr(rz, name) is getattr(rz.hub, name)
    assert issubclass(rz.ChecksumError, OSError)
    assert issubclass(rz.HubRequestError, OSError)
    assert issubclass(rz.ConfigError, ValueError)
    assert issubclass(rz.CheckpointError, ValueError)
    assert weights_module.HUB_ORG == "resnetzoo"
