"""``resnetzoo eval | predict | explain``: what a trained model says about data and images."""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

from .._model_info import model_input_size
from ..data import load_splits
from ..evaluation import evaluate
from ..explain import METHODS, explain
from ..predict import Prediction, predict
from ..train._setup import resolve_device
from ._common import add_data_arguments, add_model_arguments, load_model, normalisation, print_metrics

__all__ = ["COMMANDS"]


def _cmd_eval(args: argparse.Namespace) -> int:
    model = load_model(args)
    # An image folder is resized to the model's input size, as predict resizes an image.
    size = tuple(model_input_size(model)[1:])
    splits = load_splits(args.data, args.data_dir, val_size=args.val_size, size=size)
    mean, std = normalisation(model, splits.mean, splits.std)
    dataset = {"train": splits.train, "val": splits.val, "test": splits.test}[args.split]
    if dataset is None:
        raise ValueError(f"the data has no {args.split} split")
    # Classes are matched by name inside evaluate: a folder of cat/dog/ship is scored as the model's.
    result = evaluate(
        model,
        dataset,
        device=resolve_device(args.device),
        batch_size=args.batch_size,
        mean=mean,
        std=std,
        tta=args.tta,
    )
    metrics = {"loss": result.loss, "top1": result.top1, "top5": result.top5}
    if result.top1_tta is not None:
        metrics["top1_tta"] = result.top1_tta
    print_metrics(f"{args.split} ({len(dataset):,} images)", metrics)
    if args.confusion is not None:
        csv_path, png_path = result.save_confusion(args.confusion)
        print(f"wrote the confusion matrix to {csv_path} and {png_path}")
    return 0


def _format_predictions(images: Sequence[str], results: Sequence[Sequence[Prediction]]) -> str:
    """One block per image: its name, then one line per class: probability, index, name."""
    index_width = max((len(str(p.index)) for preds in results for p in preds), default=1)
    lines = []
    for image, preds in zip(images, results, strict=True):
        lines.append(image)
        for p in preds:
            lines.append(f"  {p.probability:>7.2%}  {p.index:>{index_width}}  {p.label or ''}".rstrip())
    return "\n".join(lines)


def _cmd_predict(args: argparse.Namespace) -> int:
    model = load_model(args)
    results = predict(model, args.images, topk=args.topk, device=args.device, batch_size=args.batch_size)
    if args.json:
        records = [
            {"image": image, "predictions": [dataclasses.asdict(p) for p in preds]}
            for image, preds in zip(args.images, results, strict=True)
        ]
        print(json.dumps(records, indent=2))
    else:
        print(_format_predictions(args.images, results))
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    model = load_model(args)
    out = Path(args.out)
    explanations = explain(model, args.images, method=args.method, target=args.target, device=args.device)
    used: set[str] = set()
    for image, explanation in zip(args.images, explanations, strict=True):
        name = Path(image).stem or "image"
        # Two inputs with the same file name (a/cat.png, b/cat.png) must not overwrite each other's PNG.
        unique, n = name, 1
        while unique in used:
            n += 1
            unique = f"{name}-{n}"
        used.add(unique)
        path = explanation.save(out / f"{unique}.png")
        top = explanation.predictions[0]
        print(f"{image}: {top.label or top.index} ({top.probability:.1%}) -> {path}")
    return 0


def _eval_parser(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Evaluate a model on a data split. Images are normalised as the weights were trained when they "
        "record it, else with the data's statistics."
    )
    add_model_arguments(p)
    add_data_arguments(p)
    p.add_argument("--split", default="test", choices=("test", "val", "train"), help="split (default: test)")
    p.add_argument("--batch-size", type=int, default=500, help="images per batch (default: 500)")
    p.add_argument("--tta", action="store_true", help="also report flip-TTA top-1")
    p.add_argument(
        "--confusion",
        metavar="DIR",
        default=None,
        help="also write the confusion matrix to DIR/confusion.csv and DIR/confusion.png (needs "
        "pip install 'resnetzoo[plot]')",
    )
    p.set_defaults(func=_cmd_eval)


def _explain_parser(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Explain predictions with Grad-CAM (the last stage's feature map) or Integrated Gradients "
        "(pixels); needs pip install 'resnetzoo[explain]'."
    )
    add_model_arguments(p)
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (any size; PNG, JPEG, ...)")
    p.add_argument(
        "--out", required=True, metavar="DIR", help="folder for the PNGs (one per image, named after it)"
    )
    p.add_argument(
        "--method", choices=METHODS, default="gradcam", help="attribution method (default: gradcam)"
    )
    p.add_argument(
        "--target", type=int, default=None, help="class index to explain (default: the predicted one)"
    )
    p.add_argument("--device", default=None, help="e.g. cpu, cuda (default: cpu)")
    p.set_defaults(func=_cmd_explain)


def _predict_parser(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (any size; PNG, JPEG, ...)")
    p.add_argument("--topk", type=int, default=5, help="classes per image (default: 5)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--device", default=None, help="e.g. cpu, cuda (default: cpu)")
    p.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default: 256)")
    p.set_defaults(func=_cmd_predict)


# Each command's arguments, added to its subparser (resnetzoo.cli builds only the one that runs).
COMMANDS = {"eval": _eval_parser, "explain": _explain_parser, "predict": _predict_parser}
