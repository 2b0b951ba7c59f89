"""Draws ``docs/_static/explanations.png`` (``docs/explain.md``): real predictions, explained.

One test image of each CIFAR-10 class from the JPEG copy of the test split (the first file of each
class folder, so the picture is the same on every run), classified by akamaster's pretrained ResNet-56
(``resnet56_cifar.akamaster_cifar10``, loaded by name as a user would), and explained for the predicted
class with both of :func:`resnetzoo.explain`'s methods and drawn by :func:`resnetzoo.plot.explanations`:
per row, the image (titled with its true class, in red with the prediction when it is wrong), the
Grad-CAM overlay, the Integrated Gradients overlay and the top-3 classes.

Run from the repository root (``pip install "resnetzoo[explain]"``; ``--mirror`` serves the weights file
without a network)::

    python scripts/make_explanations.py --mirror ../shared/weights/akamaster --data /tmp/data/cifar10-jpeg
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import resnetzoo as rz
from resnetzoo import plot
from resnetzoo.hub.pretrained import MIRROR_ENV

OUT = Path(__file__).resolve().parents[1] / "docs" / "_static" / "explanations.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", default=None, help="RESNETZOO_WEIGHTS_MIRROR with akamaster's files")
    parser.add_argument("--data", required=True, help="the JPEG copy: DIR/test/<class>/*.jpg")
    parser.add_argument("--weights", default="resnet56_cifar.akamaster_cifar10", help="weights by name")
    parser.add_argument("--out", type=Path, default=OUT, help=f"PNG to write (default: {OUT})")
    args = parser.parse_args()
    if args.mirror is not None:
        os.environ[MIRROR_ENV] = args.mirror
    model = rz.create_model(args.weights, pretrained=True).eval()
    folders = sorted(p for p in (Path(args.data) / "test").iterdir() if p.is_dir())
    images = [str(sorted(folder.glob("*.jpg"))[0]) for folder in folders]
    gradcam = rz.explain(model, images, method="gradcam")
    gradients = rz.explain(model, images, method="integrated_gradients")

    classes = list(model.pretrained_cfg.categories)
    truth = [classes.index(Path(image).parent.name) for image in images]
    for image, cam, index in zip(images, gradcam, truth, strict=True):
        top = cam.predictions[0]
        print(f"{image}: {top.label} ({top.probability:.1%}), truth {classes[index]}")
    figure = plot.explanations(
        [gradcam, gradients],
        classes=classes,
        targets=truth,
        title=f"{args.weights}: the predicted class of one test image per class, explained",
    )
    plot.save_figure(figure, args.out, what="the explanations")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
