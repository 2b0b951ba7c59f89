"""resnetzoo: residual networks for 32x32 images.

A CIFAR model zoo with pretrained weights from the Hugging Face Hub, a fast
:class:`~resnetzoo.Trainer` and one-call :func:`~resnetzoo.fine_tune`.

Example:
    >>> import resnetzoo as rz
    >>> model = rz.create_model("resnet20_cifar")
    >>> rz.count_parameters(model)
    269722
"""

from . import data, recipes, train
from ._version import __version__
from .errors import (
    CheckpointError,
    ChecksumError,
    ConfigError,
    HubError,
    HubRequestError,
    NonFiniteLossError,
    ResnetzooError,
    WeightsNotPublishedError,
)
from .export import export
from .hub import (
    LoadReport,
    Weights,
    from_pretrained,
    get_weights,
    list_pretrained,
    load_checkpoint,
    load_pretrained,
    push_to_hub,
    save_pretrained,
)
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
from .predict import Prediction, predict
from .train import Callback, TrainConfig, Trainer, fine_tune

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "Callback",
    "CheckpointError",
    "ChecksumError",
    "CifarResNet",
    "ConfigError",
    "HubError",
    "HubRequestError",
    "LoadReport",
    "NonFiniteLossError",
    "PreActBlock",
    "PreActBottleneck",
    "Prediction",
    "ResnetzooError",
    "TrainConfig",
    "Trainer",
    "Weights",
    "WeightsNotPublishedError",
    "__version__",
    "count_flops",
    "count_parameters",
    "create_model",
    "data",
    "export",
    "fine_tune",
    "from_pretrained",
    "get_weights",
    "list_models",
    "list_pretrained",
    "load_checkpoint",
    "load_pretrained",
    "preact_resnet18_cifar",
    "preact_resnet110_cifar",
    "preact_resnet164_cifar",
    "predict",
    "push_to_hub",
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
    "save_pretrained",
    "train",
]
