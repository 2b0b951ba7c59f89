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

# Every public name is imported on first use (PEP 562), so that ``import resnetzoo`` and the command
# line's ``--version`` and ``--help`` do not import torch; ``resnetzoo.<name>`` is the same object as
# before. The errors and the version are light and imported now.
import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from . import errors
from ._deprecation import alias_module
from ._version import __version__
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

if TYPE_CHECKING:  # what type checkers and IDEs see: the names below, bound as they were eagerly
    from . import compress, data, plot, recipes, train
    from ._model_info import resolve_data_config
    from .compress import distill, prune, quantize
    from .evaluation import Evaluation, evaluate
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
    )
    from .models.resnet import (
        CifarResNet,
        preact_resnet18_cifar,
        preact_resnet110_cifar,
        preact_resnet164_cifar,
        resnet18_cifar,
        resnet20_cifar,
        resnet20b_cifar,
        resnet32_cifar,
        resnet32b_cifar,
        resnet34_cifar,
        resnet44_cifar,
        resnet44b_cifar,
        resnet50_cifar,
        resnet56_cifar,
        resnet56b_cifar,
        resnet101_cifar,
        resnet110_cifar,
        resnet152_cifar,
        resnet1202_cifar,
    )
    from .predict import Prediction, predict
    from .train import Callback, TrainConfig, Trainer, fine_tune

# Where each lazily imported public name lives, by module: a subpackage is the module itself, any other
# name an attribute of its module. ``__all__`` and the subpackages' own ``__all__`` are built from this
# table (a subpackage cannot be imported here to read its ``__all__``: that would import torch).
_SUBPACKAGES = ("compress", "data", "plot", "recipes", "train")
_EXPORTS: dict[str, tuple[str, ...]] = {
    ".compress": ("distill", "prune", "quantize"),
    ".evaluation": ("Evaluation", "evaluate"),
    ".explain": ("Explanation", "explain"),
    ".export": ("export",),
    ".hub": (
        "LoadReport",
        "ModelSource",
        "from_pretrained",
        "load_checkpoint",
        "load_pretrained",
        "push_to_hub",
        "resolve_source",
        "save_pretrained",
    ),
    ".models.blocks": ("BasicBlock", "Bottleneck", "PreActBlock", "PreActBottleneck"),
    ".models.registry": (
        "create_model",
        "get_weights",
        "list_models",
        "list_pretrained",
        "register_model",
        "register_weights",
        "registry_scope",
    ),
    ".models.stats": ("count_flops", "count_parameters"),
    ".models.weights": ("Metric", "ModelSpec", "Weights", "WeightsFile"),
    # resnetzoo.models.resnet.__all__, one per registered architecture (a test compares them)
    ".models.resnet": (
        "CifarResNet",
        "preact_resnet110_cifar",
        "preact_resnet164_cifar",
        "preact_resnet18_cifar",
        "resnet101_cifar",
        "resnet110_cifar",
        "resnet1202_cifar",
        "resnet152_cifar",
        "resnet18_cifar",
        "resnet20_cifar",
        "resnet20b_cifar",
        "resnet32_cifar",
        "resnet32b_cifar",
        "resnet34_cifar",
        "resnet44_cifar",
        "resnet44b_cifar",
        "resnet50_cifar",
        "resnet56_cifar",
        "resnet56b_cifar",
    ),
    ".predict": ("Prediction", "predict"),
    "._model_info": ("resolve_data_config",),
    ".train": ("Callback", "TrainConfig", "Trainer", "fine_tune"),
}
_FACTORIES = _EXPORTS[".models.resnet"]
_LAZY = {name: module for module, names in _EXPORTS.items() for name in names}
# The errors are light and imported above: all of them but DatasetError, which resnetzoo.data exports.
_EAGER = (*(name for name in errors.__all__ if name != "DatasetError"), "__version__")
__all__ = sorted([*_EAGER, *_SUBPACKAGES, *_LAZY])


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        value = importlib.import_module(f".{name}", __name__)
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """The package's module type: ``import resnetzoo.export`` (the module) does not rebind
    ``resnetzoo.export`` (the function), as it would not have after the eager ``from .export import
    export``; the same for ``explain`` and ``predict``."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in _LAZY and _LAZY[name] == f".{name}":
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

# The modules that moved into resnetzoo.compress in 0.2 keep their old import paths for a release.
alias_module("resnetzoo.quantize", "resnetzoo.compress.quantize", since="0.2", removed_in="0.3")
alias_module("resnetzoo.prune", "resnetzoo.compress.prune", since="0.2", removed_in="0.3")
alias_module("resnetzoo.train.distill", "resnetzoo.compress.distill", since="0.2", removed_in="0.3")
del alias_module
