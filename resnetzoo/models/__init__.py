"""Network definitions, the weights records and the registry. Knows nothing about data loading or training."""

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

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "Metric",
    "ModelSpec",
    "PreActBlock",
    "PreActBottleneck",
    "Weights",
    "WeightsFile",
    "count_flops",
    "count_parameters",
    "create_model",
    "get_weights",
    "list_models",
    "list_pretrained",
    "register_model",
    "register_weights",
    "registry_scope",
]
__all__ += resnet.__all__  # CifarResNet and the factories
