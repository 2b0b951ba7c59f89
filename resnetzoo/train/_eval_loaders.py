"""Evaluation loaders: every example once, and a fair sample of them when the evaluation is limited.

A training loader given to ``validate``, ``test`` or ``predict`` would shuffle, augment and drop the
last partial batch (64 rows for 70 images), and nothing would say so: :func:`check_evaluation_loader`
refuses it.

A limited evaluation (``limit_eval_batches``) sees a fair sample of the data, not its first batches.

Evaluation loaders keep their data set's order, and image folders, the bundled sample and many
validation splits are stored class by class: the first 10 batches of such a split hold one or two
classes, so a limited validation once selected a model at "val top-1 78%" whose test top-1 was 10%.
Instead the evaluation is cut to a seeded random subset of ``limit * batch_size`` images per process,
the same subset at every epoch, so epochs are compared on the same images.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch.utils.data import (
    DataLoader,
    DistributedSampler,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
)

from ..data import DeviceLoader, TensorImageDataset
from .distributed import EvalShardSampler, rebuild_loader

__all__ = ["check_evaluation_loader", "limit_evaluation", "match_classes"]

logger = logging.getLogger(__name__)


def check_evaluation_loader(loader: Iterable[Any], method: str, *, in_order: bool) -> None:
    """Refuse a loader that would not give every example once, unchanged (and in order if ``in_order``).

    Args:
        loader: What ``validate``, ``test`` or ``predict`` was given.
        method: The method, for the message (``"Trainer.test()"``).
        in_order: The order matters (``predict`` returns one row per example, in order).

    Raises:
        ValueError: For a training :class:`~resnetzoo.data.DeviceLoader` (``train=True``: shuffled,
            augmented, last partial batch dropped), one that augments or drops, or a ``DataLoader`` that
            drops a partial batch (``drop_last=True``) or, when the order matters, shuffles.
    """
    fix = "build an evaluation loader: trainer.make_loader(dataset, train=False)"
    if isinstance(loader, DeviceLoader):
        total = len(loader.dataset)
        if (
            loader.train
            or loader.augment is not None
            or (loader.drop_last and loader.num_samples % loader.batch_size)
        ):
            seen = len(loader) * loader.batch_size if loader.drop_last else loader.num_samples
            what = ", ".join(
                word
                for word, applies in (
                    ("shuffles", loader.train),
                    ("augments", loader.augment is not None),
                    ("drops the last partial batch", loader.drop_last),
                )
                if applies
            )
            raise ValueError(
                f"{method} got a DeviceLoader that {what}: it would see {seen} of its {total} images"
                f"{', in random order' if loader.train else ''}{', augmented' if loader.augment else ''}; "
                f"{fix}, or DeviceLoader(dataset, batch_size, train=False)"
            )
        return
    if (
        not isinstance(loader, DataLoader)
        or loader.batch_size is None
        or isinstance(loader.dataset, IterableDataset)
    ):
        return
    total = len(loader.dataset)  # type: ignore[arg-type]
    if loader.drop_last and total % loader.batch_size:
        seen = total - total % loader.batch_size
        raise ValueError(
            f"{method} got a DataLoader with drop_last=True: it would see {seen} of its {total} examples; "
            "pass DataLoader(..., drop_last=False)"
        )
    sampler = loader.sampler
    shuffled = isinstance(sampler, RandomSampler) or (
        isinstance(sampler, DistributedSampler) and sampler.shuffle
    )
    if in_order and shuffled:
        raise ValueError(
            f"{method} got a DataLoader that shuffles: its outputs would not be in the order of the data "
            "set; pass DataLoader(..., shuffle=False)"
        )


def _sample(size: int, count: int, seed: int) -> torch.Tensor:
    """``count`` of ``range(size)`` drawn from ``seed`` alone (a generator of its own: the global ones
    stay untouched), in increasing order."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(size, generator=generator)[:count].sort().values


def limit_evaluation(
    loader: Iterable[Any], limit: int | None, *, seed: int, world_size: int
) -> tuple[Iterable[Any], int | None]:
    """``(loader, limit)`` to evaluate ``limit`` batches per process of a fair sample of ``loader``.

    * A :class:`~resnetzoo.data.DeviceLoader` or a ``DataLoader`` that reads its map-style data set in
      order is narrowed to a seeded random subset of ``limit * batch_size * world_size`` images, and
      the returned limit is None: the subset is evaluated whole.
    * A ``DataLoader`` that shuffles already gives a random subset every epoch: kept, with the limit.
    * Anything else is kept with the limit, and a warning says that the first batches of its order are
      evaluated, fair only if that order is random.

    Args:
        loader: The evaluation loader, before it is sharded across processes.
        limit: ``TrainConfig.limit_eval_batches``; None evaluates everything.
        seed: Picks the subset (``TrainConfig.seed``).
        world_size: Processes that will share the subset.
    """
    if limit is None:
        return loader, None
    try:
        batches = len(loader)  # type: ignore[arg-type]
    except TypeError:
        batches = None
    if isinstance(loader, DeviceLoader):
        # A DeviceLoader built for this rank already: the subset is drawn from the whole data set, the
        # same on every rank, and each rank keeps its share of it.
        total = len(loader.dataset)
        count = min(total, limit * loader.batch_size * loader.world_size)
        if count == total or (batches is not None and batches <= limit):
            return loader, None
        logger.info("limit_eval_batches=%d: evaluating a seeded random %d of %d images", limit, count, total)
        return loader._subset(_sample(total, count, seed)), None
    if batches is not None and batches <= limit:
        return loader, None
    if isinstance(loader, DataLoader):
        in_order = isinstance(loader.sampler, (SequentialSampler, EvalShardSampler))
        if in_order and loader.batch_size is not None and not isinstance(loader.dataset, IterableDataset):
            total = len(loader.dataset)  # type: ignore[arg-type]
            count = min(total, limit * loader.batch_size * world_size)
            logger.info(
                "limit_eval_batches=%d: evaluating a seeded random %d of %d examples", limit, count, total
            )
            subset = Subset(loader.dataset, _sample(total, count, seed).tolist())
            return rebuild_loader(loader, SequentialSampler(subset), dataset=subset), None
        if not in_order and loader.batch_sampler is not None and loader.batch_size is not None:
            return loader, limit  # shuffled: its first batches are a random subset already
    logger.warning(
        "limit_eval_batches=%d evaluates the first %d batches of a %s in its own order, which is a fair "
        "sample only if that order is random (data stored class by class would show a few classes only); "
        "pass a DeviceLoader or a DataLoader over a map-style data set to evaluate a random subset",
        limit,
        limit,
        type(loader).__name__,
    )
    return loader, limit


def match_classes(dataset: Any, categories: Sequence[str] | None) -> Any:
    """``dataset`` with its labels as indices into ``categories`` (the model's classes), matched by name.

    A folder of cat/dog/ship images is labelled 0-2; scored against a CIFAR-10 model those are
    airplane, automobile and bird, and top-1 said 0%. When both sides name their classes, each of the
    data set's classes is looked up in the model's; data sets without names, or with the model's own
    list, are returned as they are.

    Raises:
        ValueError: If the data set has classes the model does not know, naming them.
    """
    if categories is None or not isinstance(dataset, TensorImageDataset):
        return dataset
    categories, classes, targets = list(categories), list(dataset.classes), dataset.targets
    if classes == categories:
        return dataset
    unknown = [c for c in classes if c not in categories]
    if unknown:
        shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
        raise ValueError(
            f"the data's classes {shown} are not among the model's {len(categories)} classes "
            f"({', '.join(categories[:10])}{', ...' if len(categories) > 10 else ''}): evaluate on data of "
            "the classes the model was trained on"
        )
    index = torch.tensor([categories.index(c) for c in classes], dtype=targets.dtype)
    logger.info("matched the data's %d classes to the model's by name", len(classes))
    return TensorImageDataset(
        dataset.data,
        index[targets],
        categories,
        transform=dataset.transform,
        split=dataset.split,
        description=dataset.description,
        dataset_id=dataset.dataset_id,
    )
