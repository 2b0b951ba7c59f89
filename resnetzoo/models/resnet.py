"""The CIFAR ResNet family: one model class and one registered entry point per architecture.

Unlike the ImageNet ResNet (7x7 stride-2 stem + max-pool, a 4x downsampling that leaves an
8x8 map from a 32x32 image before the first block), the CIFAR stem is a single 3x3 stride-1
convolution, and the head pools adaptively, so any input of 8x8 pixels or more works.

Each entry point below is a plain function that calls :func:`~resnetzoo.models._builder.build_model`
with its name; the builder reads the architecture's row of one table (blocks, depths, widths,
shortcut). The weights records are the table in :mod:`resnetzoo.models._weights_table`, registered at
the end of this module. Every entry point takes the same keyword arguments to load weights (the loading
itself is :mod:`resnetzoo.hub`'s, which the builder imports when it is called):

- ``pretrained=True`` loads the model's default weights: its most accurate CIFAR-10 weights.
- ``weights="cifar100"`` (a data set: its default weights), ``weights="akamaster_cifar10"`` (a tag)
  or ``weights=<resnetzoo.Weights>`` loads those weights; ``pretrained="cifar100"`` is the same as
  ``weights="cifar100"``, and ``create_model("resnet56_cifar.cifar10")`` passes the tag for you.
- ``num_classes`` then defaults to the weights' class count. A different ``num_classes``
  raises, unless ``reset_head=True``: the backbone is loaded and a fresh head is started.
- ``progress=False`` hides the download progress bar.

The other keyword arguments are :class:`CifarResNet`'s (``in_chans``, ``shortcut``, ``drop_rate``,
``drop_path_rate``, ``norm_layer``, ...), and ``features_only=True`` with ``out_indices`` returns the
network as a backbone of feature maps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypedDict

import torch
from torch import nn

from .._validate import check_bool, check_callable, check_int, check_number, check_tensor
from ..errors import ArgumentError
from ._builder import Block, build_model
from ._features import FeatureInfo
from ._recorded import RECORD_PROPERTIES, RecordedModel
from ._weights_table import WEIGHTS
from .blocks import ActLayer, BasicBlock, Bottleneck, NormLayer, PreActBlock, PreActBottleneck, Shortcut, _act
from .registry import list_models, register_model, register_weights
from .weights import Weights

if TYPE_CHECKING:
    from typing_extensions import Unpack


def _check_input(x: torch.Tensor, in_chans: int, weight: torch.Tensor) -> None:
    """Refuse an input the network cannot mean to take, with a message that says how to fix it.

    A free function wrapped for torch.fx (below), so symbolic tracing records it as one call instead of
    tracing into its Python checks; the traced graph still runs it, with the same messages.
    """
    if not torch.jit.is_scripting():
        check_tensor("the model's input", x, what="a (batch, channels, height, width) torch.Tensor")
    if x.dim() != 4 or x.shape[1] != in_chans:
        raise ValueError(
            f"expected a 4-D input of shape (batch, {in_chans}, height, width), got shape {list(x.shape)}"
        )
    if not x.is_floating_point():
        raise ValueError(
            f"expected a floating point input (normalised images), got dtype {x.dtype}; "
            "convert uint8 images with x.float() / 255 and normalise them"
        )
    # Metadata only: no device sync. Under autocast the convolutions cast their inputs
    # themselves; TorchScript cannot ask for the autocast state of a device, so it skips this.
    if not torch.jit.is_scripting():  # noqa: SIM102 (TorchScript skips such a block whole, unlike an `and`)
        if x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type):
            raise ValueError(
                f"expected a {weight.dtype} input, the dtype of the model's weights, got {x.dtype}; "
                f"convert the input with x.to({weight.dtype}) or the model with model.to({x.dtype}), "
                "or run under torch.autocast"
            )


torch.fx.wrap("_check_input")


class CifarResNet(RecordedModel, nn.Module):
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
        drop_rate: Dropout probability on the pooled features before the head (timm's ``drop_rate``).
        drop_path_rate: Stochastic depth (Huang et al. 2016; timm's ``drop_path_rate``): the
            probability of dropping a block's residual branch in training grows linearly from 0 at the
            first block to this value at the last. Evaluation is unchanged by either rate.

    Raises:
        ArgumentError: If the stage description or an argument is invalid (a ``ValueError``;
            :class:`~resnetzoo.ArgumentTypeError` for one of the wrong type, e.g.
            ``num_classes=2.5`` or ``norm_layer="bn"``).
    """

    # Python-side descriptions of the model (RecordedModel), which TorchScript has no types for and
    # forward never reads.
    __jit_unused_properties__ = ["stages", *RECORD_PROPERTIES]  # noqa: RUF012 (TorchScript reads it)
    __jit_ignored_attributes__ = ["_pretrained_cfg", "feature_info"]  # noqa: RUF012

    feature_info: FeatureInfo
    """The feature maps :meth:`forward_intermediates` and ``features_only=True`` return, one per level:
    the stem, then each stage (timm's convention): ``num_chs``, ``reduction`` (input size / map size) and
    ``module``, the name of the child whose output it is."""

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
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
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
        drop_rate = check_number("drop_rate", drop_rate, minimum=0, maximum=1)
        drop_path_rate = check_number("drop_path_rate", drop_path_rate, minimum=0, maximum=1)
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
        self.pretrained_cfg = None  # a factory sets the record (resnetzoo.models._builder)

        self.conv1 = nn.Conv2d(in_chans, stem_width, kernel_size=3, stride=1, padding=1, bias=False)
        # A pre-activation network normalises at the start of each block and once after the
        # last one, so its stem is the bare convolution.
        self.bn1 = nn.Identity() if block.preact else norm_layer(stem_width)
        self.relu = nn.Identity() if block.preact else _act(act_layer)

        in_planes = stem_width
        stages = []
        total_blocks, block_index = sum(layers), 0
        for i, (num_blocks, width) in enumerate(zip(layers, widths, strict=True)):
            stride = 1 if i == 0 else 2
            blocks = []
            for j in range(num_blocks):
                inner = inner_channels[i][j] if inner_channels is not None else None
                # Linear decay of the survival probability over depth (Huang et al. 2016, as timm).
                drop_path = drop_path_rate * block_index / max(total_blocks - 1, 1)
                blocks.append(
                    block(
                        in_planes,
                        width,
                        stride if j == 0 else 1,
                        shortcut,
                        norm_layer,
                        act_layer,
                        inner,
                        drop_path,
                    )
                )
                in_planes = width * block.expansion
                block_index += 1
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages[:3]
        self.layer4 = stages[3] if len(stages) == 4 else nn.Identity()
        self.num_features = in_planes
        self.final_norm = norm_layer(in_planes) if block.preact else nn.Identity()
        self.final_act = _act(act_layer) if block.preact else nn.Identity()
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.head_drop = nn.Dropout(drop_rate) if drop_rate else nn.Identity()
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
        if self.pretrained_cfg is not None:
            self.pretrained_cfg = self.pretrained_cfg.for_new_head(num_classes)

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
        _check_input(x, self.in_chans, self.conv1.weight)
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
        x = self.head_drop(self.global_pool(x).flatten(1))  # dropout in training only (drop_rate)
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)`` for images ``(B, in_chans, H, W)``.

        Raises:
            ValueError: If ``x`` is not a 4-D floating point tensor with ``in_chans`` channels, or
                (outside autocast) its dtype is not that of the weights. NaN or infinite values are
                not checked for: that would wait for the device on every call.
        """
        _check_input(x, self.in_chans, self.conv1.weight)
        return self.forward_head(self.forward_features(x))


class CifarResNetArgs(TypedDict, total=False):
    """The keyword arguments an entry point passes on to :class:`CifarResNet` (and ``features_only``)."""

    in_chans: int
    stem_width: int | None
    zero_init_residual: bool
    norm_layer: NormLayer | None
    act_layer: ActLayer | None
    inner_channels: Sequence[Sequence[Sequence[int]]] | None
    drop_rate: float
    drop_path_rate: float
    features_only: bool
    out_indices: int | Sequence[int] | None


# ---------------------------------------------------------------------------------------------
# Entry points: one function per architecture, its row in _builder._ARCHITECTURES. The arguments are
# those of the module docstring and CifarResNetArgs; each raises ArgumentError (a ValueError) for an
# invalid argument or a num_classes that disagrees with the weights, and resnetzoo.HubError when the
# weights are not published, cannot be downloaded, or fail their checks.


# fmt: off
@register_model
def resnet18_cifar(pretrained: bool | str = False, *, weights: str | Weights | None = None, progress: bool = True, reset_head: bool = False, num_classes: int | None = None, shortcut: Shortcut = "B", **kwargs: Unpack[CifarResNetArgs]) -> CifarResNet:
    """ResNet-18 with a CIFAR stem: 4 stages of 64-512 channels, 11.2M parameters.

    Weights: ``resnetzoo.list_pretrained("resnet18_cifar.*")``; the arguments are described in the module docstring.
    """
    return build_model("resnet18_cifar", pretrained=pretrained, weights=weights, progress=progress, reset_head=reset_head, num_classes=num_classes, shortcut=shortcut, **kwargs)  # type: ignore[return-value]

@register_model
def resnet34_cifar(pretrained: bool | str = False, *, weights: str | Weights | None = None, progress: bool = True, reset_head: bool = False, num_classes: int | None = None, shortcut: Shortcut = "B", **kwargs: Unpack[CifarResNetArgs]) -> CifarResNet:
    """ResNet-34 with a CIFAR stem: 4 stages of 64-512 channels, 21.3M parameters.

    Weights: ``resnetzoo.list_pretrained("resnet34_cifar.*")``; the arguments are described in the module docstring.
    """
    return build_model("resnet34_cifar", pretrained=pretrained, weights=weights, progress=progress, reset_head=reset_head, num_classes=num_classes, shortcut=shortcut, **kwargs)  # type: ignore[return-value]

@register_model
def resnet50_cifar(pretrained: bool | str = False, *, weights: str | Weights | None = None, progress: bool = True, reset_head: bool = False, num_classes: int | None = None, shortcut: Shortcut = "B", **kwargs: Unpack[CifarResNetArgs]) -> CifarResNet:
    """ResNet-50 with a CIFAR stem: bottleneck blocks, 23.5M parameters.

    Weights: ``resnetzoo.list_pretrained("resnet50_cifar.*")``; the arguments are described in the module docstring.
    """
    return build_model("resnet50_cifar", pretrained=pretrained, weights=weights, progress=progress, reset_head=reset_head, num_classes=num_classes, shortcut=shortcut, **kwargs)  # type: ignore[return-value]

@register_model
def resnet101_cifar(pretrained: bool | str = False, *, weights: str | Weights | None = None, progress: bool = True, reset_head: bool = False, num_classes: int | None = None, shortcut: Shortcut = "B", **kwargs: Unpack[CifarResNetArgs]) -> CifarResNet:
    """ResNet-101 with a CIFAR stem: bottleneck blocks, 42.5M parameters.

    Weights: ``resnetzoo.list_pretrained("resnet101_cifar.*")``; the arguments are described in the module docstring.
    """
    return build_model("resnet101_cifar", pretrained=pretrained, weights=weights, progress=progress, reset_head=reset_head, num_classes=num_classes, shortcut=shortcut, **kwargs)  # type: ignore[return-value]

@register_model
def resnet152_cifar(pretrained: bool | str = False, *, weights: str | Weights | None = None, progress: bool = True, reset_head: bool = False, num_classes: int | None = None, shortcut: Shortcut = "B", **kwargs: Unpack[CifarResNetArgs]) -> CifarResNet:
    """ResNet-152 with a CIFAR stem: bottleneck blocks, 58.2M parameters.

    Weights: ``resnetzoo.list_pretrained("resnet152_cifar.*")``; the arguments are described in the module docstring.
    """
    return build_model("resnet152_cifar", pretrained=pretrained, weights=weights, progress=progress, reset_head=reset_head, num_classes=num_classes, shortcut=shortcut, **kwargs)  # type: ignore[return-value]

@register_model
def resnet20_cifar(pretrained: bool | str = False, *, weights: str | Weights | None = None, progress: bool = True, reset_head: bool = False, num_classes: int | None = None, shortcut: Shortcut = "A", **kwargs: Unpack[CifarResNetArgs]) -> CifarResNet:
    """ResNet-20 of He et al. 2015 §4.2: 3 stages of 16/32/64 channels, 0.27M parameters.

    Weights: ``resnetzoo.list_pretrained("resnet20_cifar.*")``; the arguments are described in the module docstring.
    """
    return build_model("resnet20_cifar", pretrained=pretrained, weights=weights, progress=progress, reset_head=reset_head, num_classes=num_classes, shortcut=shortcut, **kwargs)  # type: ignore[return-value]

@register_model
def resnet32_cifar(pretrained: bool | str = False, *, weights: str | Weights | None = None, progress: bool = True, reset_head: bool = False, num_classes: int | None = None, shortcut: Shortcut = "A", **kwargs: Unpack[CifarResNetArgs]) -> CifarResNet:
    """ResNet-32 of He et al. 2015 §4.2, 0.46M parameters.

    Weights: ``resnetzoo.list_pretrained("resnet32_cifar.*")``; the arguments are described in the module docstring.
    """
    return build_model("resnet32_cifar", pretrained=pretrained, weights=weights, progress=progress, reset_head=reset_head, num_classes=num_classes, shortcut=shortcut, **kwargs)  # type: ignore[return-value]

@register_model
def resnet44_cifar(pretrained: bool | str = False, *, weights: str | Weights | None = None, progress: bool = True, reset_head: bool = False, num_classes: int | None = None, shortcut: Shortcut = "A", **kwargs: Unpack[CifarResNetArgs]) -> CifarResNet:
    """ResNet-44 of He et al. 2015 §4.2, 0.66M parameters.

    Weights: ``resnetzoo.list_pretrained("resnet44_cifar.*")``; the arguments are described in the module docstring.
    """
    return build_model("resnet44_cifar", pretrained=pretrained, weights=weights, progress=progress, reset_head=reset_head, num_classes=num_classes, shortcut=shortcut, **kwargs)  # type: ignore[return-value]

@register_model
def resnet56_cifar(pretrained: bool | str = False, *, weights: str | Weights | None = None, progress: bool = True, reset_head: bool = False, num_classes: int | None = None, shortcut: Shortcut = "A", **kwargs: Unpack[CifarResNetArgs]) -> CifarResNet:
    """ResNet-56 of He et al. 2015 §4.2, 0.85M parameters.

    Weights: ``resnetzoo.list_pretrained("resnet56_cifar.*")``; the arguments are described in the module docstring.
    """
    return build_model("resnet56_cifar", pretrained=pretrained, weights=weights, progress=progress, reset_head=reset_head, num_classes=num_classes, shortcut=shortcut, **kwargs)  # type: ignore[return-value]

@register_model
def resnet110_cifar(pretrained: bool | str = False, *, weights: str | Weights | None = None, progress: bool = True, reset_head: bool = False, num_classes: int | None = None, shortcut: Shortcut = "A", **kwargs: Unpack[CifarResNetArgs]) -> CifarResNet:
    """ResNet-110 of He et al. 2015 §4.2, 1.7M parameters.

    Weights: ``resnetzoo.list_pretrained("resnet110_cifar.*")``; the arguments are described in the module docstring.
    """
    return build_model("resnet110_cifar", pretrained=pretrained, weights=weights, progress=progress, reset_head=reset_head, num_classes=num_classes, shortcut=shortcut, **kwargs)  # type: ignore[return-value]

@register_model
def resnet1202_cifar(pretrained: bool | str = False, *, weights: str | Weights | None = None, progress: bool = True, reset_head: bool = False, num_classes: int | None = None, shortcut: Shortcut = "A", **kwargs: Unpack[CifarResNetArgs]) -> CifarResNet:
    """ResNet-1202 of He et al. 2015 §4.2, 19.4M parameters.

    Weights: ``resnetzoo.list_pretrained("resnet1202_cifar.*")``; the arguments are described in the module docstring.
    """
    return build_model("resnet1202_cifar", pretrained=pretrained, weights=weights, progress=progress, reset_head=reset_head, num_classes=num_classes, shortcut=shortcut, **kwargs)  # type: ignore[return-value]

@register_model
def resnet20b_cifar(pretrained: bool | str = False, *, weights: str | Weights | None = None, progress: bool = True, reset_head: bool = False, num_classes: int | None = None, shortcut: Shortcut = "B", **kwargs: Unpack[CifarResNetArgs]) -> CifarResNet:
    """ResNet-20 with projection shortcuts (option B of He et al. 2015), 0.27M parameters.

    Weights: ``resnetzoo.list_pretrained("resnet20b_cifar.*")``; the arguments are described in the module docstring.
    """
    return build_model("resnet20b_cifar", pretrained=pretrained, weights=weights, progress=progress, reset_head=reset_head, num_classes=num_classes, shortcut=shortcut, **kwargs)  # type: ignore[return-value]

@register_model
def resnet32b_cifar(pretrained: bool | str = False, *, weights: str | Weights | None = None, progress: bool = True, reset_head: bool = False, num_classes: int | None = None, shortcut: Shortcut = "B", **kwargs: Unpack[CifarResNetArgs]) -> CifarResNet:
    """ResNet-32 with projection shortcuts (option B of He et al. 2015), 0.47M parameters.

    Weights: ``resnetzoo.list_pretrained("resnet32b_cifar.*")``; the arguments are described in the module docstring.
    """
    return build_model("resnet32b_cifar", pretrained=pretrained, weights=weights, progress=progress, reset_head=reset_head, num_classes=num_classes, shortcut=shortcut, **kwargs)  # type: ignore[return-value]

@register_model
def resnet44b_cifar(pretrained: bool | str = False, *, weights: str | Weights | None = None, progress: bool = True, reset_head: bool = False, num_classes: int | None = None, shortcut: Shortcut = "B", **kwargs: Unpack[CifarResNetArgs]) -> CifarResNet:
    """ResNet-44 with projection shortcuts (option B of He et al. 2015), 0.66M parameters.

    Weights: ``resnetzoo.list_pretrained("resnet44b_cifar.*")``; the arguments are described in the module docstring.
    """
    return build_model("resnet44b_cifar", pretrained=pretrained, weights=weights, progress=progress, reset_head=reset_head, num_classes=num_classes, shortcut=shortcut, **kwargs)  # type: ignore[return-value]

@register_model
def resnet56b_cifar(pretrained: bool | str = False, *, weights: str | Weights | None = None, progress: bool = True, reset_head: bool = False, num_classes: int | None = None, shortcut: Shortcut = "B", **kwargs: Unpack[CifarResNetArgs]) -> CifarResNet:
    """ResNet-56 with projection shortcuts (option B of He et al. 2015), 0.86M parameters.

    Weights: ``resnetzoo.list_pretrained("resnet56b_cifar.*")``; the arguments are described in the module docstring.
    """
    return build_model("resnet56b_cifar", pretrained=pretrained, weights=weights, progress=progress, reset_head=reset_head, num_classes=num_classes, shortcut=shortcut, **kwargs)  # type: ignore[return-value]

@register_model
def preact_resnet18_cifar(pretrained: bool | str = False, *, weights: str | Weights | None = None, progress: bool = True, reset_head: bool = False, num_classes: int | None = None, shortcut: Shortcut = "B", **kwargs: Unpack[CifarResNetArgs]) -> CifarResNet:
    """Pre-activation ResNet-18 (He et al. 2016) with a CIFAR stem, 4 stages of 64-512 channels.

    Weights: ``resnetzoo.list_pretrained("preact_resnet18_cifar.*")``; the arguments are described in the module docstring.
    """
    return build_model("preact_resnet18_cifar", pretrained=pretrained, weights=weights, progress=progress, reset_head=reset_head, num_classes=num_classes, shortcut=shortcut, **kwargs)  # type: ignore[return-value]

@register_model
def preact_resnet110_cifar(pretrained: bool | str = False, *, weights: str | Weights | None = None, progress: bool = True, reset_head: bool = False, num_classes: int | None = None, shortcut: Shortcut = "B", **kwargs: Unpack[CifarResNetArgs]) -> CifarResNet:
    """Pre-activation ResNet-110 (He et al. 2016): 3 stages of 18 basic blocks, 16/32/64 channels.

    Weights: ``resnetzoo.list_pretrained("preact_resnet110_cifar.*")``; the arguments are described in the module docstring.
    """
    return build_model("preact_resnet110_cifar", pretrained=pretrained, weights=weights, progress=progress, reset_head=reset_head, num_classes=num_classes, shortcut=shortcut, **kwargs)  # type: ignore[return-value]

@register_model
def preact_resnet164_cifar(pretrained: bool | str = False, *, weights: str | Weights | None = None, progress: bool = True, reset_head: bool = False, num_classes: int | None = None, shortcut: Shortcut = "B", **kwargs: Unpack[CifarResNetArgs]) -> CifarResNet:
    """Pre-activation ResNet-164 (He et al. 2016): 3 stages of 18 bottlenecks, 64/128/256 channels out.

    Weights: ``resnetzoo.list_pretrained("preact_resnet164_cifar.*")``; the arguments are described in the module docstring.
    """
    return build_model("preact_resnet164_cifar", pretrained=pretrained, weights=weights, progress=progress, reset_head=reset_head, num_classes=num_classes, shortcut=shortcut, **kwargs)  # type: ignore[return-value]
# fmt: on

register_weights(WEIGHTS)

# Every entry point above and nothing else is registered at this point: the public names of this module.
__all__ = ["CifarResNet", *list_models()]
