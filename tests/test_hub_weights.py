"""The weights records: each against the network it names; tags, defaults, the factories' arguments."""

from __future__ import annotations

import dataclasses
import functools
import inspect

import pytest
import torch

import resnetzoo as rz
from resnetzoo.models import registry
from resnetzoo.models.weights import Weights

pytestmark = pytest.mark.usefixtures("single_thread")

LOADABLE = [rz.get_weights(name) for name in rz.list_pretrained()]
ALL = [rz.get_weights(name) for name in rz.list_pretrained(include_planned=True)]
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
CLASSIC_CIFAR10_STD = (0.2023, 0.1994, 0.2010)


@functools.cache
def _meta_model(architecture: str, num_classes: int) -> torch.nn.Module:
    with torch.device("meta"):  # shapes only: fast even for ResNet-1202
        return rz.create_model(architecture, num_classes=num_classes)


def test_the_public_weights_of_sources_md_are_all_loadable_by_name() -> None:
    assert rz.list_pretrained() == sorted(
        [f"resnet{d}_cifar.edadaltocg_cifar{n}" for d in (18, 34, 50) for n in (10, 100)]
        + [f"resnet{d}_cifar.akamaster_cifar10" for d in (20, 32, 44, 56, 110, 1202)]
        + [f"resnet{d}b_cifar.chenyaofo_cifar{n}" for d in (20, 32, 44, 56) for n in (10, 100)]
    )
    assert rz.list_models(pretrained=True) == sorted({w.architecture for w in LOADABLE})
    assert "preact_resnet18_cifar" not in rz.list_models(pretrained=True)


@pytest.mark.parametrize("record", LOADABLE, ids=lambda w: w.name)
def test_record_matches_the_network_it_names(record: Weights) -> None:
    model = _meta_model(record.architecture, record.num_classes)
    assert record.num_params == rz.count_parameters(model)
    assert record.flops == rz.count_flops(model)
    assert record.input_size == (model.in_chans, 32, 32)
    assert len(record.categories) == record.num_classes == len(set(record.categories))
    assert record.dataset in ("cifar10", "cifar100")
    assert record.license in ("MIT", "BSD-2-Clause", "BSD-3-Clause")
    assert record.origin_url.startswith("https://")
    assert record.paper
    assert record.reported_in
    assert 0.6 < record.reported_top1 < 1
    assert record.loadable
    assert not record.planned
    # Every download can be checked: a full sha256, a sha256 prefix in the file name, or the Hub's ETag.
    assert record.sha256 or record.hash_prefix or record.hf_hub_id


@pytest.mark.parametrize("record", LOADABLE, ids=lambda w: w.name)
def test_each_source_keeps_the_normalisation_it_trained_with(record: Weights) -> None:
    source = record.tag.split("_")[0]
    if source == "akamaster":
        assert (record.mean, record.std) == IMAGENET
        assert record.layout == "akamaster"
        assert record.url.endswith(f"/{record.architecture.removesuffix('_cifar')}-{record.hash_prefix}.th")
    elif source == "edadaltocg":
        assert record.layout == "torchvision"
        assert record.hf_hub_filename == "pytorch_model.bin"
        if record.dataset == "cifar10":
            assert record.std == CLASSIC_CIFAR10_STD
        else:
            assert (record.mean, record.std) == ((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761))
    else:
        assert source == "chenyaofo"
        assert record.layout == "chenyaofo"
        assert record.architecture.endswith("b_cifar")  # option-B networks have names of their own
        expected_std = CLASSIC_CIFAR10_STD if record.dataset == "cifar10" else (0.2673, 0.2564, 0.2761)
        assert record.std == pytest.approx(expected_std)
        assert "could not be confirmed" in record.notes


def test_full_checksums_where_sources_md_knows_them() -> None:
    pinned = {w.name for w in LOADABLE if w.sha256}
    assert pinned == {
        "resnet20_cifar.akamaster_cifar10",
        "resnet32_cifar.akamaster_cifar10",
        "resnet44_cifar.akamaster_cifar10",
        "resnet56_cifar.akamaster_cifar10",
        "resnet50_cifar.edadaltocg_cifar10",
        "resnet34_cifar.edadaltocg_cifar100",
        "resnet50_cifar.edadaltocg_cifar100",
    }
    for w in LOADABLE:
        if w.sha256 and w.hash_prefix:
            assert w.sha256.startswith(w.hash_prefix)


def test_planned_resnetzoo_weights_are_listed_but_never_loadable() -> None:
    planned = [w for w in ALL if w.planned]
    assert len(planned) >= len(rz.list_models()) - 4  # every architecture but the option-B copies
    for w in planned:
        assert not w.loadable
        assert w.hf_hub_id == f"resnetzoo/{w.architecture}.{w.tag}"
        assert (w.mean, w.std) in (
            (rz.data.CIFAR10_MEAN, rz.data.CIFAR10_STD),
            (rz.data.CIFAR100_MEAN, rz.data.CIFAR100_STD),
        )
    assert not set(rz.list_pretrained()) & {w.name for w in planned}
    with pytest.raises(
        rz.WeightsNotPublishedError, match=r"planned but not published yet.*resnetzoo train"
    ) as info:
        rz.create_model("preact_resnet18_cifar", pretrained=True)
    assert isinstance(info.value, LookupError)
    with pytest.raises(rz.WeightsNotPublishedError, match=r"load for resnet56_cifar: resnet56_cifar\.aka"):
        rz.create_model("resnet56_cifar.long_cifar10")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("resnet56_cifar", "resnet56_cifar.akamaster_cifar10"),  # pretrained=True: the best CIFAR-10 weights
        ("resnet56_cifar.cifar10", "resnet56_cifar.akamaster_cifar10"),
        ("resnet18_cifar.cifar100", "resnet18_cifar.edadaltocg_cifar100"),
        ("resnet56b_cifar.cifar100", "resnet56b_cifar.chenyaofo_cifar100"),
        ("resnet56_cifar.cifar100", "resnet56_cifar.long_cifar100"),  # only planned: raises on load
        ("resnet20_cifar.akamaster_cifar10", "resnet20_cifar.akamaster_cifar10"),
    ],
)
def test_tags_and_data_set_defaults(name: str, expected: str) -> None:
    assert rz.get_weights(name).name == expected


def test_the_default_is_the_most_accurate_loadable_record_of_the_data_set() -> None:
    for architecture in rz.list_models(pretrained=True):
        for dataset in ("cifar10", "cifar100"):
            loadable = [w for w in LOADABLE if w.architecture == architecture and w.dataset == dataset]
            if loadable:
                best = max(loadable, key=lambda w: w.reported_top1)
                assert rz.get_weights(f"{architecture}.{dataset}") == best


def test_unknown_weights_and_models_say_what_exists() -> None:
    with pytest.raises(
        ValueError, match=r"unknown weights 'cifar1000'.*did you mean 'cifar100'.*'akamaster_cifar10'"
    ):
        rz.get_weights("resnet56_cifar.cifar1000")
    with pytest.raises(ValueError, match=r"unknown weights 'imagenet' for 'resnet20_cifar'"):
        rz.create_model("resnet20_cifar.imagenet")
    with pytest.raises(ValueError, match=r"unknown model 'ResNet20_cifar'; did you mean 'resnet20_cifar'"):
        rz.get_weights("ResNet20_cifar")
    with pytest.raises(ValueError, match="are for 'resnet56_cifar' and cannot load into 'resnet20_cifar'"):
        rz.resnet20_cifar(weights=rz.get_weights("resnet56_cifar"))
    with pytest.raises(ValueError, match="pretrained=False would not load"):
        rz.create_model("resnet20_cifar.cifar10", pretrained=False)


def test_registering_weights_refuses_clashes() -> None:
    record = rz.get_weights("resnet20_cifar")
    with pytest.raises(ValueError, match="already registered"):
        rz.register_weights([record])
    with pytest.raises(ValueError, match="need a tag of their own"):
        rz.register_weights([dataclasses.replace(record, tag="cifar10")])
    with pytest.raises(ValueError, match="unknown model 'resnet21_cifar'"):
        rz.register_weights([dataclasses.replace(record, architecture="resnet21_cifar")])


def test_a_record_refuses_to_contradict_itself() -> None:
    base = {"architecture": "resnet20_cifar", "tag": "mine"}
    with pytest.raises(ValueError, match="name 2 sources"):
        Weights(**base, url="https://example.org/w-12345678.pt", hf_hub_id="me/w")
    with pytest.raises(ValueError, match="needs a sha256, or a file name that carries"):
        Weights(**base, url="https://example.org/weights.pt")
    with pytest.raises(ValueError, match="64 lowercase hex"):
        Weights(**base, hf_hub_id="me/w", sha256="ABC")
    with pytest.raises(ValueError, match="3 categories for 10 classes"):
        Weights(**base, categories=("a", "b", "c"))
    with pytest.raises(ValueError, match="mean has 3 values for 1 input channels"):
        Weights(**base, input_size=(1, 32, 32), mean=(0.5, 0.5, 0.5))
    record = Weights(**base, url="https://example.org/w-12fca82f.th")
    assert record.hash_prefix == "12fca82f"
    assert record.source == "https://example.org/w-12fca82f.th"
    assert (
        Weights(**base, hf_hub_id="me/w", hf_hub_revision="v1").source == "hf-hub:me/w/model.safetensors@v1"
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.tag = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        record.metrics["top1"] = 1.0  # type: ignore[index]


def test_every_model_carries_its_record_also_with_random_weights() -> None:
    model = rz.resnet20_cifar(num_classes=7, in_chans=1)
    record = model.pretrained_cfg
    assert isinstance(record, Weights)
    assert (record.architecture, record.tag, record.num_classes, record.input_size) == (
        "resnet20_cifar",
        None,
        7,
        (1, 32, 32),
    )
    assert record.source is None
    assert not record.loadable
    assert record.mean is None
    assert record.std is None
    assert repr(record) == (
        "Weights(architecture='resnet20_cifar', model_kwargs={'in_chans': 1}, num_classes=7, "
        "input_size=(1, 32, 32))"
    )
    model.reset_classifier(3)
    assert (model.pretrained_cfg.num_classes, model.model_kwargs["num_classes"]) == (3, 3)


def test_a_new_head_keeps_the_credit_and_drops_what_described_the_old_one() -> None:
    record = rz.get_weights("resnet56_cifar.akamaster_cifar10")
    tuned = record.for_new_head(5)
    assert (tuned.num_classes, tuned.categories, tuned.dataset, dict(tuned.metrics), tuned.reported_top1) == (
        5,
        None,
        None,
        {},
        None,
    )
    assert (tuned.mean, tuned.std, tuned.license, tuned.paper) == (
        record.mean,
        record.std,
        record.license,
        record.paper,
    )
    assert tuned.source is None
    assert tuned.tag is None
    assert tuned.base_model == "resnet56_cifar.akamaster_cifar10"
    assert tuned.derived().base_model == "resnet56_cifar.akamaster_cifar10"


def test_transforms_and_resolve_data_config_give_the_weights_preprocessing() -> None:
    record = rz.get_weights("resnet20_cifar")
    image = torch.randint(0, 256, (3, 40, 40), dtype=torch.uint8)
    x = record.transforms()(image)
    assert x.shape == (3, 32, 32)
    assert x.dtype == torch.float32
    expected = torch.nn.functional.interpolate(
        image[None].float() / 255, size=(32, 32), mode="bilinear", antialias=True
    )[0]
    mean, std = torch.tensor(IMAGENET[0]).view(3, 1, 1), torch.tensor(IMAGENET[1]).view(3, 1, 1)
    torch.testing.assert_close(x, (expected - mean) / std)
    model = rz.resnet20_cifar()
    model.pretrained_cfg = record
    assert rz.resolve_data_config(model) == {
        "input_size": (3, 32, 32),
        "mean": IMAGENET[0],
        "std": IMAGENET[1],
        "interpolation": "bilinear",
    }
    with pytest.raises(ValueError, match="no normalisation"):
        rz.resnet20_cifar().pretrained_cfg.transforms()


@pytest.mark.parametrize("name", rz.list_models())
def test_factories_take_the_same_weights_arguments(name: str) -> None:
    factory = registry.get_model_factory(name)
    assert factory is getattr(rz, name)
    assert factory.__name__ == name
    params = inspect.signature(factory).parameters
    expected = {
        "pretrained": False,
        "weights": None,
        "progress": True,
        "reset_head": False,
        "num_classes": None,
    }
    # pretrained comes first and may be passed by position (timm's `resnet18(True)`); the rest by keyword.
    assert next(iter(params)) == "pretrained"
    for arg, default in expected.items():
        positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
        assert params[arg].kind is (positional if arg == "pretrained" else inspect.Parameter.KEYWORD_ONLY)
        assert params[arg].default == default
    assert params["shortcut"].default == ("A" if name in _OPTION_A else "B")
    assert f'list_pretrained("{name}.*")' in factory.__doc__


_OPTION_A = {f"resnet{d}_cifar" for d in (20, 32, 44, 56, 110, 1202)}


def test_without_weights_factories_build_random_networks() -> None:
    model = rz.resnet20_cifar()
    assert model.num_classes == 10
    assert model.model_kwargs["num_classes"] == 10
    assert rz.resnet20_cifar(num_classes=7).fc.out_features == 7
    with pytest.raises(ValueError, match="reset_head=True only applies when loading weights"):
        rz.resnet20_cifar(reset_head=True)
