"""Network definitions and the model registry. Knows nothing about data or training."""

from .blocks import BasicBlock, Bottleneck, PreActBlock, PreActBottleneck
from .registry import create_model, list_models, register_model
from .resnet import (
    CifarResNet,
    preact_resnet18_cifar,
    preact_resnet110_cifar,
    preact_resnet164_cifar,
    resnet18_cifar,
    resnet20_cifar,
    resnet32_cifar,
    resnet34_cifar,
    resnet44_cifar,
    resnet50_cifar,
    resnet56_cifar,
    resnet101_cifar,
    resnet110_cifar,
    resnet152_cifar,
    resnet1202_cifar,
)
from .stats import count_flops, count_parameters

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "CifarResNet",
    "PreActBlock",
    "PreActBottleneck",
    "count_flops",
    "count_parameters",
    "create_model",
    "list_models",
    "preact_resnet18_cifar",
    "preact_resnet110_cifar",
    "preact_resnet164_cifar",
    "register_model",
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
