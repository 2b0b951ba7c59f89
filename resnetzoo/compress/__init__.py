"""Smaller, faster models: int8 quantization, structured pruning and knowledge distillation.

:func:`quantize` writes a static int8 ONNX file for ONNX Runtime, :func:`prune` removes whole
channels inside every residual block and fine-tunes the narrower network, and :func:`distill`
trains a small student on a large teacher's soft targets. All three are also ``resnetzoo.quantize``,
``resnetzoo.prune`` and ``resnetzoo.distill``; see docs/compress.md.
"""

from .distill import distill
from .prune import prune
from .quantize import quantize

__all__ = ["distill", "prune", "quantize"]
