"""resnetzoo: residual networks for 32x32 images.

A CIFAR model zoo with pretrained weights loaded by name (verified, converted once, cached as
safetensors), a fast :class:`~resnetzoo.Trainer` and one-call :func:`~resnetzoo.fine_tune`; heatmaps
that explain a prediction (:func:`~resnetzoo.explain`), and smaller, faster models for the CPU
(:func:`~resnetzoo.quantize`, :func:`~resnetzoo.prune`, :func:`~resnetzoo.distill`).

Example:
    >>> import resnetzoo as rz
    >>> model = rz.create_model("resnet20_cifar")
    >>> rz.count_parameters(model)
    269722
"""

from . import data, recipes, train
from ._model_info import resolve_data_config
from ._version import __version__
from .errors import (
    ArgumentError,
    ArgumentTypeError,
    CheckpointError,
    ChecksumError,
    ConfigError,
    HubError,
    HubRequestError,
    NonFiniteLossError,
    ResnetzooError,
    RunFolderInUseError,
    WeightsNotPublishedError,
)
from .explain import Explanation, explain
from .export import export
from .hub import (
    LoadReport,
    from_pretrained,
    load_checkpoint,
    load_pretrained,
    push_to_hub,
    save_pretrained,
)
from .models import (
    BasicBlock,
    Bottleneck,
    PreActBlock,
    PreActBottleneck,
    Weights,
    count_flops,
    count_parameters,
    create_model,
    get_weights,
    list_models,
    list_pretrained,
    register_model,
    register_weights,
    resnet,
)
from .models.resnet import *  # noqa: F403  (CifarResNet and one factory per architecture: resnet.__all__)
from .predict import Prediction, predict
from .prune import prune
from .quantize import quantize
from .train import Callback, TrainConfig, Trainer, distill, fine_tune

__all__ = [
    "ArgumentError",
    "ArgumentTypeError",
    "BasicBlock",
    "Bottleneck",
    "Callback",
    "CheckpointError",
    "ChecksumError",
    "ConfigError",
    "Explanation",
    "HubError",
    "HubRequestError",
    "LoadReport",
    "NonFiniteLossError",
    "PreActBlock",
    "PreActBottleneck",
    "Prediction",
    "ResnetzooError",
    "RunFolderInUseError",
    "TrainConfig",
    "Trainer",
    "Weights",
    "WeightsNotPublishedError",
    "__version__",
    "count_flops",
    "count_parameters",
    "create_model",
    "data",
    "distill",
    "explain",
    "export",
    "fine_tune",
    "from_pretrained",
    "get_weights",
    "list_models",
    "list_pretrained",
    "load_checkpoint",
    "load_pretrained",
    "predict",
    "prune",
    "push_to_hub",
    "quantize",
    "recipes",
    "register_model",
    "register_weights",
    "resolve_data_config",
    "save_pretrained",
    "train",
]
__all__ += resnet.__all__  # CifarResNet and the factories
del resnet
