"""Structured channel pruning: a smaller dense network, not a mask, then a short fine-tune.

:func:`prune` removes whole channels with Torch-Pruning (Fang et al. 2023, "DepGraph: Towards Any
Structural Pruning"), which traces the network and removes each channel together with everything
that depends on it (the norm after it, the input channel of the next convolution). What is pruned
is the inside of every residual block, the output channels of each convolution before the block's
last one: the residual stream (the stem, the blocks' outputs, the shortcuts and the head) keeps its
width, so every addition still adds tensors of the same shape, also across the parameter-free
zero-padding shortcuts of option A, and the result is the same architecture with narrower blocks.
Li et al. 2017 ("Pruning Filters for Efficient ConvNets") prune ResNet-56 on CIFAR-10 the same
way, for the same reason.

Every block loses the same share of its inner channels (those of least L2 norm; Torch-Pruning's
group magnitude importance), step by step, until the FLOPs are down to the requested share.

Saving and loading back: the widths that remain are plain integers, recorded as the model's
``inner_channels`` (a keyword of every factory and of :class:`~resnetzoo.CifarResNet`), so
``save_pretrained`` writes them into ``config.json`` and ``from_pretrained`` rebuilds the pruned
network from them and loads its safetensors strictly: no pickled module, no code, is ever stored
or loaded, and a loader without Torch-Pruning installed reads it.
"""

from __future__ import annotations

import copy
import importlib
import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from .._model_info import model_input_size, pretrained_cfg
from .._validate import check_fraction, check_int
from ..models import count_flops, count_parameters
from ..models.registry import get_model_factory
from ..train import Callback, TrainConfig, fine_tune
from ._checks import check_loaders, check_mismatch_choice

__all__ = ["inner_channels", "prune"]

logger = logging.getLogger(__name__)

_INSTALL_HINT = "pip install 'resnetzoo[compress]'"
# Each block keeps at least this share of its inner channels: a block pruned to nothing would leave
# only its shortcut, a change of architecture that the FLOPs target should not make by accident.
_MAX_PRUNING_RATIO = 0.9
# The pruning ratio is chosen on a grid of this many steps up to _MAX_PRUNING_RATIO (1% each): the
# smallest one that meets the FLOPs target.
_STEPS = 90


def _require_torch_pruning() -> Any:
    try:
        return importlib.import_module("torch_pruning")
    except ImportError as err:
        raise ImportError(
            f"resnetzoo.prune needs the 'torch-pruning' package; install it with {_INSTALL_HINT}"
        ) from err


def inner_channels(model: nn.Module) -> list[list[list[int]]]:
    """The widths of every block's inner convolutions, per stage, per block (``model_kwargs`` layout).

    Raises:
        TypeError: If the model does not name its stages (as :class:`~resnetzoo.CifarResNet` does).
    """
    return [
        [[conv.out_channels for conv in _inner_convs(block)] for block in stage] for stage in _stages(model)
    ]


def _keep(widths: list[list[list[int]]], ratio: float) -> list[list[list[int]]]:
    """The widths Torch-Pruning leaves when it prunes ``ratio`` of each: it keeps ``int(w * (1 - ratio))``."""
    return [[[max(1, int(w * (1 - ratio))) for w in block] for block in stage] for stage in widths]


def _stages(model: nn.Module) -> list[nn.Module]:
    if not hasattr(model, "stages"):
        raise TypeError(
            f"prune needs a resnetzoo network that names its stages (model.stages); {type(model).__name__} "
            "does not"
        )
    return list(model.stages)


def _inner_convs(block: nn.Module) -> list[nn.Conv2d]:
    # Every block of the zoo names its convolutions conv1, conv2[, conv3]; the last one writes the residual.
    count = getattr(block, "num_inner", None)
    if count is None:
        raise TypeError(f"{type(block).__name__} is not a resnetzoo residual block (it has no num_inner)")
    return [getattr(block, f"conv{i}") for i in range(1, count + 1)]


def prune(
    model: nn.Module,
    train_loader: Iterable[Any] | None = None,
    val_loader: Iterable[Any] | None = None,
    *,
    flops_ratio: float = 0.5,
    epochs: int = 3,
    lr: float = 0.01,
    config: TrainConfig | None = None,
    callbacks: Sequence[Callback] = (),
    resume: str | None = None,
    normalisation_mismatch: str = "refuse",
) -> nn.Module:
    """Prune a resnetzoo model's channels to ``flops_ratio`` of its FLOPs, then fine-tune it briefly.

    The caller's model is not changed. The result is a new model of the same registered
    architecture with narrower blocks (``model.model_kwargs["inner_channels"]``): an ordinary dense
    network that runs faster wherever the original runs, exports to ONNX, and saves and loads with
    :func:`~resnetzoo.save_pretrained` / :func:`~resnetzoo.from_pretrained`.

    After pruning, the network is fine-tuned for ``epochs`` epochs with
    :func:`~resnetzoo.fine_tune` (the head is kept; one-cycle schedule peaking at ``lr``, the same
    lr everywhere), selecting the best validation epoch when ``val_loader`` is given. Its
    ``pretrained_cfg`` names the weights it was made from (``base_model``), how (``notes``), and
    its new ``num_params`` and ``flops``; measure its accuracy and pass it to
    ``save_pretrained(metrics=...)``. The loaders must be normalised as the model's record says,
    which the pruned model's record keeps: a loader that tells another normalisation (a
    :class:`~resnetzoo.data.DeviceLoader`'s ``mean``/``std``) is refused before anything is pruned
    (see :func:`~resnetzoo.quantize` for what is compared).

    Args:
        model: A model built by a registered factory (``rz.create_model``, ``from_pretrained``).
        train_loader: Batches ``(images, labels)`` normalised as the model expects, for the
            fine-tune; only needed when ``epochs > 0``.
        val_loader: Validation batches for selecting the fine-tune's best epoch; None keeps the last.
        flops_ratio: The share of the original forward FLOPs to keep, in (0, 1): 0.5 halves them.
        epochs: Fine-tuning epochs after pruning; 0 returns the pruned network untrained.
        lr: Peak learning rate of the fine-tune (SGD by default; the network is already trained,
            so lower than for training from scratch).
        config: The fine-tune's :class:`~resnetzoo.TrainConfig` (device, batch size, out_dir for
            checkpoints, ...); see :func:`~resnetzoo.fine_tune`.
        callbacks: Extra callbacks for the fine-tune.
        resume: ``"auto"`` continues an interrupted fine-tune from ``config.out_dir`` (pruning is
            deterministic, so it gives the same network again).
        normalisation_mismatch: ``"refuse"`` (the default) raises when a loader is normalised
            otherwise than the model's record; ``"allow"`` skips that comparison.

    Returns:
        The pruned (and fine-tuned) model, in training mode, on the fine-tune's device (the CPU
        when ``epochs`` is 0).

    Raises:
        ImportError: If Torch-Pruning is not installed (``pip install 'resnetzoo[compress]'``).
        TypeError: If the model was not built by a registered factory or is not a resnetzoo network.
        ValueError: If ``flops_ratio`` is not in (0, 1), ``epochs`` is negative, ``epochs > 0``
            without a ``train_loader``, or the target cannot be reached with each block keeping
            10% of its inner channels (the message gives the smallest ratio that can).
        ArgumentError: (a ``ValueError``) If a loader is normalised otherwise than the model's record
            says, unless ``normalisation_mismatch="allow"``.

    Example:
        >>> import resnetzoo as rz
        >>> small = rz.prune(rz.resnet56_cifar(), flops_ratio=0.5, epochs=0)
        >>> rz.count_flops(small) <= 0.5 * rz.count_flops(rz.resnet56_cifar())
        True
    """
    tp = _require_torch_pruning()
    name = getattr(model, "model_name", None)
    kwargs = getattr(model, "model_kwargs", None)
    if not isinstance(model, nn.Module) or name is None or not kwargs:
        raise TypeError(
            f"prune needs a model built by a registered factory (with model_name and model_kwargs, so that "
            f"the pruned network can be rebuilt and saved); got a {type(model).__name__} without them: "
            "build it with resnetzoo.create_model(...)"
        )
    flops_ratio = check_fraction(
        "flops_ratio",
        flops_ratio,
        exclusive_min=True,
        exclusive_max=True,
        accepted="a number in (0, 1), the share of FLOPs to keep (e.g. 0.5)",
    )
    epochs = check_int("epochs", epochs, minimum=0)
    if epochs > 0 and train_loader is None:
        raise ValueError("fine-tuning after pruning needs a train_loader; pass one, or epochs=0 to skip it")
    if epochs > 0:  # the fine-tune trains and selects on them; the pruned model's record keeps the model's
        check_loaders(
            pretrained_cfg(model),
            {"train_loader": train_loader, "val_loader": val_loader},
            mismatch=check_mismatch_choice(normalisation_mismatch),
        )

    input_size = model_input_size(model)
    original = copy.deepcopy(model).to(device="cpu", dtype=torch.float32).eval()
    base_flops = count_flops(original, input_size)
    full = inner_channels(original)
    factory = get_model_factory(name)

    def flops_at(ratio: float) -> int:  # counted on the meta device: shapes only, no memory
        with torch.device("meta"):
            return count_flops(factory(**{**kwargs, "inner_channels": _keep(full, ratio)}), input_size)

    # The FLOPs fall as the pruning ratio grows: the smallest ratio on a grid of 1/_STEPS that meets the
    # target, by bisection.
    low, high = 0, _STEPS
    if flops_at(_MAX_PRUNING_RATIO) > flops_ratio * base_flops:
        reachable = flops_at(_MAX_PRUNING_RATIO) / base_flops
        raise ValueError(
            f"cannot prune {name} to {flops_ratio:.0%} of its FLOPs: with every block keeping "
            f"{1 - _MAX_PRUNING_RATIO:.0%} of its inner channels it still has {reachable:.1%}; "
            f"ask for flops_ratio >= {math.ceil(100 * reachable) / 100:.2f}"
        )
    while high - low > 1:
        middle = (low + high) // 2
        if flops_at(_MAX_PRUNING_RATIO * middle / _STEPS) <= flops_ratio * base_flops:
            high = middle
        else:
            low = middle
    ratio = _MAX_PRUNING_RATIO * high / _STEPS

    working = copy.deepcopy(original)
    inner = [conv for stage in _stages(working) for block in stage for conv in _inner_convs(block)]
    inner_ids = {id(conv) for conv in inner}
    # Everything that writes the residual stream (stem, last conv of a block, projections, head) is
    # left whole; Torch-Pruning then only forms the groups that start at an inner convolution.
    ignored = [
        m for m in working.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) and id(m) not in inner_ids
    ]
    pruner = tp.pruner.MetaPruner(
        working,
        torch.zeros((1, *input_size)),
        importance=tp.importance.MagnitudeImportance(p=2),  # group L2 norm (named so since 1.5)
        pruning_ratio=ratio,
        ignored_layers=ignored,
    )
    with torch.no_grad():
        pruner.step()
    widths = inner_channels(working)
    if widths != _keep(full, ratio):  # Torch-Pruning rounds as _keep does; a new version might not
        raise RuntimeError(
            f"Torch-Pruning {tp.__version__} kept other widths than planned ({widths} instead of "
            f"{_keep(full, ratio)}); please report this as a bug"
        )
    flops = flops_at(ratio)

    # The same architecture, rebuilt from plain integers and loaded strictly: what from_pretrained will
    # do with the saved config, checked here once.
    pruned = factory(**{**kwargs, "inner_channels": widths})
    pruned.load_state_dict(working.state_dict(), strict=True)
    cfg = pretrained_cfg(model)
    logger.info(
        "pruned %s to %.1f%% of its FLOPs (%s -> %s parameters), %.1f%% of each block's inner channels",
        name,
        100 * flops / base_flops,
        f"{count_parameters(original):,}",
        f"{count_parameters(pruned):,}",
        100 * ratio,
    )
    if epochs > 0:
        pruned = fine_tune(
            pruned,
            train_loader,  # type: ignore[arg-type]  (checked above)
            val_loader=val_loader,
            epochs=epochs,
            freeze_epochs=0,
            lr=lr,
            lr_mult=1.0,
            config=config,
            callbacks=callbacks,
            resume=resume,
        )
    if cfg is not None:
        what = cfg.name if cfg.tag is not None else (cfg.source or cfg.base_model or "random weights")
        pruned.pretrained_cfg = cfg.derived(
            num_params=count_parameters(pruned),
            flops=int(count_flops(pruned, input_size)),
            notes=(
                f"{what} with {100 * (1 - flops / base_flops):.0f}% of its FLOPs pruned: structured channel "
                "pruning inside every residual block (Torch-Pruning, group L2 magnitude), then fine-tuned "
                f"for {epochs} epoch(s) at lr {lr:g}"
            ),
        )
    return pruned
