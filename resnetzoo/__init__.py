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

from . import compress, data, recipes, train
from ._deprecation import alias_module
from ._model_info import resolve_data_config
from ._version import __version__
from .compress import distill, prune, quantize
from .errors import (
    ArgumentError,
    ArgumentTypeError,
    CheckpointError,
    ChecksumError,
    ConfigError,
    HubError,
    HubRequestError,
    ImageDecodeError,
    NonFiniteLossError,
    ResnetzooError,
    RunFolderInUseError,
    WeightsNotPublishedError,
)
from .explain import Explanation, explain
from .export import export
from .hub import (
    LoadReport,
    ModelSource,
    from_pretrained,
    load_checkpoint,
    load_pretrained,
    push_to_hub,
    resolve_source,
    save_pretrained,
)
from .models import (
    BasicBlock,
    Bottleneck,
    Metric,
    ModelSpec,
    PreActBlock,
    PreActBottleneck,
    Weights,
    WeightsFile,
    count_flops,
    count_parameters,
    create_model,
    get_weights,
    list_models,
    list_pretrained,
    register_model,
    register_weights,
    registry_scope,
    resnet,
)
from .models.resnet import *  # noqa: F403  (CifarResNet and one factory per architecture: resnet.__all__)
from .predict import Prediction, predict
from .train import Callback, TrainConfig, Trainer, fine_tune

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
    "ImageDecodeError",
    "LoadReport",
    "Metric",
    "ModelSource",
    "ModelSpec",
    "NonFiniteLossError",
    "PreActBlock",
    "PreActBottleneck",
    "Prediction",
    "ResnetzooError",
    "RunFolderInUseError",
    "TrainConfig",
    "Trainer",
    "Weights",
    "WeightsFile",
    "WeightsNotPublishedError",
    "__version__",
    "compress",
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
    "registry_scope",
    "resolve_data_config",
    "resolve_source",
    "save_pretrained",
    "train",
]
__all__ += resnet.__all__  # CifarResNet and the factories
del resnet

# The modules that moved into resnetzoo.compress in 0.2 keep their old import paths for a release.
alias_module("resnetzoo.quantize", "resnetzoo.compress.quantize", since="0.2", removed_in="0.3")
alias_module("resnetzoo.prune", "resnetzoo.compress.prune", since="0.2", removed_in="0.3")
alias_module("resnetzoo.train.distill", "resnetzoo.compress.distill", since="0.2", removed_in="0.3")
del alias_module
