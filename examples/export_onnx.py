"""Export a resnetzoo model to ONNX and classify with ONNX Runtime alone, without PyTorch at inference.

Run:
    python examples/export_onnx.py --model resnet56_cifar --checkpoint resnet56.safetensors --output r56.onnx
    python examples/export_onnx.py --smoke   # random-init resnet20_cifar in a temporary directory

Needs the export extra: ``pip install "resnetzoo[export]"``.
"""

# smoke-requires: onnx onnxruntime onnxscript
# smoke-output: max |onnxruntime - pytorch| probability

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from safetensors.torch import load_file

import resnetzoo as rz


def build_model(name: str, checkpoint: str | None) -> torch.nn.Module:
    model = rz.create_model(name)
    if checkpoint is not None:
        model.load_state_dict(load_file(checkpoint))
    return model


def classify_with_onnxruntime(path: Path, images: np.ndarray) -> np.ndarray:
    """Softmax probabilities ``(B, num_classes)`` for normalised float32 images ``(B, C, H, W)``."""
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    print(
        f"{path.name}: {meta['model_name']}, input {json.loads(meta['input_size'])}, "
        f"resnetzoo {meta['resnetzoo_version']}"
    )
    (logits,) = session.run(None, {session.get_inputs()[0].name: images})
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))  # numerically stable softmax
    return exp / exp.sum(axis=1, keepdims=True)


def run(model: torch.nn.Module, output: Path) -> None:
    path = rz.export(model, output)  # checked against PyTorch with onnxruntime before it is written
    print(f"exported to {path} ({path.stat().st_size / 1e6:.1f} MB)")
    # Any batch size works: the batch axis of the exported graph is dynamic.
    rng = np.random.default_rng(0)
    images = rng.standard_normal((7, 3, 32, 32), dtype=np.float32)
    probs = classify_with_onnxruntime(path, images)
    with torch.inference_mode():
        torch_probs = model.eval()(torch.from_numpy(images)).softmax(dim=1).numpy()
    print(f"top-1 classes: {probs.argmax(axis=1).tolist()}")
    print(f"max |onnxruntime - pytorch| probability: {np.abs(probs - torch_probs).max():.2e}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet20_cifar", help="registered model name")
    parser.add_argument("--checkpoint", default=None, help="a .safetensors state dict for the model")
    parser.add_argument("--output", type=Path, default=Path("model.onnx"), help="ONNX file to write")
    parser.add_argument("--smoke", action="store_true", help="random-init resnet20_cifar in a temp dir")
    args = parser.parse_args(argv)
    if args.smoke:
        with tempfile.TemporaryDirectory() as tmp:
            run(rz.resnet20_cifar(), Path(tmp) / "resnet20_cifar.onnx")
    else:
        run(build_model(args.model, args.checkpoint), args.output)


if __name__ == "__main__":
    main()
