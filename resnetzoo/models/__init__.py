"""Network definitions, the weights records and the registry. Knows nothing about data loading or training."""

from .. import _EXPORTS
from . import resnet
from .blocks import BasicBlock, Bottleneck, PreActBlock, PreActBottleneck
from .registry import (
    create_model,
    get_weights,
    list_models,
    list_pretrained,
    register_model,
    register_weights,
    registry_scope,
)
from .resnet import *  # noqa: F403  (CifarResNet and one factory per architecture: resnet.__all__)
from .stats import count_flops, count_parameters
from .weights import Metric, ModelSpec, Weights, WeightsFile

# What resnetzoo re-exports from the modules of this package: its lazy table is the one list (it
# cannot import this package to read an __all__ without importing torch).
__all__ = [name for module, names in _EXPORTS.items() if module.startswith(".models.") for name in names]
