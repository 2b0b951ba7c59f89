"""Importing other people's ResNet checkpoints: torchvision/timm, kuangliu, akamaster and chenyaofo layouts.

Every layout is renamed to resnetzoo's (= torchvision's) names and shape-checked key by key;
what does not map is reported by name. Files are read with safetensors or
``torch.load(weights_only=True)`` only.

Layouts:

- ``"resnetzoo"`` / ``"torchvision"``: resnetzoo, torchvision and timm ResNets (``conv1 bn1
  layer1..4 downsample fc``), e.g. timm-based CIFAR ResNet-18/34/50 with a 3x3 stem. An ImageNet
  7x7 stem is reported as a ``conv1.weight`` shape mismatch.
- ``"chenyaofo"``: chenyaofo/pytorch-cifar-models, torchvision names on 16/32/64-channel networks
  with projection shortcuts (resnetzoo's ``resnet20b_cifar`` ...).
- ``"kuangliu"``: kuangliu/pytorch-cifar (``{'net': state_dict, 'acc', 'epoch'}``, ``shortcut.0/1``
  for ``downsample.0/1``, ``linear`` for ``fc``).
- ``"akamaster"``: akamaster/pytorch_resnet_cifar10 (``{'state_dict', 'best_prec1'}``, the same
  names as kuangliu). Its option-A shortcut pads the new channels on *both* sides of the
  input (``planes // 4`` each), resnetzoo's after it; the channels of each stage are permuted
  to match, so the converted model computes the same function.

``module.`` (DataParallel/DDP), ``_orig_mod.`` (``torch.compile``) and ``model.`` (Lightning)
prefixes shared by every key are removed first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

import torch
from torch import nn

from ..errors import CheckpointError
from ..models import BasicBlock
from ..models.blocks import ZeroPadShortcut

__all__ = ["Layout", "convert_state_dict", "extract_state_dict"]

Layout = Literal["auto", "resnetzoo", "torchvision", "chenyaofo", "kuangliu", "akamaster"]
_LAYOUTS: tuple[str, ...] = get_args(Layout)

# Keys under which training scripts store the model's state dict, most specific first:
# akamaster/timm/Lightning ('state_dict'), kuangliu ('net'), common custom loops.
_CONTAINER_KEYS = ("state_dict", "net", "model", "model_state_dict", "model_state")
_WRAPPER_PREFIXES = ("module.", "_orig_mod.", "model.")


def extract_state_dict(obj: Any, source: str) -> dict[str, torch.Tensor]:
    """The flat ``{name: tensor}`` dict inside a checkpoint container, wrapper prefixes removed.

    Raises:
        CheckpointError: If ``obj`` holds no state dict; the message names ``source``.
    """
    return _strip_wrapper_prefixes(_find_state_dict(obj, source))


def _find_state_dict(obj: Any, source: str) -> dict[str, torch.Tensor]:
    for _ in range(len(_CONTAINER_KEYS) + 1):
        if not isinstance(obj, Mapping):
            raise CheckpointError(f"{source} holds a {type(obj).__name__}, not a state dict")
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            not_names = [repr(k) for k in obj if not isinstance(k, str)]
            if not_names:
                raise CheckpointError(
                    f"{source} is not a state dict: its keys {', '.join(not_names[:5])} are not "
                    "parameter names"
                )
            return dict(obj)
        inner = next((obj[k] for k in _CONTAINER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            raise CheckpointError(
                f"{source}: no state dict found; its top-level keys are {sorted(map(str, obj))[:10]} "
                f"(looked for a dict of tensors, or one under {', '.join(_CONTAINER_KEYS)})"
            )
        obj = inner
    raise CheckpointError(f"{source}: state dict nested too deeply")


def _strip_wrapper_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # Only a prefix that every key shares is a wrapper's; a partial match is a real name.
    stripped = True
    while stripped:
        stripped = False
        for prefix in _WRAPPER_PREFIXES:
            if state and all(k.startswith(prefix) for k in state):
                state = {k[len(prefix) :]: v for k, v in state.items()}
                stripped = True
    return state


def _is_cifar_style(state: Mapping[str, torch.Tensor]) -> bool:
    return any(k.startswith("linear.") or ".shortcut." in k for k in state)


def _rename_cifar_style(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    renamed = {}
    for key, value in state.items():
        key = key.replace(".shortcut.", ".downsample.")
        if key.startswith("linear."):
            key = "fc." + key[len("linear.") :]
        renamed[key] = value
    return renamed


def _permute_akamaster_channels(model: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Reorder channels so akamaster's centred option-A padding matches resnetzoo's trailing one.

    With ``o[:, j] = a[:, perm[j]]`` between our activations ``o`` and akamaster's ``a``: a
    block's first conv reads its input through the incoming permutation, its last conv and
    norm write through the outgoing one, and the head reads the last one. Where a block pads
    (akamaster: ``f = planes // 4`` zeros before the input channels, as many after; resnetzoo:
    all after), input channel ``j`` sits at ``f + perm_in[j]`` and our zero channels take
    akamaster's zero positions, in order.
    """
    state = dict(state)

    def take(key: str, index: torch.Tensor, dim: int) -> None:
        if key in state and state[key].shape[dim] == index.numel():  # otherwise the shape check reports it
            state[key] = state[key].index_select(dim, index)

    perm = torch.arange(model.conv1.out_channels)
    for name, block in model.named_modules():
        if not hasattr(block, "downsample"):  # not a residual block
            continue
        if not isinstance(block, BasicBlock):
            raise CheckpointError(
                f"{name}: the akamaster layout is for networks of post-activation basic blocks, "
                f"not {type(block).__name__}"
            )
        take(f"{name}.conv1.weight", perm, 1)
        if isinstance(block.downsample, ZeroPadShortcut):
            in_ch, out_ch = perm.numel(), block.conv2.out_channels
            front = out_ch // 4
            if in_ch + 2 * front != out_ch:
                raise CheckpointError(
                    f"{name}: akamaster's option A pads {front} channels on each side, which cannot "
                    f"widen {in_ch} to {out_ch} channels"
                )
            zeros = [*range(front), *range(front + in_ch, out_ch)]
            perm = torch.cat([perm + front, torch.tensor(zeros, dtype=perm.dtype)])
        elif block.downsample is not None:
            raise CheckpointError(
                f"{name}: the akamaster layout has option-A shortcuts only, this block projects"
            )
        take(f"{name}.conv2.weight", perm, 0)
        for param in ("weight", "bias", "running_mean", "running_var"):
            take(f"{name}.bn2.{param}", perm, 0)
    take("fc.weight", perm, 1)
    return state


def _has_option_a(model: nn.Module) -> bool:
    return any(isinstance(m, ZeroPadShortcut) for m in model.modules())


def convert_state_dict(
    model: nn.Module, state: Mapping[str, torch.Tensor], layout: Layout
) -> tuple[dict[str, torch.Tensor], str]:
    """Rename (and for akamaster, permute) a flat state dict into ``model``'s names.

    Args:
        model: The resnetzoo model the state is for; may live on the ``meta`` device.
        state: A flat state dict, as :func:`extract_state_dict` returns it.
        layout: The source layout, or ``"auto"`` to detect it (see :func:`load_checkpoint`).

    Returns:
        The converted state dict and the layout it was read as.

    Raises:
        ValueError: If ``layout`` is unknown.
        CheckpointError: If an akamaster checkpoint does not fit the model's blocks.
    """
    if layout not in _LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose one of {', '.join(_LAYOUTS)}")
    if layout == "auto":
        if not _is_cifar_style(state):
            layout = "resnetzoo"
        else:
            layout = "akamaster" if _has_option_a(model) else "kuangliu"
    state = dict(state)
    if layout in ("kuangliu", "akamaster"):
        state = _rename_cifar_style(state)
    if layout == "akamaster" and _has_option_a(model):
        state = _permute_akamaster_channels(model, state)
    return state, layout
