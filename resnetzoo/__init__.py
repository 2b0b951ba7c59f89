"""resnetzoo: residual networks for 32x32 images.

A CIFAR model zoo with pretrained weights from the Hugging Face Hub, a fast
:class:`~resnetzoo.Trainer` and one-call :func:`~resnetzoo.fine_tune`.

Example:
    >>> import resnetzoo as rz
    >>> model = rz.create_model("resnet20_cifar")
    >>> rz.count_parameters(model)
    269722
"""

from importlib.metadata import PackageNotFoundError, version

from . import recipes
from .models import (
    BasicBlock,
    Bottleneck,
    CifarResNet,
    PreActBlock,
    PreActBottleneck,
    count_flops,
    count_parameters,
    create_model,
    list_models,
    preact_resnet18_cifar,
    preact_resnet110_cifar,
    preact_resnet164_cifar,
    register_model,
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
from .train import Callback, TrainConfig, Trainer

try:
    __version__ = version("resnetzoo")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "Callback",
    "CifarResNet",
    "PreActBlock",
    "PreActBottleneck",
    "TrainConfig",
    "Trainer",
    "__version__",
    "count_flops",
    "count_parameters",
    "create_model",
    "list_models",
    "preact_resnet18_cifar",
    "preact_resnet110_cifar",
    "preact_resnet164_cifar",
    "recipes",
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
