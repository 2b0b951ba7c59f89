"""Fine-tune a CIFAR-10 model on CIFAR-100: a new 100-class head first, then the whole network.

Run:
    python examples/fine_tune_cifar100.py --data-dir ~/data                    # akamaster's CIFAR-10 weights
    python examples/fine_tune_cifar100.py --data-dir ~/data --weights runs/c10   # a run or saved model
    python examples/fine_tune_cifar100.py --smoke   # synthetic stand-in data, a few seconds on a CPU

CIFAR-100 is read from DATA_DIR/cifar-100-python (``--download`` fetches it). ``--weights`` takes
anything ``resnetzoo.from_pretrained`` reads: a run folder (``resnetzoo train | fine-tune --out``), a
``save_pretrained`` folder, or ``hf-hub:org/name``.
"""

# smoke-output: CIFAR-100 test top-1
# smoke-output: smoke run done

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

import resnetzoo as rz
from resnetzoo.data import DeviceLoader, TensorImageDataset, load_splits


def synthetic_cifar100(n: int, seed: int) -> TensorImageDataset:
    """Random 32x32 images in 100 classes: the shape of CIFAR-100, for --smoke (nothing to learn)."""
    g = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (n, 32, 32, 3), generator=g, dtype=torch.uint8)
    return TensorImageDataset(pixels, torch.arange(n) % 100, [f"class{i}" for i in range(100)])


def run(args: argparse.Namespace, out: Path) -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"

    # 1. The pretrained model. Its CIFAR-10 head is replaced by fine_tune (num_classes=100 below).
    if args.smoke:
        model = rz.resnet20_cifar()  # random weights stand in for pretrained ones
    elif args.weights:
        model = rz.from_pretrained(args.weights)
    else:
        model = rz.create_model(args.model, pretrained=True)  # downloaded, verified and cached once

    # 2. The data: a validation split carved from the training set selects the best epoch; the test
    # split is looked at once, at the end.
    if args.smoke:
        train_set, val_set, test_set = (
            synthetic_cifar100(n, seed) for n, seed in ((128, 0), (100, 1), (100, 2))
        )
        data_mean, data_std = (0.5,) * 3, (0.25,) * 3
    else:
        splits = load_splits("cifar100", args.data_dir, val_size=5000, download=args.download)
        train_set, val_set, test_set = splits.train, splits.val, splits.test
        data_mean, data_std = splits.mean, splits.std
    # Normalise as the pretrained weights were trained (their features expect that input
    # distribution: ImageNet's statistics for akamaster's weights); random weights record none.
    cfg = model.pretrained_cfg
    mean, std = cfg.mean or data_mean, cfg.std or data_std
    batch_size = 64 if args.smoke else 128
    train = DeviceLoader(train_set, batch_size, device=device, mean=mean, std=std)  # crop + flip
    val = DeviceLoader(val_set, 500, device=device, train=False, mean=mean, std=std)
    test = DeviceLoader(test_set, 500, device=device, train=False, mean=mean, std=std)

    # 3. Fine-tune: 1 epoch of the new head on the frozen backbone, then everything, the head at
    # lr and each stage below it at lr_mult (0.5) times the lr of the one above. Checkpoints and
    # metrics.csv go to out/phase1 and out/phase2, and the returned model, with its record (classes,
    # the mean/std it was trained with, the data set, the weights it started from), to out/best/.
    config = rz.TrainConfig(device=device, out_dir=str(out), progress=not args.smoke)
    model = rz.fine_tune(
        model,
        train,
        num_classes=100,
        val_loader=val,
        epochs=1 if args.smoke else args.epochs,
        freeze_epochs=1,
        config=config,
    )
    for row in model.fine_tune_history:
        print(f"phase {row['phase']} epoch {row['epoch']}: val top-1 {100 * row['val_top1']:.2f}%")

    # 4. Test once. With the run's out_dir, the score goes to out/test_metrics.json and into the record
    # of out/best/, which from_pretrained, predict and `resnetzoo export | push --weights` read.
    tester = rz.Trainer(model, rz.TrainConfig(device=device, progress=False, out_dir=str(out)))
    top1 = tester.test(test)["top1"]
    print(f"CIFAR-100 test top-1: {100 * top1:.2f}%")
    print(f"the fine-tuned model is in {out / 'best'}: rz.from_pretrained({str(out)!r})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data", help="folder holding cifar-100-python/")
    parser.add_argument("--download", action="store_true", help="download CIFAR-100 if it is missing")
    parser.add_argument("--model", default="resnet56_cifar.cifar10", help="registered model with weights tag")
    parser.add_argument("--weights", help="a run or saved folder, or hf-hub:org/name, instead of --model")
    parser.add_argument("--epochs", type=int, default=15, help="epochs training everything")
    parser.add_argument(
        "--out", type=Path, help="output folder (default: runs/cifar100; --smoke: a temp dir)"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny synthetic run, to check the script")
    args = parser.parse_args(argv)
    if not args.smoke:
        run(args, args.out or Path("runs/cifar100"))
        return
    with tempfile.TemporaryDirectory() as tmp:
        run(args, args.out or Path(tmp))
    print("smoke run done (random data: the accuracies mean nothing)")


if __name__ == "__main__":
    main()
