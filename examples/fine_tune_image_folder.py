"""Fine-tune a pretrained model on your own images: class folders in, a fine-tuned model folder out.

The images sit in DIR/<class>/*.png|jpg (or DIR/train/<class>/... with DIR/test/<class>/... for a
test split). Any size works as it is (64x64 images train at 64x64: the networks pool adaptively);
pass --size 32 to resize images of mixed sizes, or to train faster.

Run:
    python examples/fine_tune_image_folder.py my_images/ --weights runs/c10/best --out runs/mine
    python examples/fine_tune_image_folder.py my_images/ --model resnet56_cifar.cifar10
    python examples/fine_tune_image_folder.py --smoke   # writes a tiny folder of PNGs to a temp dir

The same from the shell: ``resnetzoo fine-tune --weights runs/c10/best --data my_images/``.
"""

# smoke-output: smoke run done

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import resnetzoo as rz
from resnetzoo.data import DeviceLoader, compute_mean_std, image_folder


def write_tiny_folder(root: Path) -> Path:
    """Three classes of 48x48 PNGs (a red, green or blue stripe on noise), 20 per class."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(("red", "green", "blue")):
        (root / name).mkdir(parents=True)
        for i in range(20):
            pixels = rng.integers(0, 120, (48, 48, 3), dtype=np.uint8)
            row = rng.integers(0, 40)
            pixels[row : row + 8, :, c] = 255
            Image.fromarray(pixels).save(root / name / f"{i:02d}.png")
    return root


def run(args: argparse.Namespace, data: Path, out: Path) -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"

    # 1. The pretrained model: weights by name, or a model you saved (save_pretrained, or the best/
    # folder of a `resnetzoo fine-tune` run).
    if args.smoke:
        model = rz.resnet20_cifar()  # random weights stand in for pretrained ones
    elif args.weights:
        model = rz.from_pretrained(args.weights)
    else:
        model = rz.create_model(args.model, pretrained=True)  # downloaded, verified and cached once

    # 2. The images, decoded once into one uint8 tensor (cached in out/cache for the next run), and a
    # stratified validation split to select the best epoch on.
    has_splits = (data / "train").is_dir()
    images = image_folder(
        data, split="train" if has_splits else None, size=args.size, cache_dir=out / "cache"
    )
    test_set = image_folder(data, split="test", size=args.size) if (data / "test").is_dir() else None
    train_set, val_set = images.train_val_split(max(len(images.classes), len(images) // 10))
    # Normalise every split as the pretrained weights expect (random weights record nothing: then with
    # the training pixels' own statistics).
    cfg = model.pretrained_cfg
    mean, std = (cfg.mean, cfg.std) if cfg.mean is not None else compute_mean_std(train_set)
    height, width = images.data.shape[1:3]
    print(f"{len(train_set)} training and {len(val_set)} validation images of {height}x{width}")
    print(f"classes: {', '.join(images.classes)}")
    batch_size = min(args.batch_size, len(train_set))
    train = DeviceLoader(train_set, batch_size, device=device, mean=mean, std=std)  # crop + flip
    val = DeviceLoader(val_set, 256, device=device, train=False, mean=mean, std=std)

    # 3. A new head for these classes, trained alone on the frozen backbone, then everything with
    # smaller learning rates for the earlier stages.
    config = rz.TrainConfig(device=device, out_dir=str(out), progress=not args.smoke)
    model = rz.fine_tune(
        model,
        train,
        num_classes=len(images.classes),
        val_loader=val,
        epochs=args.epochs,
        freeze_epochs=1,
        config=config,
    )
    best = max(model.fine_tune_history, key=lambda row: row["val_top1"])
    print(
        f"best validation top-1: {100 * best['val_top1']:.2f}% (phase {best['phase']}, epoch {best['epoch']})"
    )
    metrics = {}
    if test_set is not None:
        test = DeviceLoader(test_set, 256, device=device, train=False, mean=mean, std=std)
        metrics["top1"] = rz.Trainer(model, rz.TrainConfig(device=device, progress=False)).test(test)["top1"]
        print(f"test top-1: {metrics['top1']:.2%}")

    # 4. Save it with its class names and normalisation, load it back, and classify an image file:
    # predict() resizes and normalises as the saved config says.
    folder = rz.save_pretrained(
        model, out / "model", categories=images.classes, mean=mean, std=std, metrics=metrics
    )
    tuned = rz.from_pretrained(folder)
    some_image = next(p for p in sorted(data.rglob("*")) if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    (top,) = rz.predict(tuned, [some_image], topk=1)
    print(f"saved to {folder}")
    print(f"{some_image.parent.name}/{some_image.name}: {top[0].label} ({top[0].probability:.0%})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, help="the image folder (not with --smoke)")
    parser.add_argument("--model", default="resnet56_cifar.cifar10", help="registered model with weights tag")
    parser.add_argument("--weights", help="a saved model instead (save_pretrained folder or hf-hub:org/name)")
    parser.add_argument("--size", type=int, help="resize every image to SIZE x SIZE")
    parser.add_argument("--epochs", type=int, default=5, help="epochs training everything")
    parser.add_argument("--batch-size", type=int, default=64, help="images per step")
    parser.add_argument(
        "--out", type=Path, help="output folder (default: runs/image_folder; --smoke: a temp dir)"
    )
    parser.add_argument("--smoke", action="store_true", help="a tiny generated folder, to check the script")
    args = parser.parse_args(argv)
    if not args.smoke:
        if args.data is None:
            parser.error("give the image folder (or --smoke)")
        run(args, args.data, args.out or Path("runs/image_folder"))
        return
    args.epochs = 1
    with tempfile.TemporaryDirectory() as tmp:
        data = write_tiny_folder(Path(tmp) / "images")
        run(args, data, args.out or Path(tmp) / "out")
    print("smoke run done (an untrained stand-in model: the accuracies mean little)")


if __name__ == "__main__":
    main()
