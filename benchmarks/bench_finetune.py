"""Fine-tuning real pretrained weights against training from scratch, on a task the weights never saw (CPU).

The protocol, all in one run:

1. **The pretrained weights**: ``--pretrained`` by name (default ``resnet56_cifar.akamaster_cifar10``,
   akamaster's CIFAR-10 weights), loaded as a user would (``create_model(name, pretrained=True)``:
   verified, converted, cached; ``--mirror`` serves the file without a network).
2. **The new task**: handwritten digits, the 1,797 8x8 images of ``sklearn.datasets.load_digits``
   (bundled with scikit-learn: ``pip install scikit-learn``), scaled to 0..255, resized to 32x32
   (bilinear) and repeated to RGB. Not CIFAR, not natural images, 10 other classes. ``--per-class``
   labelled training images per digit, drawn at random; ``--val-per-class`` more form a validation
   split, which chooses the learning rate of each method; all the other images are the test split,
   looked at once per method, after that choice.
3. **Fine-tune** the pretrained network with :func:`resnetzoo.fine_tune` (a new 10-class head;
   ``--freeze-epochs`` epochs of the head alone, then ``--epochs`` of everything), inputs normalised
   with the statistics the weights were trained with (the record's); **train from scratch** the same
   architecture on the same images for the same number of epochs, so the same number of optimizer
   steps (one-cycle), inputs normalised with the training images' own statistics. Each method is run
   for each of its learning rates; both keep the weights of their last epoch.

Every run uses the same batches (DeviceLoader, batch 32, crop + flip off: digits are not symmetric;
crop on), the same TrainConfig otherwise (SGD, Nesterov, weight decay 5e-4, fp32, channels_last).

How to run, from the repository root::

    PYTHONPATH=. python benchmarks/bench_finetune.py --mirror ../shared/weights/akamaster
    PYTHONPATH=. python benchmarks/bench_finetune.py --mirror ../shared/weights/akamaster --smoke

The printed output is in ``docs/benchmarks.md`` ("Fine-tuning").
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import platform
import time

import torch
import torch.nn.functional as F

import resnetzoo as rz
from resnetzoo.data import AugmentConfig, DeviceLoader, TensorImageDataset, compute_mean_std
from resnetzoo.hub.pretrained import MIRROR_ENV


def digits() -> TensorImageDataset:
    """scikit-learn's 1,797 handwritten digits as 32x32 RGB uint8 images, labels 0-9."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(bunch.images).float() * (255 / 16)  # (N, 8, 8), 0..16 -> 0..255
    images = F.interpolate(images[:, None], size=(32, 32), mode="bilinear", align_corners=False)
    pixels = images.round().clamp(0, 255).to(torch.uint8).squeeze(1)[..., None].expand(-1, -1, -1, 3)
    return TensorImageDataset(
        pixels.contiguous(), torch.from_numpy(bunch.target).long(), [str(d) for d in range(10)]
    )


def split(
    dataset: TensorImageDataset, per_class: int, val_per_class: int, seed: int = 0
) -> tuple[TensorImageDataset, TensorImageDataset, TensorImageDataset]:
    """``(train, val, test)``: a fixed random draw of each class; the test split is all the rest."""
    g = torch.Generator().manual_seed(seed)
    parts: list[list[torch.Tensor]] = [[], [], []]
    for label in range(len(dataset.classes)):
        members = (dataset.targets == label).nonzero().squeeze(1)
        members = members[torch.randperm(len(members), generator=g)]
        parts[0].append(members[:per_class])
        parts[1].append(members[per_class : per_class + val_per_class])
        parts[2].append(members[per_class + val_per_class :])
    return tuple(  # type: ignore[return-value]
        TensorImageDataset(dataset.data[i], dataset.targets[i], dataset.classes)
        for i in (torch.cat(p).sort().values for p in parts)
    )


def config(**overrides) -> rz.TrainConfig:
    base = {"device": "cpu", "amp": "off", "progress": False, "loggers": (), "seed": 0, "batch_size": 32}
    return rz.TrainConfig(**{**base, **overrides})


NO_FLIP = AugmentConfig(flip=False)  # a mirrored 2 or 7 is not a 2 or 7


def loaders(
    train: TensorImageDataset, val: TensorImageDataset, mean: tuple[float, ...], std: tuple[float, ...]
) -> tuple[DeviceLoader, DeviceLoader]:
    return (
        DeviceLoader(train, min(32, len(train)), mean=mean, std=std, seed=0, augment=NO_FLIP),
        DeviceLoader(val, 500, train=False, mean=mean, std=std),
    )


def evaluate(model: torch.nn.Module, loader: DeviceLoader) -> float:
    return rz.Trainer(model, config()).validate(loader)["top1"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrained", default="resnet56_cifar.akamaster_cifar10", help="weights by name")
    parser.add_argument("--mirror", help="folder holding the weights file (RESNETZOO_WEIGHTS_MIRROR)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: 2)")
    parser.add_argument("--per-class", type=int, default=10, help="labelled images per digit")
    parser.add_argument("--val-per-class", type=int, default=30, help="validation images per digit")
    parser.add_argument("--freeze-epochs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=20, help="fine-tuning epochs after the frozen ones")
    parser.add_argument("--ft-lrs", type=float, nargs="+", default=[0.01, 0.03, 0.1, 0.3])
    parser.add_argument("--scratch-lrs", type=float, nargs="+", default=[0.003, 0.01, 0.03, 0.1, 0.3])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script")
    args = parser.parse_args(argv)
    if args.smoke:
        args.per_class, args.val_per_class, args.freeze_epochs, args.epochs = 2, 2, 1, 1
        args.ft_lrs, args.scratch_lrs = [0.03], [0.1]
    if args.mirror:
        os.environ[MIRROR_ENV] = os.path.abspath(args.mirror)
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Every run here keeps its last weights by design; the Trainer's warning about it would repeat each time.
    logging.getLogger("resnetzoo.train.trainer").setLevel(logging.ERROR)
    logging.getLogger("resnetzoo.hub.pretrained").setLevel(logging.ERROR)  # the new head, once per run
    started = time.perf_counter()

    pretrained = rz.create_model(args.pretrained, pretrained=True, progress=False)
    record = pretrained.pretrained_cfg
    train, val, test = split(digits(), args.per_class, args.val_per_class)
    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch thread(s); "
        f"torch {torch.__version__}; device cpu; resnetzoo {rz.__version__}"
    )
    print(
        f"pretrained: {record.name} ({record.license}; {record.dataset}, "
        f"{record.reported_top1:.2%} reported), "
        f"normalised with mean {record.mean}, std {record.std}"
    )
    print(
        f"new task: scikit-learn's handwritten digits at 32x32, 10 classes; {args.per_class} labelled images "
        f"per class ({len(train)}), validation {len(val)}, test {len(test):,}"
    )
    epochs = args.freeze_epochs + args.epochs
    own_mean, own_std = compute_mean_std(train)
    methods = {
        "fine-tune": (
            f"fine-tune ({args.freeze_epochs} head + {args.epochs} all epochs)",
            record.mean,
            record.std,
        ),
        "scratch": (f"from scratch ({epochs} epochs, one-cycle)", own_mean, own_std),
    }
    runs = []
    for lr in args.ft_lrs:
        train_loader, val_loader = loaders(train, val, record.mean, record.std)
        start = time.perf_counter()
        model = rz.fine_tune(
            copy.deepcopy(pretrained),
            train_loader,
            num_classes=10,
            epochs=args.epochs,
            freeze_epochs=args.freeze_epochs,
            lr=lr,
            config=config(),
        )
        runs.append(("fine-tune", lr, evaluate(model, val_loader), time.perf_counter() - start, model))
    for lr in args.scratch_lrs:
        train_loader, val_loader = loaders(train, val, own_mean, own_std)
        start = time.perf_counter()
        torch.manual_seed(0)  # the random initial weights, the same for every lr (fit seeds the rest)
        model = rz.create_model(record.architecture, num_classes=10)
        rz.Trainer(model, config(epochs=epochs, lr=lr, schedule="onecycle")).fit(train_loader)
        runs.append(("scratch", lr, evaluate(model, val_loader), time.perf_counter() - start, model))

    print(f"\n{'method':<42} {'lr':>6} {'val top-1':>10} {'time':>7}")
    for method, lr, top1, seconds, _ in runs:
        print(f"{methods[method][0]:<42} {lr:>6g} {100 * top1:>9.2f}% {seconds:>6.0f}s")
    results = {}
    print()
    for method, (label, mean, std) in methods.items():
        _, lr, top1, seconds, model = max((r for r in runs if r[0] == method), key=lambda r: r[2])
        results[method] = evaluate(model, DeviceLoader(test, 500, train=False, mean=mean, std=std))
        print(
            f"{label}, lr {lr:g} (best on val): test top-1 {100 * results[method]:.2f}% "
            f"({len(test):,} digits)"
        )
    print(
        f"fine-tuning - from scratch: {100 * (results['fine-tune'] - results['scratch']):+.2f} points "
        f"of test top-1; whole benchmark {time.perf_counter() - started:.0f} s"
    )
    if args.smoke:
        print("smoke run: tiny sizes, the numbers mean nothing")


if __name__ == "__main__":
    main()
