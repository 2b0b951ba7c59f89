"""The CIFAR ResNet family: one model class and its registered factories.

Unlike the ImageNet ResNet (7x7 stride-2 stem + max-pool, a 4x downsampling that leaves an
8x8 map from a 32x32 image before the first block), the CIFAR stem is a single 3x3 stride-1
convolution, and the head pools adaptively, so any input of 8x8 pixels or more works.

Pretrained weights: every factory takes the same keyword arguments to load published
weights (records in :mod:`resnetzoo.hub.weights`, files on the Hugging Face Hub):

- ``pretrained=True`` loads the model's default weights (trained on CIFAR-10).
- ``weights="cifar100"`` (a tag) or ``weights=<resnetzoo.Weights>`` loads those weights;
  ``create_model("resnet56_cifar.cifar100")`` passes the tag for you.
- ``num_classes`` then defaults to the weights' class count. A different ``num_classes``
  raises, unless ``reset_head=True``: the backbone is loaded and a fresh head is started.
- ``progress=False`` hides the download progress bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .blocks import ActLayer, BasicBlock, Bottleneck, NormLayer, PreActBlock, PreActBottleneck, Shortcut
from .registry import load_with_weights, register_model

if TYPE_CHECKING:  # for the annotations only: at run time the models never import the hub
    from ..hub.weights import Weights

__all__ = [
    "CifarResNet",
    "preact_resnet18_cifar",
    "preact_resnet110_cifar",
    "preact_resnet164_cifar",
    "resnet18_cifar",
    "resnet20_cifar",
    "resnet32_cifar",
    "resnet34_cifar",
    "resnet44_cifar",
    "resnet50_cifar",
    "resnet56_cifar",
    "resnet101_cifar",
    "resnet110_cifar",
    "resnet152_cifar",
    "resnet1202_cifar",
]

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

    Raises:
        ValueError: If the stage description or an argument is invalid.
    """

    __jit_unused_properties__ = ["stages"]  # noqa: RUF012 (TorchScript reads this class attribute)

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
    ) -> None:
        super().__init__()
        if len(layers) not in (3, 4) or len(layers) != len(widths):
            raise ValueError(
                f"layers and widths must both describe 3 or 4 stages, got layers={list(layers)}, "
                f"widths={list(widths)}"
            )
        if any(n < 1 for n in layers):
            raise ValueError(f"every stage needs at least one block, got layers={list(layers)}")
        if num_classes < 0 or in_chans < 1:
            raise ValueError(f"need num_classes >= 0 and in_chans >= 1, got {num_classes} and {in_chans}")
        norm_layer = norm_layer or nn.BatchNorm2d
        act_layer = act_layer or nn.ReLU
        stem_width = stem_width or widths[0]
        self.in_chans = in_chans
        self.num_classes = num_classes

        self.conv1 = nn.Conv2d(in_chans, stem_width, kernel_size=3, stride=1, padding=1, bias=False)
        # A pre-activation network normalises at the start of each block and once after the
        # last one, so its stem is the bare convolution.
        self.bn1 = nn.Identity() if block.preact else norm_layer(stem_width)
        self.relu = nn.Identity() if block.preact else nn.ReLU(inplace=True)

        in_planes = stem_width
        stages = []
        for i, (num_blocks, width) in enumerate(zip(layers, widths, strict=True)):
            stride = 1 if i == 0 else 2
            blocks = []
            for j in range(num_blocks):
                blocks.append(
                    block(in_planes, width, stride if j == 0 else 1, shortcut, norm_layer, act_layer)
                )
                in_planes = width * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages[:3]
        self.layer4 = stages[3] if len(stages) == 4 else nn.Identity()
        self.num_features = in_planes
        self.final_norm = norm_layer(in_planes) if block.preact else nn.Identity()
        self.final_act = nn.ReLU(inplace=True) if block.preact else nn.Identity()
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.fc: nn.Module = nn.Linear(in_planes, num_classes) if num_classes > 0 else nn.Identity()

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
            ValueError: If ``num_classes`` is negative.
        """
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}")
        self.num_classes = num_classes
        device = next(self.parameters()).device
        self.fc = nn.Linear(self.num_features, num_classes, device=device) if num_classes else nn.Identity()
        if isinstance(getattr(self, "model_kwargs", None), dict):
            # What a factory recorded to rebuild this model (checkpoints, save_pretrained): keep it true.
            self.model_kwargs = {**self.model_kwargs, "num_classes": num_classes}

    def _check_input(self, x: torch.Tensor) -> None:
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
    **kwargs: Any,
) -> CifarResNet:
    def build(num_classes: int) -> CifarResNet:
        model = CifarResNet(block, layers, widths, num_classes=num_classes, **kwargs)
        # Recorded so that save_pretrained can write config.json and rebuild the same model.
        model.model_name = name
        model.model_kwargs = {"num_classes": num_classes, **kwargs}
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


_WIDE = (64, 128, 256, 512)  # the ImageNet ResNet widths
_NARROW = (16, 32, 64)  # He et al. 2015 §4.2


@register_model
def resnet18_cifar(
    *,
    pretrained: bool = False,
    weights: str | Weights | None = None,
    progress: bool = True,
    reset_head: bool = False,
    num_classes: int | None = None,
    in_chans: int = 3,
    zero_init_residual: bool = False,
    shortcut: Shortcut = "B",
    **kwargs: Any,
) -> CifarResNet:
    """ResNet-18 with a CIFAR stem: 4 stages of 64-512 channels, 11.2M parameters.

    Keyword arguments are those of :class:`CifarResNet`.

    Set ``pretrained=True`` or ``weights=`` to load published weights (see the module docstring).

    Raises:
        ValueError: If an argument is invalid, or ``num_classes`` disagrees with the weights.
        resnetzoo.HubError: If the weights are not published yet, cannot be downloaded, or fail
            their checksum.
    """
    return _create(
        "resnet18_cifar",
        BasicBlock,
        (2, 2, 2, 2),
        _WIDE,
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


@register_model
def resnet34_cifar(
    *,
    pretrained: bool = False,
    weights: str | Weights | None = None,
    progress: bool = True,
    reset_head: bool = False,
    num_classes: int | None = None,
    in_chans: int = 3,
    zero_init_residual: bool = False,
    shortcut: Shortcut = "B",
    **kwargs: Any,
) -> CifarResNet:
    """ResNet-34 with a CIFAR stem: 4 stages of 64-512 channels, 21.3M parameters.

    Keyword arguments are those of :class:`CifarResNet`.

    Set ``pretrained=True`` or ``weights=`` to load published weights (see the module docstring).

    Raises:
        ValueError: If an argument is invalid, or ``num_classes`` disagrees with the weights.
        resnetzoo.HubError: If the weights are not published yet, cannot be downloaded, or fail
            their checksum.
    """
    return _create(
        "resnet34_cifar",
        BasicBlock,
        (3, 4, 6, 3),
        _WIDE,
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


@register_model
def resnet50_cifar(
    *,
    pretrained: bool = False,
    weights: str | Weights | None = None,
    progress: bool = True,
    reset_head: bool = False,
    num_classes: int | None = None,
    in_chans: int = 3,
    zero_init_residual: bool = False,
    shortcut: Shortcut = "B",
    **kwargs: Any,
) -> CifarResNet:
    """ResNet-50 with a CIFAR stem: bottleneck blocks, 23.5M parameters.

    Keyword arguments are those of :class:`CifarResNet`.

    Set ``pretrained=True`` or ``weights=`` to load published weights (see the module docstring).

    Raises:
        ValueError: If an argument is invalid, or ``num_classes`` disagrees with the weights.
        resnetzoo.HubError: If the weights are not published yet, cannot be downloaded, or fail
            their checksum.
    """
    return _create(
        "resnet50_cifar",
        Bottleneck,
        (3, 4, 6, 3),
        _WIDE,
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


@register_model
def resnet101_cifar(
    *,
    pretrained: bool = False,
    weights: str | Weights | None = None,
    progress: bool = True,
    reset_head: bool = False,
    num_classes: int | None = None,
    in_chans: int = 3,
    zero_init_residual: bool = False,
    shortcut: Shortcut = "B",
    **kwargs: Any,
) -> CifarResNet:
    """ResNet-101 with a CIFAR stem: bottleneck blocks, 42.5M parameters.

    Keyword arguments are those of :class:`CifarResNet`.

    Set ``pretrained=True`` or ``weights=`` to load published weights (see the module docstring).

    Raises:
        ValueError: If an argument is invalid, or ``num_classes`` disagrees with the weights.
        resnetzoo.HubError: If the weights are not published yet, cannot be downloaded, or fail
            their checksum.
    """
    return _create(
        "resnet101_cifar",
        Bottleneck,
        (3, 4, 23, 3),
        _WIDE,
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


@register_model
def resnet152_cifar(
    *,
    pretrained: bool = False,
    weights: str | Weights | None = None,
    progress: bool = True,
    reset_head: bool = False,
    num_classes: int | None = None,
    in_chans: int = 3,
    zero_init_residual: bool = False,
    shortcut: Shortcut = "B",
    **kwargs: Any,
) -> CifarResNet:
    """ResNet-152 with a CIFAR stem: bottleneck blocks, 58.2M parameters.

    Keyword arguments are those of :class:`CifarResNet`.

    Set ``pretrained=True`` or ``weights=`` to load published weights (see the module docstring).

    Raises:
        ValueError: If an argument is invalid, or ``num_classes`` disagrees with the weights.
        resnetzoo.HubError: If the weights are not published yet, cannot be downloaded, or fail
            their checksum.
    """
    return _create(
        "resnet152_cifar",
        Bottleneck,
        (3, 8, 36, 3),
        _WIDE,
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


@register_model
def resnet20_cifar(
    *,
    pretrained: bool = False,
    weights: str | Weights | None = None,
    progress: bool = True,
    reset_head: bool = False,
    num_classes: int | None = None,
    in_chans: int = 3,
    zero_init_residual: bool = False,
    shortcut: Shortcut = "A",
    **kwargs: Any,
) -> CifarResNet:
    """ResNet-20 of He et al. 2015 §4.2: 3 stages of 16/32/64 channels, 0.27M parameters.

    Keyword arguments are those of :class:`CifarResNet`. Shortcuts are option A (zero-padding)
    unless ``shortcut="B"``.

    Set ``pretrained=True`` or ``weights=`` to load published weights (see the module docstring).

    Raises:
        ValueError: If an argument is invalid, or ``num_classes`` disagrees with the weights.
        resnetzoo.HubError: If the weights are not published yet, cannot be downloaded, or fail
            their checksum.
    """
    return _create(
        "resnet20_cifar",
        BasicBlock,
        (3, 3, 3),
        _NARROW,
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


@register_model
def resnet32_cifar(
    *,
    pretrained: bool = False,
    weights: str | Weights | None = None,
    progress: bool = True,
    reset_head: bool = False,
    num_classes: int | None = None,
    in_chans: int = 3,
    zero_init_residual: bool = False,
    shortcut: Shortcut = "A",
    **kwargs: Any,
) -> CifarResNet:
    """ResNet-32 of He et al. 2015 §4.2, 0.46M parameters.

    Keyword arguments are those of :class:`CifarResNet`. Shortcuts are option A (zero-padding)
    unless ``shortcut="B"``.

    Set ``pretrained=True`` or ``weights=`` to load published weights (see the module docstring).

    Raises:
        ValueError: If an argument is invalid, or ``num_classes`` disagrees with the weights.
        resnetzoo.HubError: If the weights are not published yet, cannot be downloaded, or fail
            their checksum.
    """
    return _create(
        "resnet32_cifar",
        BasicBlock,
        (5, 5, 5),
        _NARROW,
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


@register_model
def resnet44_cifar(
    *,
    pretrained: bool = False,
    weights: str | Weights | None = None,
    progress: bool = True,
    reset_head: bool = False,
    num_classes: int | None = None,
    in_chans: int = 3,
    zero_init_residual: bool = False,
    shortcut: Shortcut = "A",
    **kwargs: Any,
) -> CifarResNet:
    """ResNet-44 of He et al. 2015 §4.2, 0.66M parameters.

    Keyword arguments are those of :class:`CifarResNet`. Shortcuts are option A (zero-padding)
    unless ``shortcut="B"``.

    Set ``pretrained=True`` or ``weights=`` to load published weights (see the module docstring).

    Raises:
        ValueError: If an argument is invalid, or ``num_classes`` disagrees with the weights.
        resnetzoo.HubError: If the weights are not published yet, cannot be downloaded, or fail
            their checksum.
    """
    return _create(
        "resnet44_cifar",
        BasicBlock,
        (7, 7, 7),
        _NARROW,
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


@register_model
def resnet56_cifar(
    *,
    pretrained: bool = False,
    weights: str | Weights | None = None,
    progress: bool = True,
    reset_head: bool = False,
    num_classes: int | None = None,
    in_chans: int = 3,
    zero_init_residual: bool = False,
    shortcut: Shortcut = "A",
    **kwargs: Any,
) -> CifarResNet:
    """ResNet-56 of He et al. 2015 §4.2, 0.85M parameters.

    Keyword arguments are those of :class:`CifarResNet`. Shortcuts are option A (zero-padding)
    unless ``shortcut="B"``.

    Set ``pretrained=True`` or ``weights=`` to load published weights (see the module docstring).

    Raises:
        ValueError: If an argument is invalid, or ``num_classes`` disagrees with the weights.
        resnetzoo.HubError: If the weights are not published yet, cannot be downloaded, or fail
            their checksum.
    """
    return _create(
        "resnet56_cifar",
        BasicBlock,
        (9, 9, 9),
        _NARROW,
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


@register_model
def resnet110_cifar(
    *,
    pretrained: bool = False,
    weights: str | Weights | None = None,
    progress: bool = True,
    reset_head: bool = False,
    num_classes: int | None = None,
    in_chans: int = 3,
    zero_init_residual: bool = False,
    shortcut: Shortcut = "A",
    **kwargs: Any,
) -> CifarResNet:
    """ResNet-110 of He et al. 2015 §4.2, 1.7M parameters.

    Keyword arguments are those of :class:`CifarResNet`. Shortcuts are option A (zero-padding)
    unless ``shortcut="B"``.

    Set ``pretrained=True`` or ``weights=`` to load published weights (see the module docstring).

    Raises:
        ValueError: If an argument is invalid, or ``num_classes`` disagrees with the weights.
        resnetzoo.HubError: If the weights are not published yet, cannot be downloaded, or fail
            their checksum.
    """
    return _create(
        "resnet110_cifar",
        BasicBlock,
        (18, 18, 18),
        _NARROW,
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


@register_model
def resnet1202_cifar(
    *,
    pretrained: bool = False,
    weights: str | Weights | None = None,
    progress: bool = True,
    reset_head: bool = False,
    num_classes: int | None = None,
    in_chans: int = 3,
    zero_init_residual: bool = False,
    shortcut: Shortcut = "A",
    **kwargs: Any,
) -> CifarResNet:
    """ResNet-1202 of He et al. 2015 §4.2, 19.4M parameters.

    Keyword arguments are those of :class:`CifarResNet`. Shortcuts are option A (zero-padding)
    unless ``shortcut="B"``.

    Set ``pretrained=True`` or ``weights=`` to load published weights (see the module docstring).

    Raises:
        ValueError: If an argument is invalid, or ``num_classes`` disagrees with the weights.
        resnetzoo.HubError: If the weights are not published yet, cannot be downloaded, or fail
            their checksum.
    """
    return _create(
        "resnet1202_cifar",
        BasicBlock,
        (200, 200, 200),
        _NARROW,
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


@register_model
def preact_resnet18_cifar(
    *,
    pretrained: bool = False,
    weights: str | Weights | None = None,
    progress: bool = True,
    reset_head: bool = False,
    num_classes: int | None = None,
    in_chans: int = 3,
    zero_init_residual: bool = False,
    shortcut: Shortcut = "B",
    **kwargs: Any,
) -> CifarResNet:
    """Pre-activation ResNet-18 (He et al. 2016) with a CIFAR stem, 4 stages of 64-512 channels.

    Keyword arguments are those of :class:`CifarResNet`.

    Set ``pretrained=True`` or ``weights=`` to load published weights (see the module docstring).

    Raises:
        ValueError: If an argument is invalid, or ``num_classes`` disagrees with the weights.
        resnetzoo.HubError: If the weights are not published yet, cannot be downloaded, or fail
            their checksum.
    """
    return _create(
        "preact_resnet18_cifar",
        PreActBlock,
        (2, 2, 2, 2),
        _WIDE,
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


@register_model
def preact_resnet110_cifar(
    *,
    pretrained: bool = False,
    weights: str | Weights | None = None,
    progress: bool = True,
    reset_head: bool = False,
    num_classes: int | None = None,
    in_chans: int = 3,
    zero_init_residual: bool = False,
    shortcut: Shortcut = "B",
    **kwargs: Any,
) -> CifarResNet:
    """Pre-activation ResNet-110 (He et al. 2016): 3 stages of 18 basic blocks, 16/32/64 channels.

    Keyword arguments are those of :class:`CifarResNet`.

    Set ``pretrained=True`` or ``weights=`` to load published weights (see the module docstring).

    Raises:
        ValueError: If an argument is invalid, or ``num_classes`` disagrees with the weights.
        resnetzoo.HubError: If the weights are not published yet, cannot be downloaded, or fail
            their checksum.
    """
    return _create(
        "preact_resnet110_cifar",
        PreActBlock,
        (18, 18, 18),
        _NARROW,
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


@register_model
def preact_resnet164_cifar(
    *,
    pretrained: bool = False,
    weights: str | Weights | None = None,
    progress: bool = True,
    reset_head: bool = False,
    num_classes: int | None = None,
    in_chans: int = 3,
    zero_init_residual: bool = False,
    shortcut: Shortcut = "B",
    **kwargs: Any,
) -> CifarResNet:
    """Pre-activation ResNet-164 (He et al. 2016): 3 stages of 18 bottlenecks, 64/128/256 channels out.

    Keyword arguments are those of :class:`CifarResNet`.

    Set ``pretrained=True`` or ``weights=`` to load published weights (see the module docstring).

    Raises:
        ValueError: If an argument is invalid, or ``num_classes`` disagrees with the weights.
        resnetzoo.HubError: If the weights are not published yet, cannot be downloaded, or fail
            their checksum.
    """
    return _create(
        "preact_resnet164_cifar",
        PreActBottleneck,
        (18, 18, 18),
        _NARROW,
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
