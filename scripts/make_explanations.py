"""Draws ``docs/_static/explanations.png`` (``docs/explain.md``): real predictions, explained.

One test image of each CIFAR-10 class from the JPEG copy of the test split (the first file of each
class folder, so the picture is the same on every run), classified by akamaster's pretrained ResNet-56
(``resnet56_cifar.akamaster_cifar10``, loaded by name as a user would), and explained for the predicted
class with both of :func:`resnetzoo.explain`'s methods: per row, the image, the Grad-CAM overlay, the
Integrated Gradients overlay and the top-3 classes.

Run from the repository root (``pip install "resnetzoo[explain]"``; ``--mirror`` serves the weights file
without a network)::

    python scripts/make_explanations.py --mirror ../shared/weights/akamaster --data /tmp/data/cifar10-jpeg
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from matplotlib.figure import Figure

import resnetzoo as rz
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

    figure = Figure(figsize=(8.4, 1.9 * len(images)), dpi=100, layout="constrained")
    axes = figure.subplots(len(images), 4, width_ratios=[1, 1, 1, 1.4])
    for row, (image, cam, ig) in enumerate(zip(images, gradcam, gradients, strict=True)):
        truth = Path(image).parent.name
        axes[row][0].imshow(cam.image.permute(1, 2, 0).numpy(), interpolation="nearest")
        axes[row][0].set_title(f"{truth} ({Path(image).name})", fontsize=9)
        axes[row][1].imshow(cam.overlay(), interpolation="bilinear")
        axes[row][1].set_title("Grad-CAM", fontsize=9)
        axes[row][2].imshow(ig.overlay(), interpolation="nearest")
        axes[row][2].set_title("Integrated Gradients", fontsize=9)
        lines = [f"{p.probability:6.1%}  {p.label}" for p in cam.predictions]
        axes[row][3].text(0.0, 0.5, "\n".join(lines), family="monospace", fontsize=9, va="center")
        for ax in axes[row]:
            ax.set_axis_off()
        print(f"{image}: {cam.predictions[0].label} ({cam.predictions[0].probability:.1%}), truth {truth}")
    figure.suptitle(
        f"{args.weights}: the predicted class of one test image per class, explained", fontsize=10
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, format="png")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
