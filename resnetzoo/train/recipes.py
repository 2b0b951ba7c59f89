"""Named training recipes: a :class:`TrainConfig` each, with its source.

>>> from resnetzoo.recipes import get_recipe, list_recipes
>>> list_recipes()
['fast', 'long', 'paper', 'seed']
>>> get_recipe("fast", epochs=10).epochs
10

Every recipe uses random crops (4-pixel padding) and horizontal flips; ``fast`` adds cutout.
The data split is not part of a recipe: ``resnetzoo train`` holds out 10% of the training set
for validation (He et al. 2015 used 45k/5k).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass
from typing import Any

from .._validate import is_int
from ..data import AugmentConfig
from .config import TrainConfig

__all__ = ["Recipe", "describe_recipe", "epochs_for_iterations", "get_recipe", "list_recipes"]


@dataclass(frozen=True)
class Recipe:
    """A named configuration and where it comes from."""

    name: str  # what get_recipe() takes
    config: TrainConfig  # the settings
    summary: str  # one line: what it is for
    source: str  # the paper, code or measurement it reproduces


def epochs_for_iterations(iterations: int, train_size: int, batch_size: int) -> int:
    """Epochs that cover ``iterations`` optimizer steps (rounded up), as papers state lengths in steps.

    Example:
        >>> epochs_for_iterations(64_000, 45_000, 128)  # He et al. 2015: 64k steps on 45k images
        182
    """
    return math.ceil(iterations / math.ceil(train_size / batch_size))


# He et al. 2015 §4.2: 64k iterations on a 45k/5k split, batch 128, lr /10 at 32k and 48k.
_PAPER_STEPS_PER_EPOCH = math.ceil(45_000 / 128)  # 352

# He et al. 2015 §4.2's optimiser, which the seed article kept: SGD lr 0.1, momentum 0.9, weight decay
# 1e-4 on every weight (Caffe-era training decayed norms and biases too), batch 128.
_HE_2015_SGD: dict[str, Any] = {
    "batch_size": 128,
    "optimizer": "sgd",
    "lr": 0.1,
    "momentum": 0.9,
    "nesterov": False,
    "weight_decay": 1e-4,
    "decay_norm_and_bias": True,
}
# The modern runs (cifar10-fast, kuangliu): Nesterov SGD, weight decay 5e-4, mixed precision on a GPU,
# channels_last and flip test-time augmentation.
_MODERN_SGD: dict[str, Any] = {
    "optimizer": "sgd",
    "momentum": 0.9,
    "nesterov": True,
    "weight_decay": 5e-4,
    "amp": "auto",
    "channels_last": True,
    "tta": True,
}

_RECIPES = {
    r.name: r
    for r in (
        Recipe(
            "seed",
            TrainConfig(
                recipe="seed",
                epochs=100,
                **_HE_2015_SGD,  # the seed article: optim.SGD(model.parameters(), lr=0.1, weight_decay=1e-4)
                schedule="constant",
                amp="off",
                channels_last=False,
            ),
            "the seed article's loop on a correct ResNet: constant lr, fp32, 100 epochs",
            "the article resnetzoo grew from (ResNet实战: CIFAR-10数据集分类): SGD lr 0.1, momentum 0.9, "
            "wd 1e-4, batch 128, random crop + flip, 100 epochs, no schedule",
        ),
        Recipe(
            "paper",
            TrainConfig(
                recipe="paper",
                epochs=epochs_for_iterations(64_000, 45_000, 128),  # 182 epochs, 64,064 steps
                **_HE_2015_SGD,
                schedule="multistep",
                # Epochs of steps 32k and 48k.
                milestones=(32_000 / _PAPER_STEPS_PER_EPOCH, 48_000 / _PAPER_STEPS_PER_EPOCH),
                gamma=0.1,
                amp="off",
            ),
            "He et al. 2015's CIFAR schedule, for reproducing its Table 6 (ResNet-20 ... 110)",
            "He, Zhang, Ren, Sun 2015, 'Deep Residual Learning for Image Recognition', §4.2: SGD lr 0.1, "
            "momentum 0.9, wd 1e-4, batch 128, lr /10 at 32k and 48k iterations, stop at 64k, 45k/5k split, "
            "4-pixel pad + 32x32 crop + flip (ResNet-110's 0.01 warm-up to 400 steps is not included)",
        ),
        Recipe(
            "fast",
            TrainConfig(
                recipe="fast",
                epochs=26,
                batch_size=512,
                lr=0.2,
                **_MODERN_SGD,
                schedule="triangular",
                warmup=0.2,
                label_smoothing=0.2,
                augment=AugmentConfig(cutout=8),
            ),
            "about 94% on CIFAR-10 (90.7% flip-TTA on the JPEG copy) with ResNet-18 in 26 epochs",
            "the project's reference run (shared/data/README.md: ResNet-18, GPU-resident data, bf16, "
            "channels_last, batch 512, Nesterov SGD lr 0.2, wd 5e-4, triangular lr, crop + flip + cutout, "
            "26 epochs: 90.78% flip-TTA on the JPEG copy); triangular lr peaking at 20%, label smoothing "
            "0.2 and 8x8 cutout as in Page 2018, 'How to train your ResNet' (cifar10-fast)",
        ),
        Recipe(
            "long",
            TrainConfig(
                recipe="long",
                epochs=200,
                batch_size=128,
                lr=0.1,
                **_MODERN_SGD,
                schedule="cosine",
            ),
            "the long cosine run for the best accuracy (about 95.5% on CIFAR-10 with ResNet-18)",
            "kuangliu/pytorch-cifar (ResNet-18 95.4%): SGD lr 0.1, momentum 0.9, wd 5e-4, batch 128, "
            "cosine annealing over 200 epochs, crop + flip; Loshchilov & Hutter 2017 (SGDR) for the cosine",
        ),
    )
}


def list_recipes() -> list[str]:
    """Sorted names of the recipes."""
    return sorted(_RECIPES)


def describe_recipe(name: str) -> Recipe:
    """The :class:`Recipe` record (config, summary, source) of ``name``.

    Raises:
        ValueError: If there is no recipe of that name; the message lists them.
    """
    try:
        return _RECIPES[name]
    except KeyError:
        close = difflib.get_close_matches(name, _RECIPES, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"unknown recipe {name!r}; {hint}choose one of {list_recipes()}") from None


def get_recipe(name: str, **overrides: Any) -> TrainConfig:
    """The :class:`TrainConfig` of recipe ``name``, with ``overrides`` applied and validated.

    A recipe's lr milestones are points of its own length: with another ``epochs`` (and no
    ``milestones`` of your own) they move with it, so ``get_recipe("paper", epochs=10)`` still divides
    the lr by 10 at 50% and 75% of training, as He et al. do, instead of after its end.

    Args:
        name: One of :func:`list_recipes`.
        **overrides: Any :class:`TrainConfig` field, e.g. ``epochs=10, out_dir="runs/a"``.

    Raises:
        ValueError: If the recipe is unknown, an override is not a field, or a value is invalid.

    Example:
        >>> get_recipe("paper").milestones
        (90.9090909090909, 136.36363636363637)
        >>> [round(m, 2) for m in get_recipe("paper", epochs=10).milestones]  # 50% and 75% of 10 epochs
        [5.0, 7.49]
    """
    config = describe_recipe(name).config
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown TrainConfig field(s) {unknown}; see resnetzoo.TrainConfig")
    epochs = overrides.get("epochs")
    if config.milestones is not None and "milestones" not in overrides and is_int(epochs) and epochs > 0:
        overrides["milestones"] = tuple(m * epochs / config.epochs for m in config.milestones)
    return dataclasses.replace(config, **overrides)
