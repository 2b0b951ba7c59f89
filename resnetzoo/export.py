"""Export a model to ONNX or TorchScript, checked against PyTorch before the file is written.

ONNX goes through ``torch.onnx.export(..., dynamo=True)``: the ``torch.export``-based exporter
(translation by onnxscript) that has been PyTorch's default and recommended path since 2.9. The
batch dimension is made dynamic with ``dynamic_shapes`` (a named ``torch.export.Dim``), which shows
up as the symbolic dimension ``"batch"`` in the ONNX graph's input and output.

That exporter writes opset 18 or later: asked for an older one, it wrote 18 without a word (ONNX's
version converter has no adapter down to 17 for ``Pad``). For an opset below 18, which older
runtimes need, the legacy TorchScript-based exporter (``dynamo=False``, deprecated by PyTorch but
still able to write opsets 7 to 17) writes it instead, and the opset of every file written is
checked against the one asked for.

Example:
    >>> import resnetzoo as rz
    >>> path = rz.export(rz.resnet20_cifar(), "resnet20.onnx")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import json
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from ._files import atomic_path
from ._model_info import model_input_size, model_name, pretrained_cfg
from ._record import RECORD_KEY, encode_record
from ._validate import check_bool, check_choice, check_input_size, check_int
from .errors import ArgumentError, ResnetzooError

__all__ = ["DYNAMO_MIN_OPSET", "FORMATS", "ExportCheckError", "export", "onnx_opset"]

logger = logging.getLogger(__name__)

FORMATS = ("onnx", "torchscript")
"""The formats :func:`export` writes."""

ExportFormat = Literal["onnx", "torchscript"]

# The exported model must agree with PyTorch elementwise to |exported - torch| <= ATOL + RTOL * |torch|.
# fp32 kernels of different runtimes differ by rounding only (~1e-6 on these logits); a broken export
# differs by the size of the logits. The relative term keeps large logits of trained models from
# failing on rounding alone.
ATOL = 1e-4
RTOL = 1e-4

# The oldest opset the torch.export-based exporter writes; older ones go through the TorchScript-based one.
DYNAMO_MIN_OPSET = 18
# The opsets PyTorch's TorchScript-based exporter writes (torch.onnx: 7 to 17 for it, here, below 18).
_LEGACY_MIN_OPSET = 7

# torch.export specialises dimensions of size 0 and 1, so a dynamic batch needs an example of 2 or more.
_EXAMPLE_BATCH = 2
_INSTALL_HINT = 'pip install "resnetzoo[export]"'


class ExportCheckError(ResnetzooError, RuntimeError):
    """The exported model's outputs differ from the PyTorch model's (the file was not written)."""


def export(
    model: nn.Module,
    path: str | os.PathLike[str],
    format: ExportFormat = "onnx",
    *,
    input_size: Sequence[int] | None = None,
    opset: int | None = None,
    dynamic_batch: bool = True,
    check: bool = True,
) -> Path:
    """Export a model for inference without resnetzoo: ONNX or TorchScript, fp32, on CPU, eval mode.

    The model is copied first, so the caller's model keeps its mode, device, dtype and parameters.
    The file is written atomically: the model goes to a temporary file next to ``path``, is checked
    there, and only then replaces ``path``, so a failed export never leaves a partial file or
    overwrites an existing one.

    ONNX files carry ``metadata_props`` (string values, lists as JSON): ``resnetzoo_version``,
    ``model_name``, ``input_size``, ``num_classes``, and ``categories``, ``mean``, ``std``, ``license``
    and ``weights`` (their name, or what they were fine-tuned from) when ``model.pretrained_cfg``
    records them, and ``record``: the whole :class:`~resnetzoo.Weights` record as JSON
    (``rz.Weights(**json.loads(value))`` rebuilds it). TorchScript files carry the same values as one JSON
    object in the extra file ``resnetzoo.json`` (read it with
    ``torch.jit.load(path, _extra_files={"resnetzoo.json": ""})``).

    Args:
        model: The model to export (any device, dtype or mode).
        path: Output file; missing parent directories are created.
        format: ``"onnx"`` or ``"torchscript"``.
        input_size: ``(channels, height, width)`` of one image; defaults to the model's own
            (``pretrained_cfg.input_size``, else ``(model.in_chans, 32, 32)``). Height and width are
            fixed in the exported graph.
        opset: ONNX opset version (7 or later); ``None`` lets PyTorch choose its recommended one. Below
            18 the file is written by PyTorch's older, TorchScript-based exporter. ONNX only.
        dynamic_batch: Make the ONNX batch dimension dynamic (any batch size); if ``False`` the graph
            takes batches of exactly 1. TorchScript models accept any batch size either way.
        check: Run the exported file (ONNX with onnxruntime, TorchScript with ``torch.jit.load``) on
            random inputs and compare with PyTorch, at batch sizes 1, 2 and 5 when the batch is
            dynamic; see :data:`ATOL` and :data:`RTOL`.

    Returns:
        The path written.

    Raises:
        ValueError: If ``format`` is unknown, ``input_size`` is not three positive sizes, ``opset`` is
            given for TorchScript, or ``path`` is a directory.
        ImportError: If ``onnx`` or ``onnxscript`` (or ``onnxruntime`` when ``check``) is missing for
            an ONNX export; install them with ``pip install "resnetzoo[export]"``.
        ExportCheckError: If the exported model's outputs differ from the PyTorch model's, or the file
            does not have the opset asked for.

    Example:
        >>> import resnetzoo as rz
        >>> rz.export(rz.resnet20_cifar(), "resnet20.onnx")  # doctest: +SKIP
        PosixPath('resnet20.onnx')
    """
    check_choice("format", format, FORMATS)
    opset = check_int("opset", opset, minimum=_LEGACY_MIN_OPSET, none=True)
    dynamic_batch = check_bool("dynamic_batch", dynamic_batch)
    check = check_bool("check", check)
    if format == "torchscript" and opset is not None:
        raise ValueError("opset applies to ONNX only; leave it None for format='torchscript'")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory; give a file path such as {path / ('model.' + format)}")
    if format == "onnx":
        # Fail before any work, with the install command, rather than deep inside torch.onnx.
        _require("onnx")
        _require("onnxscript")
        if check:
            _require("onnxruntime")
        _check_opset_known(opset)

    size = model_input_size(model) if input_size is None else check_input_size("input_size", input_size)

    # A copy in fp32 on the CPU in eval mode: export is deterministic and the caller's model is untouched.
    model = copy.deepcopy(model).to(device="cpu", dtype=torch.float32).eval()
    batch = _EXAMPLE_BATCH if dynamic_batch or format == "torchscript" else 1
    example = torch.randn((batch, *size), generator=torch.Generator().manual_seed(0))
    metadata = _metadata(model, size)

    with atomic_path(path, what="the exported model") as tmp:  # a failed export leaves no file behind
        if format == "onnx":
            _write_onnx(model, example, tmp, opset=opset, dynamic_batch=dynamic_batch, metadata=metadata)
            written = onnx_opset(tmp)
            if opset is not None and written != opset:
                raise ExportCheckError(
                    f"asked for ONNX opset {opset}, but PyTorch's exporter wrote opset {written}; the file "
                    "was not written"
                )
            if check:
                _check_onnx(model, tmp, example, dynamic_batch=dynamic_batch)
        else:
            _write_torchscript(model, example, tmp, metadata=metadata)
            if check:
                _check_torchscript(model, tmp, example)
    logger.info("exported %s to %s (%s, %.1f MB)", metadata["model_name"], path, format, _megabytes(path))
    return path


def _check_opset_known(opset: int | None) -> None:
    """Refuses an opset newer than the installed onnx knows, before the minutes an export takes."""
    import onnx

    newest = onnx.defs.onnx_opset_version()
    if opset is not None and opset > newest:
        raise ArgumentError(
            f"opset must be an integer in [{_LEGACY_MIN_OPSET}, {newest}] (the opsets the installed onnx "
            f"{onnx.__version__} knows); got {opset}"
        )


def _require(module: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"ONNX export needs the {module!r} package; install it with {_INSTALL_HINT}"
        ) from err


def _metadata(model: nn.Module, input_size: tuple[int, ...]) -> dict[str, Any]:
    # Imported here: the package __init__ imports this module before it defines __version__.
    from . import __version__

    meta: dict[str, Any] = {
        "resnetzoo_version": __version__,
        "model_name": model_name(model),
        "input_size": list(input_size),
    }
    num_classes = getattr(model, "num_classes", None)
    if num_classes is not None:
        meta["num_classes"] = int(num_classes)
    cfg = pretrained_cfg(model)
    for key in ("categories", "mean", "std"):
        value = getattr(cfg, key, None)
        if value is not None:
            meta[key] = list(value)
    if cfg is not None and cfg.license is not None:  # exported weights keep their license
        meta["license"] = cfg.license
    if cfg is not None and (cfg.tag is not None or cfg.base_model is not None):
        meta["weights"] = cfg.name if cfg.tag is not None else f"fine-tuned from {cfg.base_model}"
    if (
        cfg is not None
    ):  # the whole record, in the one JSON shape (resnetzoo._record); not this machine's path
        meta[RECORD_KEY] = encode_record(cfg, exclude=("file",))
    return meta


def _metadata_strings(metadata: dict[str, Any]) -> dict[str, str]:
    """ONNX metadata values are strings: lists and numbers go in as JSON."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in metadata.items()}


def _add_metadata(proto: Any, metadata: dict[str, Any]) -> None:
    """Add ``metadata`` to an ``onnx.ModelProto``'s ``metadata_props``, as :func:`_metadata_strings`."""
    for key, value in _metadata_strings(metadata).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


def _write_onnx(
    model: nn.Module,
    example: torch.Tensor,
    path: Path,
    *,
    opset: int | None,
    dynamic_batch: bool,
    metadata: dict[str, Any],
) -> None:
    """Write ``model`` as ONNX: through the torch.export-based exporter, or for an opset below
    :data:`DYNAMO_MIN_OPSET` (which it does not write) through PyTorch's TorchScript-based one."""
    if opset is not None and opset < DYNAMO_MIN_OPSET:
        _write_onnx_legacy(model, example, path, opset, dynamic_batch, metadata)
        return
    # Positional (tuple) form, so it does not depend on the name of the model's forward argument.
    dynamic_shapes = ({0: torch.export.Dim("batch", min=1)},) if dynamic_batch else None
    program = torch.onnx.export(
        model,
        (example,),
        dynamo=True,
        input_names=["input"],
        output_names=["logits"],
        opset_version=opset,
        dynamic_shapes=dynamic_shapes,
        verbose=False,  # otherwise the exporter prints its progress to stdout
    )
    program.model.metadata_props.update(_metadata_strings(metadata))
    # One self-contained file: the largest model of the zoo (ResNet-152, 233 MB) is far below the
    # 2 GB protobuf limit that would need external data.
    program.save(path, external_data=False)


def _write_onnx_legacy(
    model: nn.Module,
    example: torch.Tensor,
    path: Path,
    opset: int,
    dynamic_batch: bool,
    metadata: dict[str, Any],
) -> None:
    """An opset below 18 through PyTorch's TorchScript-based exporter, which still writes them."""
    import onnx

    logger.info(
        "ONNX opset %s is older than %d, the oldest the torch.export-based exporter writes: using PyTorch's "
        "TorchScript-based exporter",
        opset,
        DYNAMO_MIN_OPSET,
    )
    axes = {"input": {0: "batch"}, "logits": {0: "batch"}} if dynamic_batch else None
    with warnings.catch_warnings():
        # It is deprecated and says so on every call; tracing the model's input check (a shape
        # compared with the channel count) warns that the comparison is frozen, which is what it is; and
        # option-A shortcuts' strided slices cannot be constant-folded, which the check below covers.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Constant folding", category=UserWarning)
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes=axes,
        )
    proto = onnx.load(str(path))
    _add_metadata(proto, metadata)
    onnx.save(proto, str(path))


def onnx_opset(path: str | os.PathLike[str]) -> int:
    """The opset of the default ONNX domain that the file at ``path`` uses."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    return next(entry.version for entry in proto.opset_import if entry.domain in ("", "ai.onnx"))


def _write_torchscript(
    model: nn.Module, example: torch.Tensor, path: Path, *, metadata: dict[str, Any]
) -> None:
    logger.warning("TorchScript is deprecated by PyTorch; ONNX (format='onnx') is the portable choice")
    try:
        with _quiet_jit_deprecation():
            module = torch.jit.script(model)
        logger.info("TorchScript: scripted %s", metadata["model_name"])
    # The TorchScript compiler raises many exception types for unsupported Python (NotSupportedError,
    # RuntimeError, TypeError, ...). Not swallowed: tracing is the fallback, and its own errors propagate.
    except Exception as err:
        logger.warning(
            "TorchScript: torch.jit.script failed (%s); traced %s with an example input instead. "
            "A traced model replays the operations of that input: Python control flow that depends "
            "on the input is frozen.",
            err,
            metadata["model_name"],
        )
        with _quiet_jit_deprecation():
            module = torch.jit.trace(model, example)
    with _quiet_jit_deprecation():
        torch.jit.save(module, str(path), _extra_files={"resnetzoo.json": json.dumps(metadata)})


@contextlib.contextmanager
def _quiet_jit_deprecation() -> Iterator[None]:
    # torch.jit.script/trace/save/load each warn that TorchScript is deprecated; the one warning
    # logged above says so once, instead of three or four FutureWarnings per export.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"`torch\.jit\.\w+` is deprecated", FutureWarning)
        yield


def _check_onnx(model: nn.Module, path: Path, example: torch.Tensor, *, dynamic_batch: bool) -> None:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    # Batches of 1, 2 and 5 when dynamic: the batch axis must really accept sizes other than the example's.
    batches = (
        [example[:1], example, torch.cat([example, example, example[:1]])] if dynamic_batch else [example]
    )
    for x in batches:
        (out,) = session.run(None, {input_name: x.numpy()})
        _compare(out, _reference(model, x), f"ONNX Runtime at batch size {len(x)}")


def _check_torchscript(model: nn.Module, path: Path, example: torch.Tensor) -> None:
    with _quiet_jit_deprecation():
        loaded = torch.jit.load(str(path), map_location="cpu")
    for x in (example[:1], example):
        with torch.inference_mode():
            out = loaded(x).numpy()
        _compare(out, _reference(model, x), f"the reloaded TorchScript model at batch size {len(x)}")


def _reference(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return model(x).numpy()


def _compare(out: np.ndarray, ref: np.ndarray, what: str) -> None:
    if not np.isfinite(ref).all():
        raise ExportCheckError(
            "cannot check the export: the PyTorch model's outputs on random inputs are not finite "
            "(an untrained very deep model in eval mode can overflow); export with check=False"
        )
    if out.shape != ref.shape:
        raise ExportCheckError(
            f"{what} returned shape {out.shape}, PyTorch {ref.shape}; the file was not written"
        )
    if not np.all(np.abs(out - ref) <= ATOL + RTOL * np.abs(ref)):
        max_diff = float(np.nanmax(np.abs(out - ref))) if np.isfinite(out).any() else float("nan")
        raise ExportCheckError(
            f"{what} disagrees with PyTorch: max abs difference {max_diff:.3g} exceeds "
            f"{ATOL:g} + {RTOL:g} * |output|; the file was not written. Please report this as a bug."
        )


def _megabytes(path: Path) -> float:
    return path.stat().st_size / 1e6
