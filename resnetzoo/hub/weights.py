"""Weights records: which published files belong to which model, pinned by revision and sha256.

A record is the library's promise about a Hub repo ``resnetzoo/<model>.<tag>``: the commit to
download, the checksum the file must have, and the metadata (classes, normalisation, metrics)
needed to use it. Records of weights that nothing has produced yet are kept with
``published=False``; asking for them raises :class:`WeightsNotPublishedError` with the command
that produces them, instead of a 404 from the Hub.

To publish (see ``docs/hub.md``): train with a recipe, push the run, then fill ``revision``,
``sha256`` and ``metrics`` in below and flip ``published=True`` in a release.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..data.constants import (
    CIFAR10_CLASSES,
    CIFAR10_MEAN,
    CIFAR10_STD,
    CIFAR100_CLASSES,
    CIFAR100_MEAN,
    CIFAR100_STD,
)
from ..errors import WeightsNotPublishedError
from ..models.registry import get_model_factory, split_model_name
from .download import check_repo_file

__all__ = [
    "DEFAULT_RECIPE",
    "DEFAULT_TAG",
    "Weights",
    "dataset_categories",
    "get_weights",
    "list_pretrained",
    "require_published",
    "resolve_weights",
]

DEFAULT_TAG = "cifar10"  # what pretrained=True loads
DEFAULT_RECIPE = "long"  # the training recipe planned for the records not yet published
HUB_ORG = "resnetzoo"  # the Hub organisation that holds the published repos

_COMMIT_HASH = re.compile(r"[0-9a-f]{40}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Weights:
    """One set of published (or planned) weights for a registered model.

    Args:
        model_name: The registered architecture the weights fit (``"resnet18_cifar"``).
        tag: Short name of the weights within the model (``"cifar10"``).
        dataset: The training data set (``"cifar10"`` or ``"cifar100"``).
        repo_id: The Hub repo holding the files, ``"resnetzoo/<model>.<tag>"``.
        num_classes: Size of the classifier head the weights carry.
        categories: Class names in logit order.
        mean: Per-channel mean the inputs were normalised with (images scaled to [0, 1]).
        std: Per-channel standard deviation the inputs were normalised with.
        input_size: ``(channels, height, width)`` of the training images.
        filename: The weights file in the repo (safetensors; legacy pickles load with
            ``weights_only=True``).
        revision: The commit hash the record pins; ``None`` until published.
        sha256: Hex sha256 of ``filename`` at ``revision``; ``None`` until published.
        metrics: Evaluation results, in percent: ``"top1"`` on the original test split,
            ``"top1_jpeg"`` on the JPEG copy. Empty until published.
        recipe: The training recipe that produces the weights (``resnetzoo train --recipe``).
        license: SPDX-style license id of the weights.
        published: Whether the files exist on the Hub at ``revision`` with ``sha256``.

    Raises:
        ValueError: If a published record lacks a full commit hash or sha256, or ``repo_id`` or
            ``filename`` could address a path outside the repo (``..``, an absolute path).
    """

    model_name: str
    tag: str
    dataset: str
    repo_id: str
    num_classes: int
    categories: tuple[str, ...]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    input_size: tuple[int, int, int] = (3, 32, 32)
    filename: str = "model.safetensors"
    revision: str | None = None
    sha256: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    recipe: str = DEFAULT_RECIPE
    license: str = "apache-2.0"
    published: bool = False

    def __post_init__(self) -> None:
        check_repo_file(self.repo_id, self.filename)
        # A published record is what makes downloads reproducible: a branch name can move and
        # a file without a checksum cannot be verified, so both must be pinned exactly.
        if self.published and not (self.revision and _COMMIT_HASH.fullmatch(self.revision)):
            raise ValueError(
                f"published weights {self.name!r} need a 40-hex commit hash, got {self.revision!r}"
            )
        if self.published and not (self.sha256 and _SHA256.fullmatch(self.sha256)):
            raise ValueError(f"published weights {self.name!r} need a 64-hex sha256, got {self.sha256!r}")

    @property
    def name(self) -> str:
        """The name ``create_model`` accepts: ``"<model>.<tag>"``."""
        return f"{self.model_name}.{self.tag}"

    @property
    def train_command(self) -> str:
        """The shell commands that train and publish these weights."""
        run = f"runs/{self.name}"
        return (
            f"resnetzoo train --model {self.model_name} --data {self.dataset} --recipe {self.recipe} "
            f"--out {run} && resnetzoo push {run} --repo-id {self.repo_id}"
        )


# dataset -> (class names, mean, std) of the weights trained on it.
_DATASET_META: dict[str, tuple[tuple[str, ...], tuple[float, float, float], tuple[float, float, float]]] = {
    "cifar10": (CIFAR10_CLASSES, CIFAR10_MEAN, CIFAR10_STD),
    "cifar100": (CIFAR100_CLASSES, CIFAR100_MEAN, CIFAR100_STD),
}


def dataset_categories(dataset: str | None) -> tuple[str, ...] | None:
    """The class names of a data set resnetzoo knows (``"cifar10"``, ``"cifar100"``), else ``None``."""
    meta = _DATASET_META.get(dataset or "")
    return meta[0] if meta else None


def _planned(model_name: str, dataset: str) -> Weights:
    """The record of not-yet-published weights of ``model_name`` trained on ``dataset``."""
    categories, mean, std = _DATASET_META[dataset]
    return Weights(
        model_name=model_name,
        tag=dataset,
        dataset=dataset,
        repo_id=f"{HUB_ORG}/{model_name}.{dataset}",
        num_classes=len(categories),
        categories=categories,
        mean=mean,
        std=std,
    )


# model name -> {tag: record}. Nothing is trained yet, so every record is unpublished and has no
# revision, checksum or metrics: those are filled in from the pushed run, never guessed. To
# publish one, write e.g. ``replace(_planned("resnet18_cifar", "cifar10"), revision=..., sha256=...,
# metrics={"top1": ..., "top1_jpeg": ...}, published=True)`` (dataclasses.replace).
_PRETRAINED: dict[str, dict[str, Weights]] = {
    "resnet18_cifar": {
        "cifar10": _planned("resnet18_cifar", "cifar10"),
        "cifar100": _planned("resnet18_cifar", "cifar100"),
    },
    "resnet34_cifar": {"cifar10": _planned("resnet34_cifar", "cifar10")},
    "resnet50_cifar": {
        "cifar10": _planned("resnet50_cifar", "cifar10"),
        "cifar100": _planned("resnet50_cifar", "cifar100"),
    },
    "resnet101_cifar": {"cifar10": _planned("resnet101_cifar", "cifar10")},
    "resnet152_cifar": {"cifar10": _planned("resnet152_cifar", "cifar10")},
    "resnet20_cifar": {"cifar10": _planned("resnet20_cifar", "cifar10")},
    "resnet32_cifar": {"cifar10": _planned("resnet32_cifar", "cifar10")},
    "resnet44_cifar": {"cifar10": _planned("resnet44_cifar", "cifar10")},
    "resnet56_cifar": {
        "cifar10": _planned("resnet56_cifar", "cifar10"),
        "cifar100": _planned("resnet56_cifar", "cifar100"),
    },
    "resnet110_cifar": {
        "cifar10": _planned("resnet110_cifar", "cifar10"),
        "cifar100": _planned("resnet110_cifar", "cifar100"),
    },
    "resnet1202_cifar": {"cifar10": _planned("resnet1202_cifar", "cifar10")},
    "preact_resnet18_cifar": {
        "cifar10": _planned("preact_resnet18_cifar", "cifar10"),
        "cifar100": _planned("preact_resnet18_cifar", "cifar100"),
    },
    "preact_resnet110_cifar": {"cifar10": _planned("preact_resnet110_cifar", "cifar10")},
    "preact_resnet164_cifar": {"cifar10": _planned("preact_resnet164_cifar", "cifar10")},
}


def list_pretrained(pattern: str | None = None, *, published_only: bool = False) -> list[str]:
    """Sorted ``"<model>.<tag>"`` names of the weights records, optionally fnmatch-filtered.

    Args:
        pattern: An fnmatch pattern such as ``"resnet56*"`` or ``"*.cifar100"``.
        published_only: List only the weights that can be downloaded now.

    Example:
        >>> list_pretrained("resnet56*")
        ['resnet56_cifar.cifar10', 'resnet56_cifar.cifar100']
    """
    names = sorted(
        w.name for tags in _PRETRAINED.values() for w in tags.values() if w.published or not published_only
    )
    return names if pattern is None else fnmatch.filter(names, pattern)


def _tags_of(model_name: str) -> dict[str, Weights]:
    get_model_factory(model_name)  # raises a ValueError suggesting close names for an unknown model
    return _PRETRAINED.get(model_name, {})


def resolve_weights(model_name: str, weights: str | Weights | None) -> Weights:
    """The record that ``weights`` (a tag, a record, or ``None`` for the default) means for a model.

    Args:
        model_name: A registered model name without a tag.
        weights: A tag such as ``"cifar100"``, a full name ``"resnet56_cifar.cifar100"``, a
            :class:`Weights` record, or ``None`` for the model's default weights.

    Raises:
        ValueError: If the model is unknown, the tag does not exist for it (the message lists
            the tags that do), or a record belongs to another architecture.
    """
    if isinstance(weights, Weights):
        if weights.model_name != model_name:
            raise ValueError(
                f"weights {weights.name!r} are for {weights.model_name!r} and cannot load into {model_name!r}"
            )
        return weights
    tags = _tags_of(model_name)
    if weights is not None and "." in weights:
        other_model, tag = split_model_name(weights)
        if other_model != model_name:
            raise ValueError(
                f"weights {weights!r} are for {other_model!r} and cannot load into {model_name!r}"
            )
    else:
        tag = weights or DEFAULT_TAG
    try:
        return tags[tag]
    except KeyError:
        available = ", ".join(repr(t) for t in sorted(tags)) or "none"
        close = difflib.get_close_matches(tag, tags, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(
            f"unknown weights {tag!r} for {model_name!r}; {hint}available: {available} "
            "(see resnetzoo.list_pretrained())"
        ) from None


def get_weights(name: str) -> Weights:
    """The record called ``name``: ``"resnet56_cifar.cifar100"``, or ``"resnet56_cifar"`` for the default.

    Raises:
        ValueError: If the model or tag is unknown; the message lists what exists.
    """
    model_name, tag = split_model_name(name)
    return resolve_weights(model_name, tag)


def require_published(weights: Weights) -> None:
    """Raise unless ``weights`` can be downloaded.

    Raises:
        WeightsNotPublishedError: If the record is not published; the message gives the
            command that produces the weights.
    """
    if not weights.published:
        raise WeightsNotPublishedError(
            f"weights {weights.name!r} are not published yet: no trained checkpoint has been pushed to "
            f"{weights.repo_id!r}. Train and publish them on a GPU with `{weights.train_command}`, or load "
            "your own with resnetzoo.from_pretrained(...) or resnetzoo.load_checkpoint(...). "
            f"Published weights: {', '.join(list_pretrained(published_only=True)) or 'none yet'}."
        )
