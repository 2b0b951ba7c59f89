"""Post-training static int8 quantization for CPU inference, through ONNX Runtime.

The model is exported to ONNX (:func:`resnetzoo.export`, checked against PyTorch), prepared with
ONNX Runtime's ``quant_pre_process`` (graph optimisation and shape inference, which its
quantization tools ask for), then quantized by ``onnxruntime.quantization.quantize_static``: int8
weights, one scale per output channel, and uint8 activations whose ranges are calibrated (min/max)
on real images, stored as QuantizeLinear/DequantizeLinear pairs (the QDQ format) that ONNX
Runtime fuses into integer convolutions. The file runs anywhere ONNX Runtime does.

Why ONNX Runtime and not PyTorch's PT2E quantization (x86 inductor backend): measured side by side
on resnet56 on a 2-core AVX-512 VNNI CPU (``benchmarks/bench_compress.py``), ONNX Runtime's int8 was
3.6x faster at batch 1, reached 80% of PT2E's throughput at batch 256 (1,044 against 1,307 images/s),
kept top-1 better, needs no compile warm-up and gives a portable file. PT2E needs ``torchao`` and a
``torch.compile`` of tens of seconds in every process, and with torchao 0.18 on torch 2.14 its
quantizer fails on any network that calls one ReLU module twice (torchvision's ResNets and ours).
See docs/compress.md for the numbers.

Before anything is calibrated, the loaders' normalisation is compared with the model's record
(:func:`resnetzoo.compress._checks.check_normalisation`): images normalised otherwise would fix the
int8 ranges and measure the accuracy on inputs the model never saw. Before the file is written, its
top-1 is compared with the fp32 model's on labelled images: it may lose at most ``max_top1_drop``
points (1.0 by default), and the comparison must be able to show a loss at all: on at least
:data:`MIN_CHECK_IMAGES` images, with the fp32 model above chance on them.

Example:
    >>> import resnetzoo as rz
    >>> rz.quantize(model, calibration_loader, "resnet56.int8.onnx")  # doctest: +SKIP
    PosixPath('resnet56.int8.onnx')
"""

from __future__ import annotations

import copy
import logging
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._files import atomic_path
from .._model_info import model_input_size, model_name, pretrained_cfg
from .._record import record_metadata
from .._validate import check_input_size
from ..export import ExportCheckError, _add_metadata, _require, export
from ..models.weights import Metric
from ._checks import check_mismatch_choice, check_normalisation, loader_normalisation

__all__ = ["DEFAULT_MAX_TOP1_DROP", "MIN_CHECK_IMAGES", "quantize"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_TOP1_DROP = 1.0
"""Top-1 points the int8 model may lose against fp32 on the check images before quantize refuses it."""

MIN_CHECK_IMAGES = 100
"""Fewest labelled images the accuracy check vouches on. Below 100 one image is worth more than a top-1
point (the default ``max_top1_drop``), and a few images agree between fp32 and int8 by luck: one image
scored 100% against 100% shows nothing about the next thousand."""


def quantize(
    model: nn.Module,
    calibration_loader: Iterable[Any],
    path: str | os.PathLike[str],
    *,
    calibration_images: int = 1024,
    check_loader: Iterable[Any] | None = None,
    max_top1_drop: float | None = DEFAULT_MAX_TOP1_DROP,
    input_size: Sequence[int] | None = None,
    normalisation_mismatch: str = "refuse",
) -> Path:
    """Quantize a model to int8 for CPU inference: an ONNX file with static int8 weights and activations.

    Calibration runs the fp32 model on images from ``calibration_loader`` to fix the activation
    ranges; use images like those the model will see, normalised as it expects (a
    :class:`~resnetzoo.data.DeviceLoader` with the model's ``mean``/``std``, shuffled, so that all
    classes are among them). Both loaders' normalisation is compared with the model's record first:
    a :class:`~resnetzoo.data.DeviceLoader`, or a ``DataLoader`` whose data set's transform is a
    :class:`~resnetzoo.data.preprocess.Preprocess` or holds a torchvision ``Normalize``, tells it and
    must match; a plain loader of tensors is measured on its first batch (values the record's
    normalisation cannot give from pixels in [0, 1], or none below 0 as unnormalised pixels, are
    refused; otherwise a warning says it could not be proven).

    The file is then checked: on the labelled batches of ``check_loader`` (else the calibration
    batches) its top-1 may be at most ``max_top1_drop`` points below the fp32 model's. A check that
    cannot show a loss does not pass: on fewer than :data:`MIN_CHECK_IMAGES` images, or where the
    fp32 model is at chance (``100 / classes`` percent) or below, nothing is written.
    ``max_top1_drop=None`` writes the file unchecked (the scores are still measured where the
    batches are labelled, recorded, and the record's ``notes`` say the file was not checked).

    The file carries the export's metadata (:func:`resnetzoo.export`) and the record of the new
    weights as JSON in the ``record`` entry of ``metadata_props``: a :class:`~resnetzoo.Weights`
    derived from the model's, whose ``base_model`` names the fp32 weights, ``notes`` say how they
    were quantized, and ``metrics`` hold the measured ``top1`` (int8) and ``top1_fp32`` as
    :class:`~resnetzoo.Metric` fractions with the number of images and their split: the check
    loader's data set's ``split`` (``"test"``, ``"val"``; ``"check"`` where it has none) or
    ``"calibration"`` when no check loader was given, which are the images that fixed the ranges,
    often training images. ``rz.Weights(**json.loads(value))`` rebuilds
    the record. Load the model with ``onnxruntime.InferenceSession``.

    Args:
        model: The fp32 model (any device; it is copied to the CPU, the caller's is not changed).
        calibration_loader: Batches of normalised images, or ``(images, labels)``.
        path: The ONNX file to write (atomically, as :func:`resnetzoo.export` does).
        calibration_images: Calibrate on at most this many images (ONNX Runtime keeps every
            activation of every calibration batch in memory).
        check_loader: Labelled batches ``(images, labels)`` for the accuracy check, best a held-out
            split; None checks on the calibration batches (those fixed the ranges, not the labels).
        max_top1_drop: The most top-1 points the int8 model may lose against fp32; None writes
            the file without the check.
        input_size: ``(channels, height, width)``; defaults to the model's own.
        normalisation_mismatch: ``"refuse"`` (the default) raises when a loader is normalised
            otherwise than the model's record; ``"allow"`` skips that comparison.

    Returns:
        The path written.

    Raises:
        ImportError: If ``onnx``, ``onnxscript`` or ``onnxruntime`` is missing
            (``pip install "resnetzoo[export]"``).
        ValueError: If ``calibration_images`` is below 1, ``max_top1_drop`` is negative, a loader
            yields no images, its images are not of the model's input size, or the check batches
            have no labels; and what :func:`resnetzoo.export` raises.
        ArgumentError: (a ``ValueError``) If a loader is normalised otherwise than the model's
            record says (see above), unless ``normalisation_mismatch="allow"``.
        ExportCheckError: If the int8 model loses more than ``max_top1_drop`` top-1 points, or the
            check cannot show a loss (fewer than :data:`MIN_CHECK_IMAGES` images, fp32 at chance);
            the file is not written. Also if the fp32 export disagrees with PyTorch.
    """
    for module in ("onnx", "onnxscript", "onnxruntime"):
        _require(module)
    if not isinstance(calibration_images, int) or calibration_images < 1:
        raise ValueError(f"calibration_images must be an integer >= 1, got {calibration_images!r}")
    gated = max_top1_drop is not None
    if gated and not (
        isinstance(max_top1_drop, (int, float)) and math.isfinite(max_top1_drop) and max_top1_drop >= 0
    ):
        raise ValueError(
            f"max_top1_drop must be a number of top-1 points >= 0 (or None: no check), got {max_top1_drop!r}"
        )
    mismatch = check_mismatch_choice(normalisation_mismatch)
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory; give a file path such as {path / 'model.int8.onnx'}")

    import onnx
    import onnxruntime
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    model = copy.deepcopy(model).to(device="cpu", dtype=torch.float32).eval()
    calibration = _take_images(calibration_loader, calibration_images, "calibration_loader")
    size = model_input_size(model) if input_size is None else check_input_size("input_size", input_size)
    _check_size(calibration[0][0], size, "calibration_loader")
    record = pretrained_cfg(model)
    check_normalisation(
        calibration_loader, record, param="calibration_loader", mismatch=mismatch, batch=calibration[0][0]
    )
    if check_loader is not None and loader_normalisation(check_loader) is not None:
        check_normalisation(check_loader, record, param="check_loader", mismatch=mismatch)
    if gated and check_loader is None and any(labels is None for _, labels in calibration):
        raise ValueError(
            "the accuracy check needs labelled batches (images, labels): pass a labelled check_loader "
            "(or calibration_loader)"
        )

    class _Reader(CalibrationDataReader):  # ONNX Runtime pulls calibration batches from this
        def __init__(self) -> None:
            self._batches = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._batches, None)
            return None if batch is None else {"input": batch[0].numpy()}

    # The one atomic writer: a failed check leaves no file, and a link at ``path`` is replaced, not followed.
    with atomic_path(path, what="the int8 model") as tmp:
        with tempfile.TemporaryDirectory(prefix=".quantize.", dir=path.parent) as work:
            fp32 = export(model, Path(work) / "fp32.onnx", input_size=input_size)
            prepared = Path(work) / "prepared.onnx"
            quant_pre_process(str(fp32), str(prepared))
            quantize_static(
                str(prepared),
                str(tmp),
                _Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
            )
            exported_metadata = {p.key: p.value for p in onnx.load(str(fp32)).metadata_props}
        session = onnxruntime.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        check = calibration if check_loader is None else check_loader
        # The record says where it measured: the check data set's split, else the calibration images.
        split = "calibration" if check_loader is None else _split_name(check_loader)

        def measure_first(images: torch.Tensor) -> None:  # a plain check loader is measured as it is read
            _check_size(images, size, "check_loader")
            if check_loader is not None and loader_normalisation(check_loader) is None:
                check_normalisation(
                    check_loader, record, param="check_loader", mismatch=mismatch, batch=images
                )

        scores = None
        if gated or all(labels is not None for _, labels in calibration) or check_loader is not None:
            scores = _compare_top1(model, session, check, measure_first)
        metrics = []
        if scores is not None:
            fp32_top1, int8_top1, count = scores
            _gate(fp32_top1, int8_top1, count, split, _num_classes(model, calibration), max_top1_drop)
            metrics = [  # fractions, as every record holds
                Metric("top1", int8_top1 / 100, split=split, num_images=count),
                Metric("top1_fp32", fp32_top1 / 100, split=split, num_images=count),
            ]
        _write_metadata(tmp, exported_metadata, model, metrics, calibration, checked=gated)
    measured = (
        f"top-1 {int8_top1:.2f}% (fp32 {fp32_top1:.2f}%) on {count} {split} images"
        if scores is not None
        else "top-1 not measured"
    )
    logger.info(
        "quantized %s to int8: %s%s; wrote %s (%.1f MB)",
        model_name(model),
        measured,
        "" if gated else " (not checked: max_top1_drop=None)",
        path,
        path.stat().st_size / 1e6,
    )
    return path


Batch = tuple[torch.Tensor, torch.Tensor | None]  # images (B, C, H, W) float32 on the CPU, labels (B,)


def _split(batch: Any) -> Batch:
    if isinstance(batch, (tuple, list)) and batch:
        images, labels = batch[0], (batch[1] if len(batch) > 1 else None)
    else:
        images, labels = batch, None
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError(
            "a calibration or check batch must be an image tensor (B, C, H, W) or a tuple (images, labels), "
            f"got {type(images).__name__}"
        )
    images = images.detach().to(device="cpu", dtype=torch.float32).contiguous()
    return images, (torch.as_tensor(labels).cpu() if labels is not None else None)


def _take_images(loader: Iterable[Any], limit: int, what: str) -> list[Batch]:
    batches, seen = [], 0
    for batch in loader:
        images, labels = _split(batch)
        keep = limit - seen
        batches.append((images[:keep], labels[:keep] if labels is not None else None))
        seen += len(images[:keep])
        if seen >= limit:
            break
    if seen == 0:
        raise ValueError(f"{what} yielded no images")
    return batches


def _split_name(loader: Any) -> str:
    """The split a check loader's data set names (``"test"``, ``"val"``), else ``"check"``."""
    split = getattr(getattr(loader, "dataset", None), "split", None)
    return split if isinstance(split, str) and split else "check"


def _check_size(images: torch.Tensor, size: tuple[int, ...], param: str) -> None:
    if tuple(images.shape[1:]) != size:
        raise ValueError(
            f"{param} gives images of size {tuple(images.shape[1:])}, the model takes {size} "
            "(channels, height, width; the ONNX file's input size): resize them as the model's record says, "
            "or pass input_size="
        )


def _num_classes(model: nn.Module, calibration: list[Batch]) -> int:
    with torch.inference_mode():
        return int(model(calibration[0][0][:1]).shape[1])


def _gate(
    fp32_top1: float, int8_top1: float, count: int, split: str, classes: int, max_top1_drop: float | None
) -> None:
    """Refuse an int8 model that loses more than ``max_top1_drop`` points, or a check that cannot show a loss.

    A measured loss is refused on any number of images. No loss vouches for the file only where a loss
    could have shown: on at least MIN_CHECK_IMAGES images, with the fp32 model above chance. A
    demanding user wants a refusal there, not a record saying "no loss" that the data could not
    contradict; ``max_top1_drop=None`` is the explicit way to write the file unchecked (then this warns).

    Raises:
        ExportCheckError: As above; the message says why the measurement proves nothing.
    """
    where = f"{count:,} {split} image{'s' if count != 1 else ''}"
    drop = fp32_top1 - int8_top1
    if max_top1_drop is not None and drop > max_top1_drop:
        raise ExportCheckError(
            f"the int8 model's top-1 is {int8_top1:.2f}% against {fp32_top1:.2f}% in fp32 on {where}, "
            f"{drop:.2f} points lower, more than max_top1_drop={max_top1_drop:g}; the file was not written. "
            "Calibrate on more (or more typical) images, or keep the fp32 export"
        )
    chance = 100 / classes
    if fp32_top1 <= chance:
        why = (
            f"the fp32 model scores {fp32_top1:.2f}% on {where}, no better than chance for {classes} classes "
            f"({chance:.2f}%): a model that is wrong there anyway cannot show what int8 loses (wrong "
            "labels, another class order or normalisation, or untrained weights)"
        )
    elif count < MIN_CHECK_IMAGES:
        why = (
            f"the check ran on {where}, fewer than {MIN_CHECK_IMAGES}: top-1 {int8_top1:.2f}% against "
            f"{fp32_top1:.2f}% in fp32 on so few says nothing about the next images"
        )
    else:
        return
    if max_top1_drop is None:
        logger.warning("quantize writes the int8 model unchecked (max_top1_drop=None), and %s", why)
        return
    raise ExportCheckError(
        f"the accuracy check proves nothing: {why}; the file was not written. Check on at least "
        f"{MIN_CHECK_IMAGES} labelled held-out images of the model's classes, or pass "
        "max_top1_drop=None to write it unchecked"
    )


def _compare_top1(
    model: nn.Module, session: Any, batches: Iterable[Any], first: Callable[[torch.Tensor], None]
) -> tuple[float, float, int]:
    """Top-1 in percent of the fp32 model and of the int8 session on the same labelled images.

    ``first`` is called with the first batch's images before they are used.
    """
    correct_fp32 = correct_int8 = count = 0
    name = session.get_inputs()[0].name
    for index, batch in enumerate(batches):
        images, labels = _split(batch)
        if index == 0:
            first(images)
        if labels is None:
            raise ValueError(
                "the accuracy check needs labelled batches (images, labels): pass a labelled check_loader "
                "(or calibration_loader)"
            )
        with torch.inference_mode():
            fp32 = model(images).argmax(1)
        (logits,) = session.run(None, {name: images.numpy()})
        int8 = torch.from_numpy(logits).argmax(1)
        correct_fp32 += int((fp32 == labels).sum())
        correct_int8 += int((int8 == labels).sum())
        count += len(labels)
    if count == 0:
        raise ValueError("the check loader yielded no images")
    return 100 * correct_fp32 / count, 100 * correct_int8 / count, count


def _write_metadata(
    path: Path,
    exported: dict[str, str],
    model: nn.Module,
    metrics: list[Metric],
    calibration: list[Batch],
    *,
    checked: bool,
) -> None:
    import onnx
    import onnxruntime

    quantized = onnx.load(str(path))
    cfg = pretrained_cfg(model)
    base = (cfg.name if cfg.tag is not None else (cfg.source or cfg.base_model)) if cfg is not None else None
    calibrated = sum(len(images) for images, _ in calibration)
    how = (
        f"int8 post-training static quantization (ONNX Runtime {onnxruntime.__version__}, QDQ, per-channel "
        f"int8 weights, uint8 activations calibrated min/max on {calibrated} images)"
    )
    if not checked:
        how += "; its top-1 was not checked against fp32 (max_top1_drop=None)"
    metadata: dict[str, Any] = {**exported, "weights": f"{how} of {base or model_name(model)}"}
    if cfg is not None:
        metadata.update(record_metadata(cfg.derived(metrics=metrics, notes=how)))
    del quantized.metadata_props[:]
    _add_metadata(quantized, metadata)
    onnx.save(quantized, str(path))
