"""Does the data fed to a compression step match the model's record? Its normalisation, compared before use.

A model's weights record (``model.pretrained_cfg``) says which ``mean``/``std`` its weights were trained
with. Images normalised otherwise give a model other inputs than it learned on: quantize would fix its
int8 ranges and measure its accuracy on them, prune and distill would fine-tune and select on them, and
the file or record written would still claim the record's normalisation (issue 21 #6: a record that said
int8 14.84% against fp32 14.45%, where the file's own normalisation gives 48.8% against 81.4%).

A loader tells its normalisation when it is a :class:`~resnetzoo.data.DeviceLoader` (``mean``/``std``,
``None`` for pixels in [0, 1]) or a ``DataLoader`` whose data set's transform holds a
:class:`~resnetzoo.data.preprocess.Preprocess` or a torchvision ``Normalize`` (a
:class:`~resnetzoo.data.TensorImageDataset` without a transform gives pixels in [0, 1]). A plain
loader of tensors does not: then, where a batch is at hand, it is measured against what the record's
normalisation can produce (see :func:`check_normalisation`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from .._validate import check_choice
from ..errors import ArgumentError
from ..models.weights import Weights

__all__ = [
    "NORMALISATION_MISMATCH",
    "check_loaders",
    "check_mismatch_choice",
    "check_normalisation",
    "loader_normalisation",
]

logger = logging.getLogger(__name__)

NORMALISATION_MISMATCH = ("refuse", "allow")
"""What to do when a loader is normalised otherwise than the model's record says: refuse (the default)."""

Normalisation = tuple[tuple[float, ...], tuple[float, ...]]  # (mean, std), one value per channel

# Slack on the range a correctly normalised batch can span: antialiased bilinear resizing keeps pixels in
# [0, 1], but a caller's own conversions may round a little (to_unit_image allows 1e-3 in pixel units).
_RANGE_SLACK = 0.01


def check_mismatch_choice(value: Any) -> str:
    """``normalisation_mismatch`` checked: ``"refuse"`` or ``"allow"``."""
    return check_choice("normalisation_mismatch", value, NORMALISATION_MISMATCH)


def loader_normalisation(loader: Any) -> Normalisation | None:
    """The ``(mean, std)`` a loader's batches are normalised with, where the loader tells it; else ``None``.

    ``(0, ..., 0), (1, ..., 1)`` stands for pixels in [0, 1], not normalised.
    """
    from ..data.dataset import TensorImageDataset
    from ..data.loader import DeviceLoader

    if isinstance(loader, DeviceLoader):
        channels = loader.dataset.data.shape[-1]
        if loader.mean is None or loader.std is None:
            return (0.0,) * channels, (1.0,) * channels
        return tuple(loader.mean), tuple(loader.std)
    dataset = getattr(loader, "dataset", None)
    while isinstance(dataset, torch.utils.data.Subset):
        dataset = dataset.dataset
    transform = getattr(dataset, "transform", None)
    if transform is None:
        if isinstance(dataset, TensorImageDataset):  # its items are pixels in [0, 1]
            channels = dataset.data.shape[-1]
            return (0.0,) * channels, (1.0,) * channels
        return None
    return _transform_normalisation(transform)


def _transform_normalisation(transform: Any) -> Normalisation | None:
    """The normalisation a transform applies last: a Preprocess, a torchvision Normalize (v1 or v2), or
    one of those inside a Compose; ``None`` if none is found (a function may normalise unseen)."""
    from ..data.preprocess import Preprocess

    if isinstance(transform, Preprocess):
        return transform.mean, transform.std
    if type(transform).__name__ == "Normalize" and hasattr(transform, "mean") and hasattr(transform, "std"):
        return tuple(float(v) for v in transform.mean), tuple(float(v) for v in transform.std)
    found = None
    for step in getattr(transform, "transforms", None) or ():
        found = _transform_normalisation(step) or found
    return found


def _same(a: Sequence[float], b: Sequence[float]) -> bool:
    return len(a) == len(b) and all(
        math.isclose(x, y, rel_tol=1e-4, abs_tol=1e-6) for x, y in zip(a, b, strict=True)
    )


def _describe(normalisation: Normalisation) -> str:
    mean, std = normalisation
    if all(v == 0 for v in mean) and all(v == 1 for v in std):
        return "pixels in [0, 1] (not normalised)"
    return f"images normalised with mean {_numbers(mean)}, std {_numbers(std)}"


def _numbers(values: Iterable[float]) -> str:
    return "(" + ", ".join(f"{v:.4g}" for v in values) + ")"


def check_normalisation(
    loader: Any,
    record: Weights | None,
    *,
    param: str,
    whose: str = "the model's",
    mismatch: str = "refuse",
    batch: torch.Tensor | None = None,
) -> None:
    """Refuse a loader normalised otherwise than ``record`` says its weights were trained.

    Where the loader does not tell its normalisation (:func:`loader_normalisation` is ``None``) and
    ``batch`` (its first images, ``(B, C, H, W)``) is given, the batch is measured: un-normalised with
    the record's mean/std it must be pixels in [0, 1], and, as in any batch of real images normalised
    with a mean inside the pixel range, some values must be below 0. Either failing proves a mismatch;
    passing does not prove a match, which a warning says.

    Args:
        loader: The loader whose batches the model will see.
        record: The model's weights record; nothing is checked without its ``mean``/``std``.
        param: The parameter the loader was passed as, for the message.
        whose: Whose weights, for the message (``"the teacher's"``).
        mismatch: ``"refuse"`` raises; ``"allow"`` checks nothing (the caller said so explicitly).
        batch: The loader's first images, measured where the loader does not tell its normalisation.

    Raises:
        ArgumentError: If the loader's normalisation differs from the record's, or its first batch
            shows that it does.
    """
    if mismatch == "allow" or record is None or record.mean is None or record.std is None:
        return
    expected: Normalisation = (tuple(record.mean), tuple(record.std))
    weights = f"{whose} weights ({record.name})" if record.tag is not None else f"{whose} weights"
    fix = (
        f"normalise it as the record says (e.g. DeviceLoader(..., mean={_numbers(expected[0])}, "
        f"std={_numbers(expected[1])})), or pass normalisation_mismatch='allow' if this is intended"
    )
    told = loader_normalisation(loader)
    if told is not None:
        if not (_same(told[0], expected[0]) and _same(told[1], expected[1])):
            raise ArgumentError(
                f"{param} gives {_describe(told)}, but {weights} were trained on {_describe(expected)}: "
                f"the model would see inputs unlike those it learned from; {fix}",
                param=param,
            )
        return
    unknown = (
        f"the normalisation of {param} is not known (a plain loader of tensors; a DeviceLoader or a data "
        f"set whose transform normalises tells it)"
    )
    if batch is None or batch.dim() != 4 or batch.shape[1] != len(expected[0]):
        logger.warning("%s and was not checked against %s %s", unknown, weights, _describe(expected))
        return
    mean = torch.tensor(expected[0], dtype=torch.float64).view(1, -1, 1, 1)
    std = torch.tensor(expected[1], dtype=torch.float64).view(1, -1, 1, 1)
    x = batch.detach().to(torch.float64)
    pixels = x * std + mean  # what the record's normalisation would have been applied to
    low, high = float(pixels.min()), float(pixels.max())
    if low < -_RANGE_SLACK or high > 1 + _RANGE_SLACK:
        reachable = ", ".join(
            f"[{(0 - m) / s:.3g}, {(1 - m) / s:.3g}]" for m, s in zip(*expected, strict=True)
        )
        raise ArgumentError(
            f"{param}'s first batch has values in [{float(x.min()):.3g}, {float(x.max()):.3g}], which pixels "
            f"in [0, 1] normalised with mean {_numbers(expected[0])}, std {_numbers(expected[1])} as "
            f"{weights} were trained cannot give (per channel {reachable}): it is normalised otherwise; "
            f"{fix}",
            param=param,
        )
    if float(x.min()) >= 0 and all(m > 0 for m in expected[0]):
        raise ArgumentError(
            f"{param}'s first batch has no value below 0 (in [{float(x.min()):.3g}, {float(x.max()):.3g}]): "
            f"pixels in [0, 1] not normalised, while {weights} were trained on {_describe(expected)}, which "
            f"makes every pixel darker than the mean negative; {fix}",
            param=param,
        )
    logger.warning(
        "%s; its first batch fits %s but that does not prove it was normalised so",
        unknown,
        _describe(expected),
    )


def check_loaders(
    record: Weights | None,
    loaders: dict[str, Any],
    *,
    whose: str = "the model's",
    mismatch: str = "refuse",
) -> None:
    """:func:`check_normalisation` for each named loader (``None`` skipped) a training step will read.

    A loader that does not tell its normalisation is measured on its first batch only where that costs
    nothing (a list or tuple of batches); pulling one from a ``DataLoader`` would start its workers, and
    from an iterator would lose it, so those get the warning instead.

    Raises:
        ArgumentError: As :func:`check_normalisation`.
    """
    for param, loader in loaders.items():
        if loader is None:
            continue
        batch = None
        if isinstance(loader, (list, tuple)) and loader:
            first = loader[0]
            batch = first[0] if isinstance(first, (list, tuple)) and first else first
            batch = batch if isinstance(batch, torch.Tensor) else None
        check_normalisation(loader, record, param=param, whose=whose, mismatch=mismatch, batch=batch)
