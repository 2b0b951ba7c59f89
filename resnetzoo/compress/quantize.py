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

Before the file is written, its top-1 is compared with the fp32 model's on labelled images: it may
lose at most ``max_top1_drop`` points (1.0 by default).

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
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._files import atomic_path
from .._model_info import model_name, pretrained_cfg
from .._record import record_metadata
from ..export import ExportCheckError, _add_metadata, _require, export
from ..models.weights import Metric

__all__ = ["DEFAULT_MAX_TOP1_DROP", "quantize"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_TOP1_DROP = 1.0
"""Top-1 points the int8 model may lose against fp32 on the check images before quantize refuses it."""


def quantize(
    model: nn.Module,
    calibration_loader: Iterable[Any],
    path: str | os.PathLike[str],
    *,
    calibration_images: int = 1024,
    check_loader: Iterable[Any] | None = None,
    max_top1_drop: float = DEFAULT_MAX_TOP1_DROP,
    input_size: Sequence[int] | None = None,
) -> Path:
    """Quantize a model to int8 for CPU inference: an ONNX file with static int8 weights and activations.

    Calibration runs the fp32 model on images from ``calibration_loader`` to fix the activation
    ranges; use images like those the model will see, normalised as it expects (a
    :class:`~resnetzoo.data.DeviceLoader` with the model's ``mean``/``std``, shuffled, so that all
    classes are among them). The file is then checked: on the labelled batches of
    ``check_loader`` (else the calibration batches) its top-1 may be at most ``max_top1_drop``
    points below the fp32 model's.

    The file carries the export's metadata (:func:`resnetzoo.export`) and the record of the new
    weights as JSON in the ``record`` entry of ``metadata_props``: a :class:`~resnetzoo.Weights`
    derived from the model's, whose ``base_model`` names the fp32 weights, ``notes`` say how they
    were quantized, and ``metrics`` hold the measured ``top1`` (int8) and ``top1_fp32`` as
    :class:`~resnetzoo.Metric` fractions with the number of images and their split: ``"check"``
    (the check loader's) or ``"calibration"`` when no check loader was given, which are the images
    that fixed the ranges, often training images. ``rz.Weights(**json.loads(value))`` rebuilds
    the record. Load the model with ``onnxruntime.InferenceSession``.

    Args:
        model: The fp32 model (any device; it is copied to the CPU, the caller's is not changed).
        calibration_loader: Batches of normalised images, or ``(images, labels)``.
        path: The ONNX file to write (atomically, as :func:`resnetzoo.export` does).
        calibration_images: Calibrate on at most this many images (ONNX Runtime keeps every
            activation of every calibration batch in memory).
        check_loader: Labelled batches ``(images, labels)`` for the accuracy check, best a held-out
            split; None checks on the calibration batches (those fixed the ranges, not the labels).
        max_top1_drop: The most top-1 points the int8 model may lose against fp32.
        input_size: ``(channels, height, width)``; defaults to the model's own.

    Returns:
        The path written.

    Raises:
        ImportError: If ``onnx``, ``onnxscript`` or ``onnxruntime`` is missing
            (``pip install "resnetzoo[export]"``).
        ValueError: If ``calibration_images`` is below 1, ``max_top1_drop`` is negative, a loader
            yields no images, or the check batches have no labels; and what :func:`resnetzoo.export`
            raises.
        ExportCheckError: If the int8 model loses more than ``max_top1_drop`` top-1 points (the
            file is not written), or the fp32 export disagrees with PyTorch.
    """
    for module in ("onnx", "onnxscript", "onnxruntime"):
        _require(module)
    if not isinstance(calibration_images, int) or calibration_images < 1:
        raise ValueError(f"calibration_images must be an integer >= 1, got {calibration_images!r}")
    if not (isinstance(max_top1_drop, (int, float)) and math.isfinite(max_top1_drop) and max_top1_drop >= 0):
        raise ValueError(f"max_top1_drop must be a number of top-1 points >= 0, got {max_top1_drop!r}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory; give a file path such as {path / 'model.int8.onnx'}")

    import onnx
    import onnxruntime
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    model = copy.deepcopy(model).to(device="cpu", dtype=torch.float32).eval()
    calibration = _take_images(calibration_loader, calibration_images, "calibration_loader")
    if check_loader is None and any(labels is None for _, labels in calibration):
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
        split = "calibration" if check_loader is None else "check"  # the record says where it measured
        fp32_top1, int8_top1, count = _compare_top1(model, session, check)
        drop = fp32_top1 - int8_top1
        if drop > max_top1_drop:
            raise ExportCheckError(
                f"the int8 model's top-1 is {int8_top1:.2f}% against {fp32_top1:.2f}% in fp32 on {count} "
                f"{split} images, {drop:.2f} points lower, more than max_top1_drop={max_top1_drop:g}; the "
                "file was not written. Calibrate on more (or more typical) images, or keep the fp32 export"
            )
        top1 = [
            Metric(
                "top1", int8_top1 / 100, split=split, num_images=count
            ),  # fractions, as every record holds
            Metric("top1_fp32", fp32_top1 / 100, split=split, num_images=count),
        ]
        _write_metadata(tmp, exported_metadata, model, top1, calibration)
    logger.info(
        "quantized %s to int8: top-1 %.2f%% (fp32 %.2f%%) on %d %s images; wrote %s (%.1f MB)",
        model_name(model),
        int8_top1,
        fp32_top1,
        count,
        split,
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


def _compare_top1(model: nn.Module, session: Any, batches: Iterable[Any]) -> tuple[float, float, int]:
    """Top-1 in percent of the fp32 model and of the int8 session on the same labelled images."""
    correct_fp32 = correct_int8 = count = 0
    name = session.get_inputs()[0].name
    for batch in batches:
        images, labels = _split(batch)
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
    metadata: dict[str, Any] = {**exported, "weights": f"{how} of {base or model_name(model)}"}
    if cfg is not None:
        metadata.update(record_metadata(cfg.derived(metrics=metrics, notes=how)))
    del quantized.metadata_props[:]
    _add_metadata(quantized, metadata)
    onnx.save(quantized, str(path))
