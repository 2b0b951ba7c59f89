"""The CIFAR ResNet family: one model class, its registered factories, and their weights.

Unlike the ImageNet ResNet (7x7 stride-2 stem + max-pool, a 4x downsampling that leaves an
8x8 map from a 32x32 image before the first block), the CIFAR stem is a single 3x3 stride-1
convolution, and the head pools adaptively, so any input of 8x8 pixels or more works.

Each architecture is one line of :func:`_factory` below, and each set of weights one
:class:`~resnetzoo.Weights` record in the table after them. Every factory takes the same keyword
arguments to load weights (the loading itself is :mod:`resnetzoo.hub`'s):

- ``pretrained=True`` loads the model's default weights: its most accurate CIFAR-10 weights.
- ``weights="cifar100"`` (a data set: its default weights), ``weights="akamaster_cifar10"`` (a tag)
  or ``weights=<resnetzoo.Weights>`` loads those weights; ``create_model("resnet56_cifar.cifar10")``
  passes the tag for you.
- ``num_classes`` then defaults to the weights' class count. A different ``num_classes``
  raises, unless ``reset_head=True``: the backbone is loaded and a fresh head is started.
- ``progress=False`` hides the download progress bar.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from .._validate import check_bool, check_callable, check_int, check_tensor
from ..data.constants import (
    CIFAR10_CLASSES,
    CIFAR10_MEAN,
    CIFAR10_STD,
    CIFAR100_CLASSES,
    CIFAR100_MEAN,
    CIFAR100_STD,
)
from ..errors import ArgumentError
from .blocks import ActLayer, BasicBlock, Bottleneck, NormLayer, PreActBlock, PreActBottleneck, Shortcut, _act
from .registry import list_models, load_with_weights, register_model, register_weights
from .weights import Weights

Block = type[BasicBlock] | type[Bottleneck] | type[PreActBlock] | type[PreActBottleneck]


class FeatureInfo(list):
    """The feature levels of a network (timm's ``feature_info``): a list of dicts with ``num_chs``,
    ``reduction`` and ``module``, with accessors by level."""

    def indices(self, indices: int | Sequence[int] | None) -> list[int]:
        """Level numbers, in order: ``None`` is all, an ``int`` n the last n, a sequence those (negative
        counts from the end).

        Raises:
            ValueError: If a level does not exist.
        """
        n = len(self)
        if indices is None:
            return list(range(n))
        if isinstance(indices, int) and not isinstance(indices, bool):
            if not 0 < indices <= n:
                raise ValueError(f"indices={indices} asks for the last {indices} of {n} feature levels")
            return list(range(n - indices, n))
        chosen = []
        for i in indices:
            if isinstance(i, bool) or not isinstance(i, int) or not -n <= i < n:
                raise ValueError(f"feature level {i!r} does not exist: this network has levels 0..{n - 1}")
            chosen.append(i % n)
        return sorted(set(chosen))

    def channels(self) -> list[int]:
        """Channels of each level's feature map."""
        return [level["num_chs"] for level in self]

    def reduction(self) -> list[int]:
        """How much smaller than the input each level's feature map is, per side."""
        return [level["reduction"] for level in self]

    def module_name(self) -> list[str]:
        """The child module whose output each level is."""
        return [level["module"] for level in self]


Block = type[BasicBlock] | type[Bottleneck] | type[PreActBlock] | type[PreActBottleneck]


class CifarResNet(nn.Module):
    """A residual network for small images: 3x3 stem, 3 or 4 stages, global pool, linear head.

    State-dict names match torchvision's ``ResNet`` (``conv1 bn1 layer1..layer4 fc``). A
    3-stage network has ``layer4 = nn.Identity()``, which holds no parameters.

    Args:
        block: Residual block class (:class:`BasicBlock`, :class:`Bottleneck`,
            :class:`PreActBlock` or :class:`PreActBottleneck`).
        layers: Number of blocks in each stage (3 or 4 stages).
        widths: Base width of each stage; a stage outputs ``width * block.expansion`` channels.
        num_classes: Size of the classifier output; 0 gives a model without a head.
        in_chans: Number of input channels.
        stem_width: Channels of the stem convolution; defaults to ``widths[0]``.
        shortcut: ``"A"`` (zero-padding) or ``"B"`` (projection) where a stage changes shape.
        zero_init_residual: Start every block as the identity by zeroing its last layer
            (Goyal et al. 2017); helps large-batch training.
        norm_layer: Norm layer class, ``nn.BatchNorm2d`` by default.
        act_layer: Activation class, ``nn.ReLU`` by default.
        inner_channels: For a structurally pruned network (:func:`resnetzoo.prune`): per stage,
            per block, the output channels of the block's convolutions before its last one
            (``[[[9], [12], ...], ...]``; two per bottleneck). ``None`` is the unpruned network.
            Plain integers, so ``config.json`` records them and a pruned model loads back with
            :func:`resnetzoo.from_pretrained`.

    Raises:
        ArgumentError: If the stage description or an argument is invalid (a ``ValueError``;
            :class:`~resnetzoo.ArgumentTypeError` for one of the wrong type, e.g.
            ``num_classes=2.5`` or ``norm_layer="bn"``).
    """

    __jit_unused_properties__ = ["stages"]  # noqa: RUF012 (TorchScript reads this class attribute)
    # Python-side descriptions of the model, which TorchScript has no types for and forward never reads.
    __jit_ignored_attributes__ = ["model_name", "model_kwargs", "pretrained_cfg", "feature_info"]  # noqa: RUF012

    model_name: str | None
    """The registered name the model was built under; ``None`` when built from this class directly."""
    model_kwargs: dict[str, Any]
    """The factory's keyword arguments, to rebuild the same network (checkpoints, ``config.json``)."""
    feature_info: FeatureInfo
    """The feature maps :meth:`forward_intermediates` and ``features_only=True`` return, one per level:
    the stem, then each stage (timm's convention): ``num_chs``, ``reduction`` (input size / map size) and
    ``module``, the name of the child whose output it is."""
    pretrained_cfg: Weights | None
    """The record of the weights the model holds (:class:`resnetzoo.Weights`): their source, classes,
    normalisation, license and scores. A factory always sets it, also for random weights (then it has
    no source and no normalisation); ``None`` only for a model built from this class directly."""

    def __init__(
        self,
        block: Block,
        layers: Sequence[int],
        widths: Sequence[int] = (64, 128, 256, 512),
        num_classes: int = 10,
        in_chans: int = 3,
        stem_width: int | None = None,
        shortcut: Shortcut = "B",
        zero_init_residual: bool = False,
        norm_layer: NormLayer | None = None,
        act_layer: ActLayer | None = None,
        inner_channels: Sequence[Sequence[Sequence[int]]] | None = None,
    ) -> None:
        super().__init__()
        if len(layers) not in (3, 4) or len(layers) != len(widths):
            raise ValueError(
                f"layers and widths must both describe 3 or 4 stages, got layers={list(layers)}, "
                f"widths={list(widths)}"
            )
        layers = [
            check_int(
                f"layers[{i}]",
                n,
                minimum=1,
                accepted="an integer >= 1 (every stage needs at least one block)",
            )
            for i, n in enumerate(layers)
        ]
        widths = [check_int(f"widths[{i}]", w, minimum=1) for i, w in enumerate(widths)]
        num_classes = check_int("num_classes", num_classes, minimum=0)
        in_chans = check_int("in_chans", in_chans, minimum=1)
        stem_width = check_int("stem_width", stem_width, minimum=1, none=True)
        zero_init_residual = check_bool("zero_init_residual", zero_init_residual)
        check_callable("norm_layer", norm_layer, what="a norm layer class such as torch.nn.BatchNorm2d")
        check_callable("act_layer", act_layer, what="an activation class such as torch.nn.ReLU")
        if inner_channels is not None and [len(stage) for stage in inner_channels] != list(layers):
            raise ArgumentError(
                f"inner_channels must list one entry per block of each stage ({list(layers)} blocks), got "
                f"{[len(stage) for stage in inner_channels]}"
            )
        norm_layer = norm_layer or nn.BatchNorm2d
        act_layer = act_layer or nn.ReLU
        stem_width = stem_width or widths[0]
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.model_name = None
        self.model_kwargs = {}
        self.pretrained_cfg = None

        self.conv1 = nn.Conv2d(in_chans, stem_width, kernel_size=3, stride=1, padding=1, bias=False)
        # A pre-activation network normalises at the start of each block and once after the
        # last one, so its stem is the bare convolution.
        self.bn1 = nn.Identity() if block.preact else norm_layer(stem_width)
        self.relu = nn.Identity() if block.preact else _act(act_layer)

        in_planes = stem_width
        stages = []
        for i, (num_blocks, width) in enumerate(zip(layers, widths, strict=True)):
            stride = 1 if i == 0 else 2
            blocks = []
            for j in range(num_blocks):
                inner = inner_channels[i][j] if inner_channels is not None else None
                blocks.append(
                    block(in_planes, width, stride if j == 0 else 1, shortcut, norm_layer, act_layer, inner)
                )
                in_planes = width * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages[:3]
        self.layer4 = stages[3] if len(stages) == 4 else nn.Identity()
        self.num_features = in_planes
        self.final_norm = norm_layer(in_planes) if block.preact else nn.Identity()
        self.final_act = _act(act_layer) if block.preact else nn.Identity()
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.fc: nn.Module = nn.Linear(in_planes, num_classes) if num_classes > 0 else nn.Identity()
        # The stem keeps the input size; each stage after the first halves it. A pre-activation network's
        # last stage is read after its final norm and activation, as the head sees it.
        self.feature_info = FeatureInfo(
            [{"num_chs": stem_width, "reduction": 1, "module": "conv1" if block.preact else "relu"}]
        )
        for i, width in enumerate(widths):
            last = i == len(widths) - 1
            module = "final_act" if last and block.preact else f"layer{i + 1}"
            self.feature_info.append(
                {"num_chs": width * block.expansion, "reduction": 2**i, "module": module}
            )

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, (BasicBlock, Bottleneck, PreActBlock, PreActBottleneck)):
                    m.zero_init_last()

    @property
    def stages(self) -> list[nn.Module]:
        """The residual stages in order (3 or 4), without the stem and head."""
        stages = (self.layer1, self.layer2, self.layer3, self.layer4)
        return [s for s in stages if not isinstance(s, nn.Identity)]

    def get_classifier(self) -> nn.Module:
        """The final linear layer (``nn.Identity`` when the model has no head)."""
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head with a freshly initialised one of ``num_classes`` outputs.

        Args:
            num_classes: New number of classes; 0 removes the head.

        Raises:
            ArgumentError: If ``num_classes`` is not an integer >= 0.
        """
        num_classes = check_int("num_classes", num_classes, minimum=0)
        self.num_classes = num_classes
        device = next(self.parameters()).device
        self.fc = nn.Linear(self.num_features, num_classes, device=device) if num_classes else nn.Identity()
        # What a factory recorded to rebuild this model and describe its weights: keep it true.
        if self.model_kwargs:
            self.model_kwargs = {**self.model_kwargs, "num_classes": num_classes}
        if self.pretrained_cfg is not None:
            self.pretrained_cfg = self.pretrained_cfg.for_new_head(num_classes)

    def _check_input(self, x: torch.Tensor) -> None:
        if not torch.jit.is_scripting():
            check_tensor("the model's input", x, what="a (batch, channels, height, width) torch.Tensor")
        if x.dim() != 4 or x.shape[1] != self.in_chans:
            raise ValueError(
                f"expected a 4-D input of shape (batch, {self.in_chans}, height, width), "
                f"got shape {list(x.shape)}"
            )
        if not x.is_floating_point():
            raise ValueError(
                f"expected a floating point input (normalised images), got dtype {x.dtype}; "
                "convert uint8 images with x.float() / 255 and normalise them"
            )
        # Metadata only: no device sync. Under autocast the convolutions cast their inputs
        # themselves; TorchScript cannot ask for the autocast state of a device, so it skips this.
        if not torch.jit.is_scripting():
            weight = self.conv1.weight
            if x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type):
                raise ValueError(
                    f"expected a {weight.dtype} input, the dtype of the model's weights, got {x.dtype}; "
                    f"convert the input with x.to({weight.dtype}) or the model with model.to({x.dtype}), "
                    "or run under torch.autocast"
                )

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: int | Sequence[int] | None = None,
        *,
        norm: bool = True,
        stop_early: bool = False,
        intermediates_only: bool = False,
    ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """The feature maps of chosen levels (see :attr:`feature_info`) and, unless ``intermediates_only``,
        the final features, in one forward pass (timm's convention).

        Args:
            x: Images ``(B, in_chans, H, W)``.
            indices: Which levels of :attr:`feature_info`: a list (negative counts from the end), an
                ``int`` n for the last n, ``None`` for all.
            norm: For pre-activation networks, read the last stage after the final norm and activation
                (as :attr:`feature_info` says); ``False`` reads its raw output.
            stop_early: Stop after the last level asked for (with ``intermediates_only``).
            intermediates_only: Return only the feature maps.

        Returns:
            The feature maps, in level order; with ``intermediates_only=False``, the tuple
            ``(forward_features(x), feature maps)``.

        Raises:
            ValueError: If an index is out of range.
        """
        self._check_input(x)
        wanted = self.feature_info.indices(indices)
        stop = max(wanted) if stop_early and intermediates_only else len(self.feature_info) - 1
        features = []
        x = self.relu(self.bn1(self.conv1(x)))
        if 0 in wanted:
            features.append(x)
        for level, stage in enumerate(self.stages, start=1):
            if level > stop:
                break
            x = stage(x)
            if level == len(self.stages):
                final = self.final_act(self.final_norm(x))
                if level in wanted:
                    features.append(final if norm else x)
                x = final
            elif level in wanted:
                features.append(x)
        return features if intermediates_only else (x, features)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem and stages: ``(B, in_chans, H, W)`` to ``(B, num_features, H/8, W/8)`` (4 stages)."""
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        return self.final_act(self.final_norm(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool a feature map ``(B, F, h, w)`` to ``(B, F)``, then classify unless ``pre_logits``."""
        x = self.global_pool(x).flatten(1)
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)`` for images ``(B, in_chans, H, W)``.

        Raises:
            ValueError: If ``x`` is not a 4-D floating point tensor with ``in_chans`` channels, or
                (outside autocast) its dtype is not that of the weights. NaN or infinite values are
                not checked for: that would wait for the device on every call.
        """
        self._check_input(x)
        return self.forward_head(self.forward_features(x))


class FeatureListNet(nn.Module):
    """A network as a backbone: its forward returns the feature maps of chosen levels, no head.

    What ``create_model(name, features_only=True, out_indices=...)`` returns (timm's convention). It
    holds the network's own modules under their own names up to the last level needed, so a
    classifier's state dict (without ``fc.*``) loads into it as it is.

    Args:
        model: The network.
        out_indices: Levels of ``model.feature_info`` to return (see :meth:`FeatureInfo.indices`).

    Raises:
        ValueError: If a level does not exist.
    """

    __jit_ignored_attributes__ = ["model_name", "pretrained_cfg", "feature_info"]  # noqa: RUF012

    def __init__(self, model: CifarResNet, out_indices: int | Sequence[int] | None = None) -> None:
        super().__init__()
        levels = model.feature_info.indices(out_indices)
        self.feature_info = FeatureInfo(model.feature_info[i] for i in levels)
        self.model_name = model.model_name
        self.pretrained_cfg = model.pretrained_cfg
        self.in_chans = model.in_chans
        self._return_layers = self.feature_info.module_name()
        last = self._return_layers[-1]
        for name, child in model.named_children():
            self.add_module(name, child)
            if name == last:
                break

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The feature maps ``(B, C_i, H / r_i, W / r_i)`` of the chosen levels, in order."""
        features = []
        for name, module in self.named_children():
            x = module(x)
            if name in self._return_layers:
                features.append(x)
        return features


# ---------------------------------------------------------------------------------------------
# Factories: one line per architecture.

_DEFAULT_NUM_CLASSES = 10


def _create(
    name: str,
    block: Block,
    layers: Sequence[int],
    widths: Sequence[int],
    *,
    pretrained: bool,
    weights: str | Weights | None,
    progress: bool,
    reset_head: bool,
    num_classes: int | None,
    features_only: bool = False,
    out_indices: int | Sequence[int] | None = None,
    **kwargs: Any,
) -> CifarResNet | FeatureListNet:
    pretrained = check_bool("pretrained", pretrained)
    progress = check_bool("progress", progress)
    reset_head = check_bool("reset_head", reset_head)
    num_classes = check_int("num_classes", num_classes, minimum=0, none=True)
    features_only = check_bool("features_only", features_only)
    if features_only:
        model = _create(
            name,
            block,
            layers,
            widths,
            pretrained=pretrained,
            weights=weights,
            progress=progress,
            reset_head=reset_head,
            num_classes=num_classes,
            **kwargs,
        )
        return FeatureListNet(model, out_indices)
    if out_indices is not None:
        raise ValueError("out_indices only applies with features_only=True")

    def build(num_classes: int) -> CifarResNet:
        model = CifarResNet(block, layers, widths, num_classes=num_classes, **kwargs)
        model.model_name = name
        model.model_kwargs = {"num_classes": num_classes, **kwargs}
        model.pretrained_cfg = Weights(
            architecture=name, num_classes=num_classes, input_size=(model.in_chans, 32, 32)
        )
        return model

    if weights is None and not pretrained:
        if reset_head:
            raise ValueError(
                "reset_head=True only applies when loading weights (pretrained=True or weights=...)"
            )
        return build(_DEFAULT_NUM_CLASSES if num_classes is None else num_classes)
    # The hub layer resolves the weights, builds through `build` and loads them; it is reached
    # through a hook (see registry.set_weights_loader) so that models never import the hub.
    return load_with_weights(
        name, build, weights=weights, num_classes=num_classes, reset_head=reset_head, progress=progress
    )


def _factory(
    name: str,
    block: Block,
    layers: tuple[int, ...],
    widths: tuple[int, ...],
    shortcut: Shortcut,
    summary: str,
) -> Callable[..., CifarResNet]:
    """Register the factory ``name`` of a :class:`CifarResNet` and return it."""
    default_shortcut = shortcut

    def factory(
        *,
        pretrained: bool = False,
        weights: str | Weights | None = None,
        progress: bool = True,
        reset_head: bool = False,
        num_classes: int | None = None,
        in_chans: int = 3,
        zero_init_residual: bool = False,
        shortcut: Shortcut = default_shortcut,
        **kwargs: Any,
    ) -> CifarResNet:
        return _create(
            name,
            block,
            layers,
            widths,
            pretrained=pretrained,
            weights=weights,
            progress=progress,
            reset_head=reset_head,
            num_classes=num_classes,
            in_chans=in_chans,
            zero_init_residual=zero_init_residual,
            shortcut=shortcut,
            **kwargs,
        )

    factory.__name__ = factory.__qualname__ = name
    factory.__module__ = __name__
    option = {"A": "option A (zero-padding)", "B": "option B (1x1 projection)"}[default_shortcut]
    factory.__doc__ = f"""{summary}

    Keyword arguments are those of :class:`CifarResNet`; shortcuts are {option} where a stage
    changes shape, unless ``shortcut=`` says otherwise.

    Set ``pretrained=True`` or ``weights=`` to load trained weights (see the module docstring and
    ``resnetzoo.list_pretrained("{name}.*")``).

    Raises:
        ValueError: If an argument is invalid, or ``num_classes`` disagrees with the weights.
        resnetzoo.HubError: If the weights are not published yet, cannot be downloaded, or fail
            their checks.
    """
    return register_model(factory)


_WIDE = (64, 128, 256, 512)  # the ImageNet ResNet widths
_NARROW = (16, 32, 64)  # He et al. 2015 §4.2

# fmt: off
resnet18_cifar = _factory("resnet18_cifar", BasicBlock, (2, 2, 2, 2), _WIDE, "B", "ResNet-18 with a CIFAR stem: 4 stages of 64-512 channels, 11.2M parameters.")
resnet34_cifar = _factory("resnet34_cifar", BasicBlock, (3, 4, 6, 3), _WIDE, "B", "ResNet-34 with a CIFAR stem: 4 stages of 64-512 channels, 21.3M parameters.")
resnet50_cifar = _factory("resnet50_cifar", Bottleneck, (3, 4, 6, 3), _WIDE, "B", "ResNet-50 with a CIFAR stem: bottleneck blocks, 23.5M parameters.")
resnet101_cifar = _factory("resnet101_cifar", Bottleneck, (3, 4, 23, 3), _WIDE, "B", "ResNet-101 with a CIFAR stem: bottleneck blocks, 42.5M parameters.")
resnet152_cifar = _factory("resnet152_cifar", Bottleneck, (3, 8, 36, 3), _WIDE, "B", "ResNet-152 with a CIFAR stem: bottleneck blocks, 58.2M parameters.")
resnet20_cifar = _factory("resnet20_cifar", BasicBlock, (3, 3, 3), _NARROW, "A", "ResNet-20 of He et al. 2015 §4.2: 3 stages of 16/32/64 channels, 0.27M parameters.")
resnet32_cifar = _factory("resnet32_cifar", BasicBlock, (5, 5, 5), _NARROW, "A", "ResNet-32 of He et al. 2015 §4.2, 0.46M parameters.")
resnet44_cifar = _factory("resnet44_cifar", BasicBlock, (7, 7, 7), _NARROW, "A", "ResNet-44 of He et al. 2015 §4.2, 0.66M parameters.")
resnet56_cifar = _factory("resnet56_cifar", BasicBlock, (9, 9, 9), _NARROW, "A", "ResNet-56 of He et al. 2015 §4.2, 0.85M parameters.")
resnet110_cifar = _factory("resnet110_cifar", BasicBlock, (18, 18, 18), _NARROW, "A", "ResNet-110 of He et al. 2015 §4.2, 1.7M parameters.")
resnet1202_cifar = _factory("resnet1202_cifar", BasicBlock, (200, 200, 200), _NARROW, "A", "ResNet-1202 of He et al. 2015 §4.2, 19.4M parameters.")
resnet20b_cifar = _factory("resnet20b_cifar", BasicBlock, (3, 3, 3), _NARROW, "B", "ResNet-20 with projection shortcuts (option B of He et al. 2015), 0.27M parameters.")
resnet32b_cifar = _factory("resnet32b_cifar", BasicBlock, (5, 5, 5), _NARROW, "B", "ResNet-32 with projection shortcuts (option B of He et al. 2015), 0.47M parameters.")
resnet44b_cifar = _factory("resnet44b_cifar", BasicBlock, (7, 7, 7), _NARROW, "B", "ResNet-44 with projection shortcuts (option B of He et al. 2015), 0.66M parameters.")
resnet56b_cifar = _factory("resnet56b_cifar", BasicBlock, (9, 9, 9), _NARROW, "B", "ResNet-56 with projection shortcuts (option B of He et al. 2015), 0.86M parameters.")
preact_resnet18_cifar = _factory("preact_resnet18_cifar", PreActBlock, (2, 2, 2, 2), _WIDE, "B", "Pre-activation ResNet-18 (He et al. 2016) with a CIFAR stem, 4 stages of 64-512 channels.")
preact_resnet110_cifar = _factory("preact_resnet110_cifar", PreActBlock, (18, 18, 18), _NARROW, "B", "Pre-activation ResNet-110 (He et al. 2016): 3 stages of 18 basic blocks, 16/32/64 channels.")
preact_resnet164_cifar = _factory("preact_resnet164_cifar", PreActBottleneck, (18, 18, 18), _NARROW, "B", "Pre-activation ResNet-164 (He et al. 2016): 3 stages of 18 bottlenecks, 64/128/256 channels out.")
# fmt: on

# Every factory above and nothing else is registered at this point: the public names of this module.
__all__ = ["CifarResNet", *list_models()]

# ---------------------------------------------------------------------------------------------
# Weights: one record per file. The facts (hosts, checksums, normalisation, licenses, accuracies)
# and what could not be confirmed are documented in docs/pretrained.md.

_HE2015 = "He et al. 2015, Deep Residual Learning for Image Recognition, arXiv:1512.03385"
_HE2016 = "He et al. 2016, Identity Mappings in Deep Residual Networks, arXiv:1603.05027"
_CLASSES = {"cifar10": CIFAR10_CLASSES, "cifar100": CIFAR100_CLASSES}
# Each source trained with its own constants; the weights need exactly those.
_IMAGENET_NORM = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}
# The classic per-image std (see resnetzoo.data.constants for why it is not the data's std).
_CLASSIC_NORM = {
    "cifar10": {"mean": (0.4914, 0.4822, 0.4465), "std": (0.2023, 0.1994, 0.2010)},
    "cifar100": {"mean": (0.5071, 0.4867, 0.4408), "std": (0.2675, 0.2565, 0.2761)},
}
_CHENYAOFO_NORM = {
    "cifar10": {"mean": (0.4914, 0.4822, 0.4465), "std": (0.2023, 0.1994, 0.201)},
    "cifar100": {"mean": (0.507, 0.4865, 0.4409), "std": (0.2673, 0.2564, 0.2761)},
}
_TRUE_NORM = {
    "cifar10": {"mean": CIFAR10_MEAN, "std": CIFAR10_STD},
    "cifar100": {"mean": CIFAR100_MEAN, "std": CIFAR100_STD},
}

_AKAMASTER = "https://github.com/akamaster/pytorch_resnet_cifar10"
_CHENYAOFO = "https://github.com/chenyaofo/pytorch-cifar-models"


def _akamaster(architecture: str, file: str, top1: float, **fields: Any) -> Weights:
    return Weights(
        architecture=architecture,
        tag="akamaster_cifar10",
        url=f"{_AKAMASTER}/raw/d5489e8995e81e91ce6b1d69dcc98ad579b0b153/pretrained_models/{file}",
        layout="akamaster",
        num_classes=10,
        categories=CIFAR10_CLASSES,
        dataset="cifar10",
        **_IMAGENET_NORM,
        license="BSD-2-Clause",
        origin_url=_AKAMASTER,
        paper=_HE2015,
        reported_top1=top1,
        reported_in=f"{_AKAMASTER}#results",
        **fields,
    )


def _edadaltocg(architecture: str, dataset: str, top1: float, **fields: Any) -> Weights:
    repo = f"edadaltocg/{architecture.removesuffix('_cifar')}_{dataset}"
    return Weights(
        architecture=architecture,
        tag=f"edadaltocg_{dataset}",
        hf_hub_id=repo,
        hf_hub_filename="pytorch_model.bin",
        layout="torchvision",
        num_classes=len(_CLASSES[dataset]),
        categories=_CLASSES[dataset],
        dataset=dataset,
        **_CLASSIC_NORM[dataset],
        license="MIT",
        origin_url=f"https://huggingface.co/{repo}",
        paper=_HE2015,
        reported_top1=top1,
        reported_in=f"https://huggingface.co/{repo} (model card)",
        **fields,
    )


def _chenyaofo(architecture: str, dataset: str, file: str, top1: float, **fields: Any) -> Weights:
    return Weights(
        architecture=architecture,
        tag=f"chenyaofo_{dataset}",
        url=f"{_CHENYAOFO}/releases/download/resnet/{file}",
        layout="chenyaofo",
        num_classes=len(_CLASSES[dataset]),
        categories=_CLASSES[dataset],
        dataset=dataset,
        **_CHENYAOFO_NORM[dataset],
        license="BSD-3-Clause",
        origin_url=_CHENYAOFO,
        paper=_HE2015,
        reported_top1=top1,
        reported_in=f"{_CHENYAOFO}#model-zoo",
        notes="the file name's 8 hex digits are taken as a sha256 prefix (torch.hub's convention); "
        "upstream does not check them, so that convention could not be confirmed",
        **fields,
    )


def _planned(architecture: str, dataset: str, **fields: Any) -> Weights:
    """Weights that resnetzoo will train with its ``long`` recipe and publish as resnetzoo/<model>.<tag>."""
    tag = f"long_{dataset}"
    return Weights(
        architecture=architecture,
        tag=tag,
        hf_hub_id=f"resnetzoo/{architecture}.{tag}",
        planned=True,
        num_classes=len(_CLASSES[dataset]),
        categories=_CLASSES[dataset],
        dataset=dataset,
        **_TRUE_NORM[dataset],
        license="Apache-2.0",
        recipe="long",
        paper=_HE2016 if architecture.startswith("preact") else _HE2015,
        **fields,
    )


# fmt: off
register_weights([
    _edadaltocg("resnet18_cifar", "cifar10", 0.9498, num_params=11_173_962, flops=1_110_845_440),
    _edadaltocg("resnet18_cifar", "cifar100", 0.7926, num_params=11_220_132, flops=1_110_937_600),
    _edadaltocg("resnet34_cifar", "cifar10", 0.954, num_params=21_282_122, flops=2_318_804_992),
    _edadaltocg("resnet34_cifar", "cifar100", 0.7978, num_params=21_328_292, flops=2_318_897_152, sha256="6c289529717391309146c2ba0b28e425cbb1f8586c8c93c40499405d8ee72f1e"),
    _edadaltocg("resnet50_cifar", "cifar10", 0.9465, num_params=23_520_842, flops=2_595_659_776, sha256="600e3f79fa41bc7c91d751a65b29b1ed2733345f8b6908381caa79a32ff28a6e"),
    _edadaltocg("resnet50_cifar", "cifar100", 0.8093, num_params=23_705_252, flops=2_596_028_416, sha256="3d54f148b6047312e4c4106665296541d107fbed16af29ee25b9f1d92b487c85"),
    _akamaster("resnet20_cifar", "resnet20-12fca82f.th", 0.9173, num_params=269_722, flops=81_102_080, sha256="12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8", file_size=1_099_231, metrics={"top1_jpeg": 0.8103}),
    _akamaster("resnet32_cifar", "resnet32-d509ac18.th", 0.9263, num_params=464_154, flops=137_725_184, sha256="d509ac1820d7f25398913559d7e81a13229b1e7adc5648e3bfa5e22dc137f850", file_size=1_890_043, metrics={"top1_jpeg": 0.8256}),
    _akamaster("resnet44_cifar", "resnet44-014dd654.th", 0.931, num_params=658_586, flops=194_348_288, sha256="014dd6541728a1c700b1642ab640e211dc6eb8ed507d70697458dc8f8a0ae2e4", file_size=2_680_855, metrics={"top1_jpeg": 0.8267}),
    _akamaster("resnet56_cifar", "resnet56-4bfd9763.th", 0.9339, num_params=853_018, flops=250_971_392, sha256="4bfd97631478d6b638d2764fd2baff3edb1d7d82252d54439343b6596b9b5367", file_size=3_471_733, metrics={"top1_jpeg": 0.832}),
    _akamaster("resnet110_cifar", "resnet110-1d1ed7c2.th", 0.9368, num_params=1_727_962, flops=505_775_360),
    _akamaster("resnet1202_cifar", "resnet1202-f3b1deed.th", 0.9382, num_params=19_421_274, flops=5_658_477_824),
    _chenyaofo("resnet20b_cifar", "cifar10", "cifar10_resnet20-4118986f.pt", 0.926, num_params=272_474, flops=81_626_368),
    _chenyaofo("resnet32b_cifar", "cifar10", "cifar10_resnet32-ef93fc4d.pt", 0.9353, num_params=466_906, flops=138_249_472),
    _chenyaofo("resnet44b_cifar", "cifar10", "cifar10_resnet44-2a3cabcb.pt", 0.9401, num_params=661_338, flops=194_872_576),
    _chenyaofo("resnet56b_cifar", "cifar10", "cifar10_resnet56-187c023a.pt", 0.9437, num_params=855_770, flops=251_495_680),
    _chenyaofo("resnet20b_cifar", "cifar100", "cifar100_resnet20-23dac2f1.pt", 0.6883, num_params=278_324, flops=81_637_888),
    _chenyaofo("resnet32b_cifar", "cifar100", "cifar100_resnet32-84213ce6.pt", 0.7016, num_params=472_756, flops=138_260_992),
    _chenyaofo("resnet44b_cifar", "cifar100", "cifar100_resnet44-ffe32858.pt", 0.7163, num_params=667_188, flops=194_884_096),
    _chenyaofo("resnet56b_cifar", "cifar100", "cifar100_resnet56-f2eff4c8.pt", 0.7263, num_params=861_620, flops=251_507_200),
    *(_planned(name, "cifar10") for name in list_models() if not name.startswith(("resnet20b", "resnet32b", "resnet44b", "resnet56b"))),
    *(_planned(name, "cifar100") for name in ("resnet18_cifar", "resnet50_cifar", "resnet56_cifar", "resnet110_cifar", "preact_resnet18_cifar")),
])
# fmt: on
