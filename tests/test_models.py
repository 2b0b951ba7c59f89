"""Specifications of the model zoo: shapes, parameter counts, layouts and shortcuts."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

import resnetzoo as rz
from resnetzoo.models.blocks import ZeroPadShortcut

# He et al. 2015 Table 6 and torchvision's ResNets with a 3x3 stem and a 10-class head.
PARAM_COUNTS = {
    "resnet18_cifar": 11_173_962,
    "resnet34_cifar": 21_282_122,
    "resnet50_cifar": 23_520_842,
    "resnet101_cifar": 42_512_970,
    "resnet152_cifar": 58_156_618,
    "resnet20_cifar": 269_722,
    "resnet32_cifar": 464_154,
    "resnet44_cifar": 658_586,
    "resnet56_cifar": 853_018,
    "resnet110_cifar": 1_727_962,
    "resnet1202_cifar": 19_421_274,
    # Projection shortcuts (option B), as in chenyaofo/pytorch-cifar-models (0.27/0.47/0.66/0.86M).
    "resnet20b_cifar": 272_474,
    "resnet32b_cifar": 466_906,
    "resnet44b_cifar": 661_338,
    "resnet56b_cifar": 855_770,
    # He et al. 2016 report 1.7M for both; these are the exact counts of our layout.
    "preact_resnet110_cifar": 1_730_522,
    "preact_resnet164_cifar": 1_703_258,
    "preact_resnet18_cifar": 11_172_170,
}
# Backward passes through these take several seconds on a 2-core CPU; their forward is still run.
SLOW_BACKWARD = {"resnet1202_cifar", "resnet152_cifar", "resnet101_cifar"}


def test_registry_lists_every_model_with_a_known_count():
    assert rz.list_models() == sorted(PARAM_COUNTS)


@pytest.mark.parametrize("name", sorted(PARAM_COUNTS))
def test_parameter_count(name):
    with torch.device("meta"):  # shapes only: fast even for ResNet-1202
        model = rz.create_model(name)
    assert rz.count_parameters(model) == PARAM_COUNTS[name]


@pytest.mark.parametrize("name", rz.list_models())
def test_forward_backward(name):
    torch.manual_seed(0)
    model = rz.create_model(name, num_classes=7)
    x = torch.randn(2, 3, 32, 32)
    if name in SLOW_BACKWARD:
        # Train mode: with fresh running stats (mean 0, var 1), eval-mode BN is the identity and
        # 600 untrained residual blocks of ResNet-1202 overflow. Training normalises per batch.
        with torch.no_grad():
            out = model(x)
    else:
        out = model(x)
        out.sum().backward()
        grads = [p.grad for p in model.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert out.shape == (2, 7)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(
    ("name", "tv_name"),
    [("resnet18_cifar", "resnet18"), ("resnet34_cifar", "resnet34"), ("resnet50_cifar", "resnet50")],
)
def test_state_dict_matches_torchvision(name, tv_name):
    with torch.device("meta"):
        ours = rz.create_model(name).state_dict()
        theirs = getattr(torchvision.models, tv_name)(num_classes=10).state_dict()
    assert list(ours) == list(theirs)
    differing = {k for k in ours if ours[k].shape != theirs[k].shape}
    assert differing == {"conv1.weight"}
    assert ours["conv1.weight"].shape == (64, 3, 3, 3)
    assert theirs["conv1.weight"].shape == (64, 3, 7, 7)


def test_torchvision_checkpoint_with_cifar_stem_loads_and_agrees():
    torch.manual_seed(0)
    tv = torchvision.models.resnet18(num_classes=10)
    tv.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    tv.maxpool = nn.Identity()
    ours = rz.resnet18_cifar()
    ours.load_state_dict(tv.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(ours.eval()(x), tv.eval()(x), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("name", "spatial"), [("resnet18_cifar", 4), ("resnet20_cifar", 8), ("preact_resnet18_cifar", 4)]
)
def test_feature_map_and_head(name, spatial):
    model = rz.create_model(name).eval()
    x = torch.randn(2, 3, 32, 32)
    feats = model.forward_features(x)
    assert feats.shape == (2, model.num_features, spatial, spatial)
    pooled = model.forward_head(feats, pre_logits=True)
    assert pooled.shape == (2, model.num_features)
    torch.testing.assert_close(model.forward_head(feats), model(x))
    assert model.get_classifier() is model.fc


@pytest.mark.parametrize("size", [8, 24, 32, 64, 96])
def test_any_input_size_from_8_pixels(size):
    # A fixed 7x7 average pool would crash on the 1x1 map that an 8x8 input leaves.
    out = rz.resnet18_cifar().eval()(torch.randn(1, 3, size, size))
    assert out.shape == (1, 10)


@pytest.mark.parametrize("in_chans", [1, 4])
def test_other_channel_counts(in_chans):
    model = rz.resnet20_cifar(in_chans=in_chans, num_classes=3)
    assert model.conv1.weight.shape == (16, in_chans, 3, 3)
    assert model(torch.randn(2, in_chans, 32, 32)).shape == (2, 3)


def test_reset_classifier():
    model = rz.resnet20_cifar()
    model.reset_classifier(100)
    assert model.fc.out_features == 100
    assert model.num_classes == 100
    assert model.model_kwargs["num_classes"] == 100  # what checkpoints record to rebuild it
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 100)
    model.reset_classifier(0)
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 64)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 0; got -1"):
        model.reset_classifier(-1)


def test_option_a_shortcut_is_zero_padded_subsampled_identity():
    x = torch.randn(2, 16, 8, 8)
    out = ZeroPadShortcut(16, 32, stride=2)(x)
    expected = torch.cat([x[:, :, ::2, ::2], torch.zeros(2, 16, 4, 4)], dim=1)
    assert torch.equal(out, expected)
    assert not list(ZeroPadShortcut(16, 32, 2).parameters())


def test_shortcut_options_select_layers():
    a = rz.resnet20_cifar()
    b = rz.resnet20_cifar(shortcut="B")
    assert isinstance(a.layer2[0].downsample, ZeroPadShortcut)
    assert isinstance(b.layer2[0].downsample, nn.Sequential)
    assert a.layer2[1].downsample is None  # identity where the shape is unchanged
    # Option B adds exactly two 1x1 projections with their BNs (16->32 and 32->64).
    extra = (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
    assert rz.count_parameters(b) - rz.count_parameters(a) == extra
    with pytest.raises(ValueError, match="shortcut must be 'A'"):
        rz.resnet20_cifar(shortcut="C")


@pytest.mark.parametrize("block_cls", [rz.BasicBlock, rz.Bottleneck, rz.PreActBlock, rz.PreActBottleneck])
def test_zero_init_residual_makes_a_block_the_identity(block_cls):
    torch.manual_seed(0)
    model = rz.CifarResNet(block_cls, (2, 1, 1), (8, 16, 32), zero_init_residual=True)
    block = model.layer1[1]  # stride 1, same width: an identity shortcut
    block.eval()
    x = torch.randn(2, block.conv1.in_channels, 8, 8)
    out = block(x)
    # Post-activation blocks apply ReLU after the addition, so identity means relu(x).
    expected = x if block_cls.preact else torch.relu(x)
    torch.testing.assert_close(out, expected)


def test_residual_addition_is_really_there():
    # The seed article's "residual" block forgot the addition; ours must not.
    torch.manual_seed(0)
    block = rz.BasicBlock(8, 8).eval()
    x = torch.randn(1, 8, 6, 6)
    branch = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))
    torch.testing.assert_close(block(x), torch.relu(branch + x))


def test_cifar_stem_keeps_resolution():
    model = rz.resnet18_cifar()
    assert model.conv1.kernel_size == (3, 3)
    assert model.conv1.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    assert isinstance(model.global_pool, nn.AdaptiveAvgPool2d)


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (torch.randn(3, 32, 32), r"4-D input of shape \(batch, 3, height, width\), got shape \[3, 32, 32\]"),
        (torch.randn(2, 1, 32, 32), r"got shape \[2, 1, 32, 32\]"),
        (torch.zeros(2, 3, 32, 32, dtype=torch.uint8), "floating point input"),
    ],
)
def test_bad_input_raises_value_error(x, match):
    with pytest.raises(ValueError, match=match):
        rz.resnet20_cifar()(x)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="3 or 4 stages"):
        rz.CifarResNet(rz.BasicBlock, (1, 1), (16, 32))
    with pytest.raises(ValueError, match="at least one block"):
        rz.CifarResNet(rz.BasicBlock, (1, 0, 1), (16, 32, 64))


def test_norm_and_act_layers_are_configurable():
    model = rz.resnet20_cifar(norm_layer=lambda c: nn.GroupNorm(4, c), act_layer=nn.SiLU)
    assert isinstance(model.layer1[0].bn1, nn.GroupNorm)
    assert isinstance(model.layer1[0].relu, nn.SiLU)
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_registry_errors_and_filters():
    with pytest.raises(ValueError, match="did you mean 'resnet18_cifar'"):
        rz.create_model("resnet19_cifar")
    with pytest.raises(ValueError, match=r"see resnetzoo.list_models\(\)"):
        rz.create_model("vgg16")
    assert rz.list_models("preact_*") == [
        "preact_resnet110_cifar",
        "preact_resnet164_cifar",
        "preact_resnet18_cifar",
    ]
    with pytest.raises(ValueError, match="already registered"):
        rz.register_model(rz.resnet20_cifar)


def test_model_records_its_constructor():
    model = rz.create_model("resnet56_cifar", num_classes=100)
    assert model.model_name == "resnet56_cifar"
    assert model.model_kwargs["num_classes"] == 100
    assert model.model_kwargs["shortcut"] == "A"


def test_flop_count_of_resnet18():
    # Multiply-adds by hand: the stem, 4 convs of 64x64x3x3 at 32x32, then three stages that
    # each cost 2^27 (half the pixels, twice the channels), and the 512x10 head.
    stem = 64 * 3 * 9 * 32 * 32
    layer1 = 4 * 64 * 64 * 9 * 32 * 32
    later_stage = 128 * 64 * 9 * 16 * 16 + 3 * 128 * 128 * 9 * 16 * 16 + 128 * 64 * 16 * 16
    macs = stem + layer1 + 3 * later_stage + 512 * 10
    with torch.device("meta"):
        model = rz.resnet18_cifar()
    assert rz.count_flops(model) == 2 * macs == 1_110_845_440


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
@pytest.mark.parametrize("name", ["resnet20_cifar", "resnet18_cifar"])
def test_torchscript(name):
    torch.manual_seed(0)
    model = rz.create_model(name).eval()
    scripted = torch.jit.script(model)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(scripted(x), model(x))


def test_torch_compile_smoke():
    # A one-block-per-stage net keeps inductor's CPU code generation to a few seconds.
    torch.manual_seed(0)
    model = rz.CifarResNet(rz.BasicBlock, (1, 1, 1), (8, 16, 32), shortcut="A").eval()
    compiled = torch.compile(model)
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-4)


# -- as a backbone: feature_info, forward_intermediates, features_only (timm's conventions) ---------


@pytest.mark.parametrize("name", rz.list_models())
def test_feature_levels_match_the_maps_forward_intermediates_returns(name):
    with torch.device("meta"):  # shapes only: fast even for ResNet-1202
        model = rz.create_model(name)
        final, maps = model.forward_intermediates(torch.empty(2, 3, 32, 32))
    info = model.feature_info
    assert len(maps) == len(info) == len(model.stages) + 1
    for level, feature_map in zip(info, maps, strict=True):
        side = 32 // level["reduction"]
        assert tuple(feature_map.shape) == (2, level["num_chs"], side, side)
    assert info[-1]["num_chs"] == model.num_features
    assert final.shape == maps[-1].shape
    assert info[-1]["module"] == ("final_act" if name.startswith("preact") else f"layer{len(model.stages)}")


def test_forward_intermediates_agrees_with_forward_and_the_backbone():
    torch.manual_seed(0)
    model = rz.preact_resnet18_cifar().eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        final, maps = model.forward_intermediates(x)
        assert torch.equal(final, model.forward_features(x))
        assert torch.equal(maps[-1], final)  # the last level is read after the final norm (norm=True)
        raw = model.forward_intermediates(x, indices=1, norm=False, intermediates_only=True)
        assert not torch.equal(raw[0], final)
        early = model.forward_intermediates(x, indices=[0, 2], stop_early=True, intermediates_only=True)
        assert [m.shape[1] for m in early] == [64, 128]
        backbone = rz.create_model("preact_resnet18_cifar", features_only=True, out_indices=(0, 2, -1))
        backbone.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("fc.")})
        for got, expected in zip(backbone.eval()(x), [maps[0], maps[2], maps[4]], strict=True):
            assert torch.equal(got, expected)
    assert backbone.feature_info.channels() == [64, 128, 512]
    assert backbone.feature_info.module_name() == ["conv1", "layer2", "final_act"]
    assert "fc.weight" not in backbone.state_dict()
    assert isinstance(backbone.pretrained_cfg, rz.Weights)


def test_feature_levels_that_do_not_exist_are_refused():
    model = rz.resnet20_cifar()
    with pytest.raises(ValueError, match=r"feature level 4 does not exist: this network has levels 0\.\.3"):
        model.forward_intermediates(torch.randn(1, 3, 32, 32), indices=[4])
    with pytest.raises(ValueError, match="the last 5 of 4 feature levels"):
        rz.create_model("resnet20_cifar", features_only=True, out_indices=5)
    with pytest.raises(ValueError, match="out_indices only applies with features_only=True"):
        rz.create_model("resnet20_cifar", out_indices=(1, 2))


def test_feature_levels_empty_or_out_of_order_are_refused_naming_the_parameter():
    # An empty selection used to end in a raw IndexError; [2, 0] used to come back silently as [0, 2].
    model = rz.resnet20_cifar()
    x = torch.randn(1, 3, 32, 32)
    with pytest.raises(
        rz.ArgumentError, match=r"^out_indices must name at least one feature level \(0\.\.3\); got \[\]$"
    ):
        rz.create_model("resnet20_cifar", features_only=True, out_indices=())
    with pytest.raises(
        rz.ArgumentError, match=r"^indices must list feature levels once each in increasing order"
    ):
        model.forward_intermediates(x, indices=[2, 0])
    with pytest.raises(rz.ArgumentError, match=r"got \[1, 1\] \(levels \[1, 1\]\): pass \[1\]$"):
        model.forward_intermediates(x, indices=[1, 1])
    with pytest.raises(
        rz.ArgumentError, match=r"^out_indices must list .* got \[-1, 0\] \(levels \[3, 0\]\)"
    ):
        rz.create_model("resnet20_cifar", features_only=True, out_indices=[-1, 0])
    with pytest.raises(rz.ArgumentError, match=r"^indices must name at least one feature level"):
        model.forward_intermediates(x, indices=[])


@pytest.mark.parametrize(
    "name", ["resnet20_cifar", "resnet50_cifar", "preact_resnet18_cifar", "preact_resnet164_cifar"]
)
def test_act_layer_reaches_every_activation(name):
    with torch.device("meta"):
        model = rz.create_model(name, act_layer=nn.SiLU)
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    assert sum(isinstance(m, nn.SiLU) for m in model.modules()) > len(model.stages)
