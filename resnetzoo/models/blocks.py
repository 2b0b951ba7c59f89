"""Residual blocks for CIFAR-sized ResNets.

Names follow torchvision (``conv1 bn1 conv2 bn2 [conv3 bn3] downsample``) so that
torchvision- and timm-layout state dicts load without renaming.

References:
    He et al. 2015, "Deep Residual Learning for Image Recognition" (post-activation blocks,
    shortcut options A and B, §3.3 and §4.2).
    He et al. 2016, "Identity Mappings in Deep Residual Networks" (pre-activation blocks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BasicBlock", "Bottleneck", "PreActBlock", "PreActBottleneck", "ZeroPadShortcut"]

Shortcut = Literal["A", "B"]
NormLayer = Callable[[int], nn.Module]
ActLayer = Callable[..., nn.Module]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding; no bias because a norm layer follows."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution; no bias because a norm layer follows."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


def _inner(inner_channels: Sequence[int] | None, planes: int, count: int, block: str) -> tuple[int, ...]:
    """The output channels of a block's inner convolutions: ``planes`` each, unless given (a pruned block).

    Raises:
        ValueError: If ``inner_channels`` does not hold ``count`` positive integers.
    """
    if inner_channels is None:
        return (planes,) * count
    widths = tuple(inner_channels)
    if len(widths) != count or not all(
        isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths
    ):
        raise ValueError(
            f"a {block} has {count} inner convolution(s); inner_channels must give {count} integer(s) >= 1, "
            f"got {list(widths)}"
        )
    return widths


def make_drop_path(rate: float) -> nn.Module:
    """Stochastic depth of one residual branch (Huang et al. 2016), or ``nn.Identity`` for ``rate`` 0.

    Each sample's branch is dropped with probability ``rate`` in training and the kept ones are scaled
    by ``1 / (1 - rate)``, so evaluation uses the whole branch unchanged.
    """
    if not rate:
        return nn.Identity()
    # Imported here: torchvision.ops costs start-up time that models without stochastic depth never need.
    from torchvision.ops import StochasticDepth

    return StochasticDepth(rate, "row")


def _act(act_layer: ActLayer) -> nn.Module:
    # In-place activations save memory, but not every activation class takes ``inplace``.
    try:
        return act_layer(inplace=True)
    except TypeError:
        return act_layer()


class ZeroPadShortcut(nn.Module):
    """Parameter-free shortcut, option A of He et al. 2015 §4.2.

    Subsamples the input by ``stride`` and appends zero channels up to ``out_planes``, so
    the network has no more parameters than the plain (non-residual) one.
    """

    def __init__(self, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__()
        if out_planes < in_planes:
            raise ValueError(f"option A can only widen a shortcut, got {in_planes} -> {out_planes} channels")
        self.stride = stride
        self.extra_channels = out_planes - in_planes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]  # (B, C, H/s, W/s)
        # F.pad pads the last dims first: (W_left, W_right, H_top, H_bottom, C_front, C_back).
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, extra_channels={self.extra_channels}"


def make_shortcut(
    kind: Shortcut,
    in_planes: int,
    out_planes: int,
    stride: int,
    norm_layer: NormLayer | None,
) -> nn.Module | None:
    """The shortcut module of a block, or ``None`` for the identity.

    Args:
        kind: ``"A"`` (zero-padding, parameter-free) or ``"B"`` (1x1 conv projection).
        in_planes: Channels entering the block.
        out_planes: Channels leaving the block.
        stride: Spatial stride of the block.
        norm_layer: Norm after the projection conv (option B); ``None`` for pre-activation
            blocks, whose projection sees an already normalised input.

    Raises:
        ValueError: If ``kind`` is neither ``"A"`` nor ``"B"``.
    """
    if kind not in ("A", "B"):
        raise ValueError(f"shortcut must be 'A' (zero-padding) or 'B' (projection), got {kind!r}")
    if stride == 1 and in_planes == out_planes:
        return None
    if kind == "A":
        return ZeroPadShortcut(in_planes, out_planes, stride)
    if norm_layer is None:
        return nn.Sequential(conv1x1(in_planes, out_planes, stride))
    return nn.Sequential(conv1x1(in_planes, out_planes, stride), norm_layer(out_planes))


class _ResidualBlock(nn.Module):
    """What the four blocks share: the constructor, the activation, the shortcut and stochastic depth.

    Each block adds its convolutions and norms in :meth:`_make_layers`, in the order of its state dict;
    the activation, shortcut and stochastic depth follow them, in that order, in every block.
    """

    expansion: int = 1
    preact: bool = False
    num_inner: int = 1  # convolutions inside the block, before the last one (see inner_channels)

    def __init__(
        self,
        in_planes: int,
        planes: int,
        stride: int = 1,
        shortcut: Shortcut = "B",
        norm_layer: NormLayer | None = None,
        act_layer: ActLayer | None = None,
        inner_channels: Sequence[int] | None = None,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        out_planes = planes * self.expansion
        inner = _inner(inner_channels, planes, self.num_inner, type(self).__name__)
        self._make_layers(in_planes, (*inner, out_planes), stride, norm_layer)
        self.relu = _act(act_layer or nn.ReLU)
        # A pre-activation block's projection sees an already normalised input: no norm after it.
        shortcut_norm = None if self.preact else norm_layer
        self.downsample = make_shortcut(shortcut, in_planes, out_planes, stride, shortcut_norm)
        self.drop_path = make_drop_path(drop_path)

    def _make_layers(
        self, in_planes: int, widths: tuple[int, ...], stride: int, norm_layer: NormLayer
    ) -> None:
        """Add the convolutions and norms; ``widths`` are their output channels, the block's output last."""
        raise NotImplementedError

    def zero_init_last(self) -> None:
        """Start the residual branch at 0, so that the block starts as the identity (Goyal et al. 2017).

        A post-activation block zeroes its last norm's scale; a pre-activation block, which has no norm
        after its last convolution, zeroes that convolution.
        """
        last = (
            self.num_inner + 1
        )  # conv2/bn2 of a basic block, conv3/bn3 of a bottleneck (torchvision's names)
        if self.preact:
            nn.init.zeros_(self.get_submodule(f"conv{last}").weight)
        elif getattr(norm := self.get_submodule(f"bn{last}"), "weight", None) is not None:
            nn.init.zeros_(norm.weight)


class BasicBlock(_ResidualBlock):
    """Two 3x3 convolutions with a residual addition (post-activation).

    Args:
        in_planes: Channels entering the block.
        planes: Channels of both convolutions (``expansion`` is 1).
        stride: Stride of the first convolution and of the shortcut.
        shortcut: ``"A"`` or ``"B"``; used only where the shape changes.
        norm_layer: Norm layer class, ``nn.BatchNorm2d`` by default.
        act_layer: Activation class, ``nn.ReLU`` by default.
        inner_channels: Output channels of the convolutions before the last one (one for a basic
            block, two for a bottleneck); ``None`` gives each ``planes``. A structurally pruned
            block (:func:`resnetzoo.prune`) has fewer; the block's input and output widths, and so
            the residual additions, are unchanged.
        drop_path: Probability of dropping the residual branch of a sample in training (stochastic
            depth, Huang et al. 2016, torchvision's ``StochasticDepth`` in ``"row"`` mode); 0 keeps it.

    Raises:
        ValueError: If ``inner_channels`` has the wrong length or a width below 1.
    """

    expansion: int = 1
    preact: bool = False
    num_inner: int = 1  # convolutions inside the block, before the last one (see inner_channels)

    def _make_layers(
        self, in_planes: int, widths: tuple[int, ...], stride: int, norm_layer: NormLayer
    ) -> None:
        mid, out = widths
        self.conv1 = conv3x3(in_planes, mid, stride)
        self.bn1 = norm_layer(mid)
        self.conv2 = conv3x3(mid, out)
        self.bn2 = norm_layer(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(self.drop_path(out) + identity)


class Bottleneck(_ResidualBlock):
    """1x1 reduce, 3x3, 1x1 expand (x4) with a residual addition (post-activation).

    The stride sits on the 3x3 convolution, as in torchvision ("ResNet v1.5").
    Arguments are those of :class:`BasicBlock`; the block outputs ``planes * 4`` channels.
    """

    expansion: int = 4
    preact: bool = False
    num_inner: int = 2  # convolutions inside the block, before the last one (see inner_channels)

    def _make_layers(
        self, in_planes: int, widths: tuple[int, ...], stride: int, norm_layer: NormLayer
    ) -> None:
        mid1, mid2, out = widths
        self.conv1 = conv1x1(in_planes, mid1)
        self.bn1 = norm_layer(mid1)
        self.conv2 = conv3x3(mid1, mid2, stride)
        self.bn2 = norm_layer(mid2)
        self.conv3 = conv1x1(mid2, out)
        self.bn3 = norm_layer(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(self.drop_path(out) + identity)


class PreActBlock(_ResidualBlock):
    """Pre-activation basic block, BN-ReLU-conv twice (He et al. 2016, fig. 4e).

    The shortcut projection (where the shape changes) takes the pre-activated input, as in
    the authors' code. Arguments are those of :class:`BasicBlock`.
    """

    expansion: int = 1
    preact: bool = True
    num_inner: int = 1  # convolutions inside the block, before the last one (see inner_channels)

    def _make_layers(
        self, in_planes: int, widths: tuple[int, ...], stride: int, norm_layer: NormLayer
    ) -> None:
        mid, out = widths
        self.bn1 = norm_layer(in_planes)
        self.conv1 = conv3x3(in_planes, mid, stride)
        self.bn2 = norm_layer(mid)
        self.conv2 = conv3x3(mid, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(x))
        identity = x if self.downsample is None else self.downsample(out)
        out = self.conv1(out)
        out = self.conv2(self.relu(self.bn2(out)))
        return self.drop_path(out) + identity


class PreActBottleneck(_ResidualBlock):
    """Pre-activation bottleneck block (He et al. 2016), outputs ``planes * 4`` channels."""

    expansion: int = 4
    preact: bool = True
    num_inner: int = 2  # convolutions inside the block, before the last one (see inner_channels)

    def _make_layers(
        self, in_planes: int, widths: tuple[int, ...], stride: int, norm_layer: NormLayer
    ) -> None:
        mid1, mid2, out = widths
        self.bn1 = norm_layer(in_planes)
        self.conv1 = conv1x1(in_planes, mid1)
        self.bn2 = norm_layer(mid1)
        self.conv2 = conv3x3(mid1, mid2, stride)
        self.bn3 = norm_layer(mid2)
        self.conv3 = conv1x1(mid2, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(x))
        identity = x if self.downsample is None else self.downsample(out)
        out = self.conv1(out)
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        return self.drop_path(out) + identity
