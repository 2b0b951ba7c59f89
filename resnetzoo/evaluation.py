"""What a model gets right and wrong on a data set: per-image results, confusion matrix, per-class accuracy.

:func:`evaluate` runs the :class:`~resnetzoo.Trainer`'s one evaluation loop (the one behind
``Trainer.validate`` and ``Trainer.test``, so ``evaluate(model, data).top1 == Trainer(model).test(loader)
["top1"]``) and keeps what it computes per image: the probabilities, the top-1 prediction, the label and,
if asked, the penultimate features (the pooled input of the classifier, for an embedding).

Example:
    >>> import resnetzoo as rz
    >>> result = rz.evaluate(rz.resnet20_cifar(), "sample")  # doctest: +SKIP
    >>> result.top1, result.confusion.shape, result.per_class_accuracy["cat"]  # doctest: +SKIP
    (0.101, torch.Size([10, 10]), 0.0)
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ._files import atomic_write
from ._model_info import (
    eval_mode,
    model_categories,
    model_input_size,
    normalisation,
    on_device,
    resolve_data_config,
)
from ._validate import check_bool, check_choice, check_device, check_instance, check_int
from .data import DeviceLoader, TensorImageDataset, load_splits
from .train import TrainConfig, Trainer
from .train._eval_loaders import check_evaluation_loader, match_classes

__all__ = ["SPLITS", "Evaluation", "evaluate"]


SPLITS = ("test", "val", "train")
"""The splits :func:`evaluate` can read from a data set given by name or folder."""


@dataclass(frozen=True, eq=False)
class Evaluation:
    """A model's results on a data set, image by image, and the summaries drawn from them.

    Images keep the order of the data (index ``i`` is the data set's ``i``-th image). Accuracies are
    fractions in [0, 1], as everywhere in resnetzoo.
    """

    classes: tuple[str, ...]  # class names, one per model output
    targets: torch.Tensor  # (N,) int64: each image's true class
    probabilities: torch.Tensor  # (N, C) float32: softmax of the logits
    predictions: torch.Tensor  # (N,) int64: the top-1 class (the Trainer's top-1, ties included)
    loss: float  # mean cross-entropy (no label smoothing)
    features: torch.Tensor | None = None  # (N, D) float32: the classifier's pooled input; None unless asked
    top5_hits: torch.Tensor | None = None  # (N,) bool: the true class is among the top min(5, C)
    top1_tta: float | None = None  # flip-TTA top-1 when evaluated with tta=True

    @property
    def num_images(self) -> int:
        """How many images were evaluated."""
        return int(self.targets.shape[0])

    @property
    def top1(self) -> float:
        """Fraction of images whose top-1 prediction is their class."""
        return int((self.predictions == self.targets).sum()) / self.num_images

    @property
    def top5(self) -> float:
        """Fraction of images whose class is among the min(5, C) most probable."""
        if self.top5_hits is not None:
            return int(self.top5_hits.sum()) / self.num_images
        top = self.probabilities.topk(min(5, len(self.classes)), dim=1).indices
        return int((top == self.targets[:, None]).any(dim=1).sum()) / self.num_images

    @cached_property
    def confusion(self) -> torch.Tensor:
        """``(C, C)`` int64 counts: row = true class, column = predicted; rows sum to the class counts."""
        C = len(self.classes)
        pairs = self.targets * C + self.predictions  # (N,): one cell per image
        return torch.bincount(pairs, minlength=C * C).view(C, C)

    @property
    def class_counts(self) -> torch.Tensor:
        """``(C,)`` int64: images of each class (the confusion matrix's row sums)."""
        return self.confusion.sum(dim=1)

    @property
    def per_class_accuracy(self) -> dict[str, float]:
        """Class name to the fraction of its images predicted right (NaN for a class with no image)."""
        counts, right = self.class_counts.tolist(), self.confusion.diagonal().tolist()
        return {
            name: (hits / count if count else float("nan"))
            for name, hits, count in zip(self.classes, right, counts, strict=True)
        }

    def mistakes(self, k: int | None = None) -> torch.Tensor:
        """Indices of the ``k`` most confidently wrong images, most confident first.

        Confidence is the probability of the (wrong) predicted class; equal ones keep the data's order.

        Args:
            k: How many; None for every wrong image. Fewer come back when fewer are wrong.

        Raises:
            ArgumentError: If ``k`` is below 0.
        """
        k = check_int("k", k, minimum=0, none=True)
        wrong = (self.predictions != self.targets).nonzero().flatten()  # (W,)
        confidence = self.probabilities[wrong, self.predictions[wrong]]
        order = confidence.argsort(descending=True, stable=True)
        return wrong[order[:k] if k is not None else order]

    def confusion_csv(self) -> str:
        """The confusion matrix as CSV text: a header row and a first column of class names."""
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["true \\ predicted", *self.classes])
        for name, row in zip(self.classes, self.confusion.tolist(), strict=True):
            writer.writerow([name, *row])
        return text.getvalue()

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`confusion_csv` to ``path`` (atomically; a link there is replaced, not followed).

        Raises:
            OSError: If the file cannot be written (the message names it).
        """
        return atomic_write(Path(path), self.confusion_csv(), what="the confusion matrix")

    def save_confusion(
        self, directory: str | os.PathLike[str], *, normalize: bool = True
    ) -> tuple[Path, Path]:
        """Write ``confusion.csv`` (counts) and ``confusion.png`` (:func:`resnetzoo.plot.confusion_matrix`).

        Args:
            directory: The folder; created if missing.
            normalize: The picture shows each row as fractions of its class (the CSV keeps counts).

        Returns:
            The paths of the CSV and the PNG.

        Raises:
            ImportError: If matplotlib is missing (``pip install 'resnetzoo[plot]'``).
            OSError: If a file cannot be written.
        """
        from . import plot

        figure = plot.confusion_matrix(self, normalize=normalize)  # first: no CSV without matplotlib
        directory = Path(directory)
        csv_path = self.to_csv(directory / "confusion.csv")
        png_path = plot.save_figure(figure, directory / "confusion.png", what="the confusion matrix")
        return csv_path, png_path

    def __repr__(self) -> str:
        return (
            f"Evaluation({self.num_images:,} images, {len(self.classes)} classes: top-1 {self.top1:.2%}, "
            f"top-5 {self.top5:.2%}, loss {self.loss:.4f})"
        )


def evaluate(
    model: nn.Module,
    data: Any,
    *,
    classes: Sequence[str] | None = None,
    device: str | torch.device | None = None,
    batch_size: int = 256,
    features: bool = False,
    split: str = "test",
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    tta: bool = False,
) -> Evaluation:
    """Evaluate a classifier on labelled images, keeping each image's result.

    One forward pass over the data in eval mode, without gradients, through the Trainer's evaluation
    loop; every submodule gets its mode back and the model its device. ``data`` may be:

    - a data set's name or image folder (``"sample"``, ``"cifar10"``, ``"cifar100"``, ``DIR``), as
      :func:`resnetzoo.data.load_splits` reads it; ``split`` picks the split. A folder is resized to the
      model's input size, and images are normalised as the weights were trained (their record's mean and
      std), else with the training split's statistics;
    - a :class:`~resnetzoo.data.TensorImageDataset` (``sample_cifar10("test")``, ``image_folder(...)``):
      normalised with ``mean``/``std``, else the weights' own, else CIFAR-10's (with a warning), as
      :func:`resnetzoo.predict` does;
    - any other map-style ``Dataset`` of ``(image, label)`` pairs, whose images are ready for the model;
    - a ``DataLoader`` (or any iterable of ``(images, labels)`` batches) that keeps its order: not shuffled,
      nothing dropped.

    When the data and the model both name their classes, the data's labels are matched to the model's by
    name (a folder of cat/dog/ship images is scored as the model's cat, dog and ship).

    Args:
        model: A classifier; its output is taken as logits.
        data: The labelled images (see above).
        classes: Class names, one per output; default the model's record's, else the data's, else
            ``"0"``, ``"1"``, ...
        device: Where to run; default where the model is.
        batch_size: Images per forward pass (for data not already batched).
        features: Also keep the penultimate features (the input of ``model.get_classifier()``).
        split: With data given by name or folder: ``"test"``, ``"val"`` or ``"train"``.
        mean: Per-channel mean to normalise a ``TensorImageDataset`` with.
        std: Per-channel standard deviation to normalise with.
        tta: Also measure flip-TTA top-1 (mirror-averaged logits), as ``TrainConfig.tta`` does.

    Returns:
        The :class:`Evaluation`.

    Raises:
        ArgumentError: If ``batch_size`` is below 1, ``split`` or ``device`` is unknown, or ``classes`` does
            not name every output.
        ValueError: If the data has no such split, classes the model does not know, labels beyond its
            outputs, a loader that shuffles or drops images, or no image; if ``features`` is asked of a
            model without ``get_classifier()``; or if run under torchrun (evaluate in one process).
        FileNotFoundError: If a named data set's files or the folder do not exist.

    Example:
        >>> import torch, resnetzoo as rz
        >>> from torch.utils.data import TensorDataset
        >>> data = TensorDataset(torch.rand(6, 3, 32, 32), torch.tensor([0, 1, 2, 0, 1, 2]))
        >>> result = rz.evaluate(rz.resnet20_cifar(num_classes=3), data, features=True)
        >>> result.confusion.sum(dim=1).tolist(), tuple(result.features.shape)
        ([2, 2, 2], (6, 64))
    """
    check_instance("model", model, nn.Module, what="a torch.nn.Module")
    batch_size = check_int("batch_size", batch_size, minimum=1)
    features = check_bool("features", features)
    tta = check_bool("tta", tta)
    split = check_choice("split", split, SPLITS)
    device = None if device is None else check_device("device", device)
    logits_list: list[torch.Tensor] = []
    class_list: list[torch.Tensor] = []
    feature_list: list[torch.Tensor] = []
    latest: list[torch.Tensor] = []  # the classifier's input in the last forward pass

    def collect(logits: torch.Tensor, targets: torch.Tensor) -> None:
        # Called right after a batch's forward pass, before the mirrored one of tta=True.
        logits_list.append(logits.cpu())
        class_list.append(targets.cpu())
        if features:
            feature_list.append(latest[0])

    hook = _feature_hook(model, latest) if features else None
    try:
        with eval_mode(model), on_device(model, device) as run_device:
            loader, data_classes = _loader(model, data, split, batch_size, mean, std, run_device)
            check_evaluation_loader(loader, "resnetzoo.evaluate()", in_order=True)
            config = TrainConfig(
                device=str(run_device),
                batch_size=batch_size,
                amp="off",  # float32 probabilities, whatever the device
                channels_last=False,  # the model's memory format stays the caller's
                tta=tta,
                progress=False,
            )
            trainer = Trainer(model, config, callbacks=())
            if trainer.dist.is_distributed:
                raise ValueError(
                    "resnetzoo.evaluate runs in one process and keeps every image's result; under torchrun "
                    "use Trainer.test() for the metrics, or evaluate from a single process"
                )
            trainer._check_labels(loader, "evaluation")
            metrics = trainer._run_evaluation(loader, None, collect)
    finally:
        if hook is not None:
            hook.remove()
    logits = torch.cat(logits_list)  # (N, C)
    targets = torch.cat(class_list).long()  # (N,)
    num_classes = logits.shape[1]
    names = _class_names(model, classes, data_classes, num_classes)
    # The Trainer's own top-k: predictions and top-5 agree with Trainer.test even where logits tie.
    top = logits.topk(min(5, num_classes), dim=1).indices  # (N, k)
    return Evaluation(
        classes=names,
        targets=targets,
        probabilities=logits.softmax(dim=1),
        predictions=top[:, 0].clone(),
        loss=float(metrics["loss"]),
        features=torch.cat(feature_list) if features else None,
        top5_hits=(top == targets[:, None]).any(dim=1),
        top1_tta=metrics.get("top1_tta"),
    )


def _loader(
    model: nn.Module,
    data: Any,
    split: str,
    batch_size: int,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
    device: torch.device,
) -> tuple[Iterable[Any], Sequence[str] | None]:
    """The evaluation loader for ``data``, and the class names the data gives (None if it names none)."""
    categories = model_categories(model)
    if isinstance(data, (str, os.PathLike)):
        size = tuple(model_input_size(model)[1:])  # a folder is resized as predict resizes an image
        splits = load_splits(data, size=size)  # type: ignore[arg-type]
        dataset = {"train": splits.train, "val": splits.val, "test": splits.test}[split]
        if dataset is None:
            raise ValueError(f"data {os.fspath(data)!r} has no {split} split; pass split='train' or 'val'")
        if mean is None and std is None:
            mean, std = normalisation(model, splits.mean, splits.std)
        data = dataset
    if isinstance(data, TensorImageDataset):
        data = match_classes(data, categories)  # classes matched by name
        config = resolve_data_config(model, mean=mean, std=std)
        loader = DeviceLoader(
            data,
            batch_size,
            device=device,  # the images move to the model's device once
            train=False,
            mean=config["mean"],
            std=config["std"],
            channels_last=False,
        )
        return loader, data.classes
    if isinstance(data, Dataset) and not isinstance(data, torch.utils.data.IterableDataset):
        return DataLoader(data, batch_size=batch_size, shuffle=False), getattr(data, "classes", None)
    if isinstance(data, Iterable):
        return data, getattr(getattr(data, "dataset", None), "classes", None)
    raise TypeError(
        "data must be a data set's name or image folder, a Dataset of (image, label) pairs, or a loader of "
        f"(images, labels) batches; got {type(data).__name__}"
    )


def _feature_hook(model: nn.Module, latest: list[torch.Tensor]) -> torch.utils.hooks.RemovableHandle:
    """Keep the classifier's input (the pooled penultimate features) of the last forward in ``latest``."""
    get_classifier = getattr(model, "get_classifier", None)
    classifier = get_classifier() if callable(get_classifier) else None
    if not isinstance(classifier, nn.Module) or isinstance(classifier, nn.Identity):
        raise ValueError(
            f"features=True needs a model with a classifier head (model.get_classifier(), as resnetzoo's "
            f"networks have); {type(model).__name__} has none"
        )

    def keep(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        latest[:] = [args[0].detach().float().cpu()]  # (B, D)

    return classifier.register_forward_pre_hook(keep)


def _class_names(
    model: nn.Module, classes: Sequence[str] | None, data_classes: Sequence[str] | None, num_classes: int
) -> tuple[str, ...]:
    if classes is not None:
        names = [str(c) for c in classes]
        if len(names) != num_classes:
            from .errors import ArgumentError

            raise ArgumentError(
                f"classes names {len(names)} classes, but the model has {num_classes} outputs",
                param="classes",
            )
        return tuple(names)
    for names in (model_categories(model), data_classes):
        if names is not None and len(names) == num_classes:
            return tuple(str(c) for c in names)
    return tuple(str(i) for i in range(num_classes))
