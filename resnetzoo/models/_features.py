"""A network as a backbone: its feature levels (timm's ``feature_info``) and a features-only wrapper."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..errors import ArgumentError
from ._recorded import RECORD_PROPERTIES, RecordedModel

if TYPE_CHECKING:
    from .resnet import CifarResNet

__all__ = ["FeatureInfo", "FeatureListNet"]


class FeatureInfo(list):
    """The feature levels of a network (timm's ``feature_info``): a list of dicts with ``num_chs``,
    ``reduction`` and ``module``, with accessors by level."""

    def indices(self, indices: int | Sequence[int] | None, *, name: str = "indices") -> list[int]:
        """Level numbers, in order: ``None`` is all, an ``int`` n the last n, a sequence those (negative
        counts from the end), given in increasing order.

        Args:
            indices: The levels asked for.
            name: The caller's parameter, for the messages (``"out_indices"``).

        Raises:
            ArgumentError: If a level does not exist, none is asked for, or they are not in increasing
                order (a ``ValueError``): the maps come back in level order, so another order would be
                silently changed.
        """
        n = len(self)
        if indices is None:
            return list(range(n))
        if isinstance(indices, int) and not isinstance(indices, bool):
            if not 0 < indices <= n:
                raise ArgumentError(f"{name}={indices} asks for the last {indices} of {n} feature levels")
            return list(range(n - indices, n))
        chosen = []
        for i in indices:
            if isinstance(i, bool) or not isinstance(i, int) or not -n <= i < n:
                raise ArgumentError(
                    f"{name}: feature level {i!r} does not exist: this network has levels 0..{n - 1}"
                )
            chosen.append(i % n)
        if not chosen:
            raise ArgumentError(
                f"{name} must name at least one feature level (0..{n - 1}); got {list(indices)!r}"
            )
        if any(a >= b for a, b in itertools.pairwise(chosen)):
            raise ArgumentError(
                f"{name} must list feature levels once each in increasing order, as the maps are returned; "
                f"got {list(indices)!r} (levels {chosen}): pass {sorted(set(chosen))}"
            )
        return chosen

    def channels(self) -> list[int]:
        """Channels of each level's feature map."""
        return [level["num_chs"] for level in self]

    def reduction(self) -> list[int]:
        """How much smaller than the input each level's feature map is, per side."""
        return [level["reduction"] for level in self]

    def module_name(self) -> list[str]:
        """The child module whose output each level is."""
        return [level["module"] for level in self]


class FeatureListNet(RecordedModel, nn.Module):
    """A network as a backbone: its forward returns the feature maps of chosen levels, no head.

    What ``create_model(name, features_only=True, out_indices=...)`` returns (timm's convention). It
    holds the network's own modules under their own names up to the last level needed, so a
    classifier's state dict (without ``fc.*``) loads into it as it is.

    Args:
        model: The network.
        out_indices: Levels of ``model.feature_info`` to return (see :meth:`FeatureInfo.indices`).

    Raises:
        ArgumentError: If a level does not exist, none is given, or they are out of order.
    """

    __jit_unused_properties__ = list(RECORD_PROPERTIES)  # noqa: RUF012 (TorchScript reads it)
    __jit_ignored_attributes__ = ["_pretrained_cfg", "feature_info"]  # noqa: RUF012

    def __init__(self, model: CifarResNet, out_indices: int | Sequence[int] | None = None) -> None:
        super().__init__()
        levels = model.feature_info.indices(out_indices, name="out_indices")
        self.feature_info = FeatureInfo(model.feature_info[i] for i in levels)
        self.pretrained_cfg = model.pretrained_cfg  # model_name and model_kwargs are read off it
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
