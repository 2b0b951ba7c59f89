"""One builder for every registered model (timm's ``build_model_with_cfg``), and the table it reads.

Each entry point in :mod:`resnetzoo.models.resnet` is a plain function that calls :func:`build_model`
with its own name. The builder reads the architecture's row of :data:`_ARCHITECTURES`, checks the
loading arguments, builds the network and, when weights are asked for, hands it to
:func:`resnetzoo.hub.pretrained.build_with_weights`, imported when it is called: ``resnetzoo.models``
never imports the hub at import time, and nothing installs a loader into this package.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from .._validate import check_bool, check_int, check_number, check_str
from ..errors import ArgumentError
from ._features import FeatureListNet
from .blocks import BasicBlock, Bottleneck, PreActBlock, PreActBottleneck, Shortcut
from .weights import Weights

if TYPE_CHECKING:
    from .resnet import CifarResNet

__all__ = ["build_kwargs", "build_model", "default_kwargs"]

Block = type[BasicBlock] | type[Bottleneck] | type[PreActBlock] | type[PreActBottleneck]


class Architecture(NamedTuple):
    """One registered network: what :class:`~resnetzoo.CifarResNet` is built from."""

    block: Block  # the residual block of every stage
    layers: tuple[int, ...]  # blocks per stage (3 or 4 stages)
    widths: tuple[int, ...]  # base width of each stage; a stage outputs width * block.expansion channels


_WIDE = (64, 128, 256, 512)  # the ImageNet ResNet widths
_NARROW = (16, 32, 64)  # He et al. 2015 §4.2

# fmt: off
_ARCHITECTURES: dict[str, Architecture] = {
    "resnet18_cifar": Architecture(BasicBlock, (2, 2, 2, 2), _WIDE),
    "resnet34_cifar": Architecture(BasicBlock, (3, 4, 6, 3), _WIDE),
    "resnet50_cifar": Architecture(Bottleneck, (3, 4, 6, 3), _WIDE),
    "resnet101_cifar": Architecture(Bottleneck, (3, 4, 23, 3), _WIDE),
    "resnet152_cifar": Architecture(Bottleneck, (3, 8, 36, 3), _WIDE),
    "resnet20_cifar": Architecture(BasicBlock, (3, 3, 3), _NARROW),
    "resnet32_cifar": Architecture(BasicBlock, (5, 5, 5), _NARROW),
    "resnet44_cifar": Architecture(BasicBlock, (7, 7, 7), _NARROW),
    "resnet56_cifar": Architecture(BasicBlock, (9, 9, 9), _NARROW),
    "resnet110_cifar": Architecture(BasicBlock, (18, 18, 18), _NARROW),
    "resnet1202_cifar": Architecture(BasicBlock, (200, 200, 200), _NARROW),
    "resnet20b_cifar": Architecture(BasicBlock, (3, 3, 3), _NARROW),
    "resnet32b_cifar": Architecture(BasicBlock, (5, 5, 5), _NARROW),
    "resnet44b_cifar": Architecture(BasicBlock, (7, 7, 7), _NARROW),
    "resnet56b_cifar": Architecture(BasicBlock, (9, 9, 9), _NARROW),
    "preact_resnet18_cifar": Architecture(PreActBlock, (2, 2, 2, 2), _WIDE),
    "preact_resnet110_cifar": Architecture(PreActBlock, (18, 18, 18), _NARROW),
    "preact_resnet164_cifar": Architecture(PreActBottleneck, (18, 18, 18), _NARROW),
}
# fmt: on

_DEFAULT_NUM_CLASSES = 10
_DROP_RATES = ("drop_rate", "drop_path_rate")
# What config.json spells out beside a record's model_kwargs, so that files of models built with the
# defaults load in older versions too (0.1.0 and 0.2.0 wrote these).
_SPELLED_OUT = ("in_chans", "zero_init_residual", "shortcut")


@functools.cache
def default_kwargs(name: str) -> dict[str, Any]:
    """The keyword arguments the entry point ``name`` builds with when given none, beyond ``num_classes``.

    Read off the signatures (``CifarResNet``'s, and the entry point's ``shortcut``), so they are declared
    once; empty for a model that is not in :data:`_ARCHITECTURES` (one registered for a test).
    """
    if name not in _ARCHITECTURES:
        return {}
    from .registry import get_model_factory  # the entry points in .resnet register themselves
    from .resnet import CifarResNet

    skipped = ("block", "layers", "widths", "num_classes")
    defaults = {
        p.name: p.default
        for p in inspect.signature(CifarResNet).parameters.values()
        if p.name not in skipped and p.default is not inspect.Parameter.empty
    }
    defaults["shortcut"] = inspect.signature(get_model_factory(name)).parameters["shortcut"].default
    return defaults


def build_kwargs(record: Weights) -> dict[str, Any]:
    """The keyword arguments that rebuild ``record``'s network with its entry point: ``num_classes``,
    the defaults ``config.json`` has always spelled out, and ``record.model_kwargs``."""
    defaults = default_kwargs(record.architecture)
    spelled = {k: defaults[k] for k in _SPELLED_OUT if k in defaults}
    return {"num_classes": record.num_classes, **spelled, **record.model_kwargs}


def build_model(
    name: str,
    *,
    pretrained: bool | str = False,
    weights: str | Weights | None = None,
    progress: bool = True,
    reset_head: bool = False,
    num_classes: int | None = None,
    shortcut: Shortcut,
    features_only: bool = False,
    out_indices: int | Sequence[int] | None = None,
    **kwargs: Any,
) -> CifarResNet | FeatureListNet:
    """Build the registered architecture ``name``, with random or loaded weights.

    Args:
        name: A row of :data:`_ARCHITECTURES`.
        pretrained: ``True`` loads the default weights; a string is a weights tag, as ``weights=``.
        weights: A tag, a data set's name, a full name or a :class:`~resnetzoo.Weights` record.
        progress: Show a download progress bar.
        reset_head: Load the backbone only and start a fresh head where ``num_classes`` differs.
        num_classes: Head size; ``None`` is the weights' class count, or 10 without weights.
        shortcut: ``"A"`` (zero-padding) or ``"B"`` (projection) where a stage changes shape: each
            entry point's default is its architecture's.
        features_only: Return a :class:`FeatureListNet` of the levels ``out_indices`` names.
        out_indices: Feature levels for ``features_only`` (see ``FeatureInfo.indices``).
        **kwargs: Arguments of :class:`~resnetzoo.CifarResNet` (``in_chans``, ``shortcut``,
            ``drop_rate``, ``drop_path_rate``, ...).

    Raises:
        ArgumentError: If an argument is invalid or they contradict each other.
        resnetzoo.HubError: If the weights cannot be fetched or fail their checks.
    """
    arch = _ARCHITECTURES[name]
    if isinstance(pretrained, str):
        tag = check_str("pretrained", pretrained, accepted="True, False or a weights tag such as 'cifar10'")
        if weights is not None:
            raise ArgumentError(
                f"pretrained={pretrained!r} names weights and so does weights={weights!r}: pass one of them"
            )
        pretrained, weights = True, tag
    pretrained = check_bool("pretrained", pretrained)
    progress = check_bool("progress", progress)
    reset_head = check_bool("reset_head", reset_head)
    num_classes = check_int("num_classes", num_classes, minimum=0, none=True)
    features_only = check_bool("features_only", features_only)
    if out_indices is not None and not features_only:
        raise ArgumentError("out_indices only applies with features_only=True")
    kwargs = {"shortcut": shortcut, **kwargs}
    for key in _DROP_RATES:  # a rate of 0 is no rate, and is not recorded
        if key in kwargs:
            rate = check_number(key, kwargs.pop(key), minimum=0, maximum=1)
            if rate:
                kwargs[key] = rate

    def build(num_classes: int) -> CifarResNet:
        from .resnet import CifarResNet  # the entry points in .resnet call this builder

        model = CifarResNet(arch.block, arch.layers, arch.widths, num_classes=num_classes, **kwargs)
        # The one record of what the model is: the loaders replace what describes the weights, and keep
        # these arguments (CifarResNet.pretrained_cfg).
        model.pretrained_cfg = Weights(
            architecture=name,
            model_kwargs=kwargs,
            num_classes=num_classes,
            input_size=(model.in_chans, 32, 32),
        )
        return model

    if weights is None and not pretrained:
        if reset_head:
            raise ArgumentError(
                "reset_head=True only applies when loading weights (pretrained=True or weights=...)"
            )
        model = build(_DEFAULT_NUM_CLASSES if num_classes is None else num_classes)
    else:
        # models -> hub at call time only: the hub resolves the weights, builds through `build` on the
        # meta device and loads them.
        from ..hub.pretrained import build_with_weights

        model = build_with_weights(
            name, build, weights=weights, num_classes=num_classes, reset_head=reset_head, progress=progress
        )
    return FeatureListNet(model, out_indices) if features_only else model
