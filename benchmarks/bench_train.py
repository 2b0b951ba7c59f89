"""Training speed: the Trainer against hand-written loops, and time to 94%-equivalent accuracy.

Three measurements, each in one run of this script:

``--device cpu`` (default): **Trainer overhead.** resnet20_cifar trained for ``--steps`` steps on the
same pre-built batches (tensors already on the device) by a minimal hand-written loop (forward,
cross-entropy, ``zero_grad``, backward, SGD step) and by ``Trainer.fit`` (which adds the lr
schedule, on-device metric sums, callbacks and its bookkeeping). Repeats are interleaved (ABBA)
after one warm-up of each, so drifting load hits both alike; the ratio of the medians is printed
(target: <= 1.05).

``--device cuda``: **throughput table**, resnet18_cifar, images/s after warm-up:

* seed-style loop: the seed article's pipeline: PIL images through torchvision ``RandomCrop(32, 4)``,
  ``RandomHorizontalFlip``, ``ToTensor``, ``Normalize`` in a ``DataLoader`` with 8 workers, fp32,
  batch 128, on CIFAR-like random uint8 images (50,000);
* hand loop: the plain GPU-resident loop (DeviceLoader, bf16 autocast, channels_last, fused SGD,
  batch 512);
* Trainer eager, and Trainer with ``torch.compile`` (default mode); with ``--cudagraphs`` also mode
  ``reduce-overhead`` (CUDA graphs, the fastest at these sizes on an H200 per DESIGN.md), with
  ``--max-autotune`` also mode ``max-autotune`` (several minutes of kernel tuning).

``--time-to-accuracy --data DIR``: the ``fast`` recipe (resnet18_cifar, 26 epochs, bf16,
channels_last, batch 512, triangular lr, crop + flip + cutout) trained on ``DIR/train`` (all 50,000
images, no validation split, as the reference runs) and tested once with flip-TTA on ``DIR/test``;
prints the training wall time and whether flip-TTA top-1 reached ``--target`` (0.907: the "94%" bar
of the JPEG copy, see shared/data/README.md). Decoding the JPEGs and one short warm-up fit (cuDNN
autotuning, CUDA context) are not timed.

``--smoke`` runs all three on the CPU with tiny sizes (a few minutes), to check the script before
spending GPU time.

How to run, from the repository root::

    PYTHONPATH=. python benchmarks/bench_train.py --device cpu --threads 1
    PYTHONPATH=. python benchmarks/bench_train.py --device cuda [--cudagraphs] [--max-autotune]
    tar xzf cifar10-jpeg.tar.gz -C /data   # -> /data/cifar10-jpeg/{train,test}/<class>/*.jpg
    PYTHONPATH=. python benchmarks/bench_train.py --time-to-accuracy --data /data/cifar10-jpeg [--runs 3]
    PYTHONPATH=. python benchmarks/bench_train.py --smoke

Measured on a 2-core AMD EPYC KVM guest shared with other jobs, torch 2.14.1, one thread
(``--device cpu --threads 1``), two runs: 20 steps x 5 repeats at load average ~1.5: hand-written
loop 683 ms/step wall (675 ms CPU), Trainer.fit 660 (649): ratio 0.966 wall, 0.961 CPU time;
10 steps x 6 repeats at load ~3: 962 (663) against 999 (680): 1.039 wall, 1.026 CPU. Both are
1.0 within the noise; the Trainer's fixed cost per step, measured apart on a one-layer model, is
about 0.13 ms of CPU time. With two threads on that busy 2-core machine single runs varied 6x
(OpenMP threads spin while the other core is taken), so use ``--threads 1`` there. The GPU figures,
each with the machine that printed it, are in docs/benchmarks.md; ``benchmarks/run_gpu.sh`` takes
them all in one run.
"""

from __future__ import annotations

import argparse
import copy
import logging
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

import resnetzoo as rz
from resnetzoo.data import CIFAR10_MEAN, CIFAR10_STD, TensorImageDataset, image_folder
from resnetzoo.train import TrainConfig, Trainer, get_recipe


def describe_machine(device: torch.device) -> str:
    gpu = f", {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""
    return (
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads{gpu}; "
        f"torch {torch.__version__}, Python {platform.python_version()}"
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def quiet_config(**fields) -> TrainConfig:
    """A TrainConfig that writes nothing and draws no bars: only the training step is measured."""
    return TrainConfig(**{"progress": False, "out_dir": None, "loggers": (), **fields})


# ---------------------------------------------------------------- 1. Trainer overhead


def hand_loop(model: nn.Module, batches: Sequence[tuple[torch.Tensor, torch.Tensor]], lr: float) -> None:
    """The minimal loop: what the Trainer's step must not be measurably slower than."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    model.train()
    for inputs, targets in batches:
        loss = F.cross_entropy(model(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def bench_overhead(device: torch.device, model_name: str, steps: int, batch_size: int, repeats: int) -> float:
    """Median time of Trainer.fit over median time of hand_loop on the same batches; prints both."""
    torch.manual_seed(0)
    template = rz.create_model(model_name).to(device, memory_format=torch.channels_last)
    batches = [
        (
            torch.randn(batch_size, 3, 32, 32, device=device).contiguous(memory_format=torch.channels_last),
            torch.randint(0, 10, (batch_size,), device=device),
        )
        for _ in range(steps)
    ]
    config = quiet_config(
        epochs=1, lr=0.05, schedule="constant", device=str(device), amp="off", channels_last=True, seed=None
    )

    def run_hand() -> None:
        hand_loop(copy.deepcopy(template), batches, lr=0.05)
        sync(device)

    def run_trainer() -> None:
        Trainer(copy.deepcopy(template), config).fit(batches)
        sync(device)

    def timed(fn: Callable[[], None]) -> tuple[float, float]:
        # Wall time, and this process's CPU time: on a machine shared with other jobs the second
        # is not inflated by their load (with one thread, CPU time is the work done).
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        return time.perf_counter() - wall, time.process_time() - cpu

    run_hand(), run_trainer()  # warm-up: allocator, oneDNN/cuDNN kernel choice
    times: dict[str, list[tuple[float, float]]] = {"hand": [], "trainer": []}
    for r in range(repeats):
        order = (("hand", run_hand), ("trainer", run_trainer))
        for name, fn in order if r % 2 == 0 else order[::-1]:  # ABBA: drift hits both alike
            times[name].append(timed(fn))
    print(
        f"\nTrainer overhead: {model_name}, {steps} steps of batch {batch_size}, "
        f"{repeats} interleaved repeats"
    )
    print(f"  machine: {describe_machine(device)}")
    ratios = {}
    for clock, index in (("wall", 0), ("cpu", 1)):
        if clock == "cpu" and device.type == "cuda":
            continue  # the GPU's work is not CPU time
        for name, label in (("hand", "hand-written loop"), ("trainer", "Trainer.fit")):
            per_step = [1000 * t[index] / steps for t in times[name]]
            print(
                f"  {clock:>4} {label:<18} {statistics.median(per_step):8.1f} ms/step (median; mean "
                f"{statistics.mean(per_step):.1f} +- {spread(per_step):.1f}), "
                f"runs: {', '.join(f'{t[index]:.2f}' for t in times[name])} s"
            )
        ratios[clock] = statistics.median(t[index] for t in times["trainer"]) / statistics.median(
            t[index] for t in times["hand"]
        )
    print(
        "  Trainer / hand loop = "
        + ", ".join(f"{r:.3f} ({c} time)" for c, r in ratios.items())
        + " (target <= 1.05)"
    )
    ratio = ratios["wall"]
    return ratio


# ---------------------------------------------------------------- 2. throughput table


class PILImages(Dataset):
    """uint8 ``(N, H, W, C)`` images served as PIL images through torchvision transforms (the seed's way)."""

    def __init__(self, pixels: np.ndarray, labels: np.ndarray, transform: Callable) -> None:
        self.pixels, self.labels, self.transform = pixels, labels, transform

    def __len__(self) -> int:
        return len(self.pixels)

    def __getitem__(self, index: int):
        return self.transform(Image.fromarray(self.pixels[index])), int(self.labels[index])


def seed_style_throughput(
    model_name: str,
    pixels: np.ndarray,
    labels: np.ndarray,
    device: torch.device,
    steps: int,
    warmup: int,
    workers: int,
) -> float:
    from torchvision import transforms

    transform = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD),
        ]
    )
    loader = DataLoader(
        PILImages(pixels, labels, transform),
        batch_size=128,
        shuffle=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        drop_last=True,
        persistent_workers=workers > 0,
    )
    torch.manual_seed(0)
    model = rz.create_model(model_name).to(device)  # fp32, contiguous: as the seed article
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    model.train()
    done, start = 0, None
    while done < warmup + steps:
        for inputs, targets in loader:
            if done == warmup:
                sync(device)
                start = time.perf_counter()
            inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
            loss = F.cross_entropy(model(inputs), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            done += 1
            if done == warmup + steps:
                break
    sync(device)
    return steps * 128 / (time.perf_counter() - start)


def hand_loop_throughput(
    model_name: str, loader, device: torch.device, amp: torch.dtype | None, epochs: int
) -> float:
    """The plain GPU-resident loop over the same DeviceLoader as the Trainer; img/s of its last epoch."""
    torch.manual_seed(0)
    model = rz.create_model(model_name).to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=0.1,
        momentum=0.9,
        nesterov=True,
        weight_decay=5e-4,
        fused=device.type == "cuda",
    )
    model.train()
    rate = 0.0
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        sync(device)
        start, seen = time.perf_counter(), 0
        for inputs, targets in loader:
            with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                loss = F.cross_entropy(model(inputs), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen += len(targets)
        sync(device)
        rate = seen / (time.perf_counter() - start)
    return rate


def trainer_throughput(
    model_name: str, dataset: TensorImageDataset, device: torch.device, batch_size: int, epochs: int, **fields
) -> tuple[float, float]:
    """(img/s of the last epoch, seconds the first epoch took beyond it: compilation and warm-up)."""
    torch.manual_seed(0)
    config = quiet_config(
        epochs=epochs, batch_size=batch_size, lr=0.1, schedule="constant", device=str(device), **fields
    )
    trainer = Trainer(rz.create_model(model_name), config)
    loader = trainer.make_loader(dataset, train=True, mean=CIFAR10_MEAN, std=CIFAR10_STD)
    history = trainer.fit(loader)
    return history[-1]["images_per_s"], history[0]["time_s"] - history[-1]["time_s"]


def bench_throughput(args: argparse.Namespace, device: torch.device) -> None:
    n = args.images
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)  # CIFAR-like: 32x32 RGB uint8
    labels = rng.integers(0, 10, n)
    dataset = TensorImageDataset(
        torch.from_numpy(pixels), torch.from_numpy(labels), [str(c) for c in range(10)]
    )
    amp = torch.bfloat16 if device.type == "cuda" else None
    rows: list[tuple[str, float, float | None]] = []

    print(f"\nThroughput: {args.model}, {n:,} CIFAR-like images; {describe_machine(device)}", flush=True)
    rate = seed_style_throughput(args.model, pixels, labels, device, args.steps, args.warmup, args.workers)
    rows.append((f"seed-style loop (PIL, {args.workers} workers, fp32, batch 128)", rate, None))
    print(f"  {rows[-1][0]}: {rate:,.0f} img/s", flush=True)

    ref_trainer = Trainer(nn.Linear(1, 1), quiet_config(batch_size=args.batch_size, device=str(device)))
    loader = ref_trainer.make_loader(dataset, train=True, mean=CIFAR10_MEAN, std=CIFAR10_STD)
    rate = hand_loop_throughput(args.model, loader, device, amp, args.epochs)
    rows.append(
        (
            f"hand loop (DeviceLoader, {'bf16' if amp else 'fp32'}, channels_last, {args.batch_size})",
            rate,
            None,
        )
    )
    print(f"  {rows[-1][0]}: {rate:,.0f} img/s", flush=True)

    variants: list[tuple[str, dict]] = [("Trainer eager", {}), ("Trainer compile default", {"compile": True})]
    if args.cudagraphs:
        variants.append(
            ("Trainer compile reduce-overhead", {"compile": True, "compile_mode": "reduce-overhead"})
        )
    if args.max_autotune:
        variants.append(("Trainer compile max-autotune", {"compile": True, "compile_mode": "max-autotune"}))
    for name, fields in variants:
        rate, warm = trainer_throughput(args.model, dataset, device, args.batch_size, args.epochs, **fields)
        rows.append((name, rate, warm))
        print(f"  {name}: {rate:,.0f} img/s (first epoch +{warm:.1f} s)", flush=True)

    seed_rate, hand_rate = rows[0][1], rows[1][1]
    print(f"\n{'variant':<58} {'img/s':>10} {'vs seed':>8} {'vs hand':>8} {'warm-up s':>10}")
    for name, rate, warm in rows:
        warm_text = f"{warm:10.1f}" if warm is not None else f"{'':>10}"
        print(f"{name:<58} {rate:>10,.0f} {rate / seed_rate:>7.2f}x {rate / hand_rate:>7.2f}x {warm_text}")
    print(
        f"({args.epochs} epochs of {n:,} images per Trainer/hand variant, last epoch timed; seed loop: "
        f"{args.steps} steps after {args.warmup})"
    )


# ---------------------------------------------------------------- 3. time to accuracy


def spread(values: Sequence[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def bench_time_to_accuracy(args: argparse.Namespace, device: torch.device) -> None:
    root = Path(args.data)
    start = time.perf_counter()
    train_set = image_folder(root, split="train", cache_dir=args.cache_dir)
    test_set = image_folder(root, split="test", cache_dir=args.cache_dir)
    print(
        f"\nTime to accuracy: {args.model}, recipe 'fast', {len(train_set):,} train / {len(test_set):,} test "
        f"images from {root} (decoded in {time.perf_counter() - start:.1f} s, not timed); "
        f"{describe_machine(device)}",
        flush=True,
    )
    overrides = {"device": str(device), "progress": False, "out_dir": None, "loggers": (), "tta": True}
    if args.epochs_override:
        overrides["epochs"] = args.epochs_override
    if args.compile:
        overrides |= {"compile": True, "compile_mode": args.compile_mode}
    if args.limit_batches:
        overrides["limit_train_batches"] = args.limit_batches
    if args.batch_size:
        overrides["batch_size"] = args.batch_size

    # Untimed warm-up: CUDA context, cuDNN autotuning and (with --compile) compilation.
    warm_config = get_recipe("fast", **{**overrides, "epochs": 1, "limit_train_batches": 3})
    warm = Trainer(rz.create_model(args.model, num_classes=train_set.num_classes), warm_config)
    warm.fit(warm.make_loader(train_set, train=True, mean=CIFAR10_MEAN, std=CIFAR10_STD))

    results = []
    for run in range(args.runs):
        config = get_recipe("fast", seed=run, **overrides)
        torch.manual_seed(run)
        trainer = Trainer(rz.create_model(args.model, num_classes=train_set.num_classes), config)
        train = trainer.make_loader(train_set, train=True, mean=CIFAR10_MEAN, std=CIFAR10_STD)
        test = trainer.make_loader(test_set, train=False, mean=CIFAR10_MEAN, std=CIFAR10_STD)
        sync(device)
        start = time.perf_counter()
        trainer.fit(train)  # no validation split: the reference runs train on all 50,000 images
        sync(device)
        train_s = time.perf_counter() - start
        metrics = trainer.test(test)
        results.append((train_s, metrics))
        verdict = "reached" if metrics["top1_tta"] >= args.target else "MISSED"
        print(
            f"  run {run}: {config.epochs} epochs in {train_s:.1f} s; "
            f"test top-1 {100 * metrics['top1']:.2f}%, flip-TTA {100 * metrics['top1_tta']:.2f}% "
            f"-> {verdict} {100 * args.target:.1f}%",
            flush=True,
        )
    times = [t for t, _ in results]
    tta = [m["top1_tta"] for _, m in results]
    print(
        f"  mean over {len(results)} run(s): {statistics.mean(times):.1f} +- {spread(times):.1f} s, "
        f"flip-TTA top-1 {100 * statistics.mean(tta):.2f} +- {100 * spread(tta):.2f}%; "
        f"reached {args.target:.3f} in {sum(a >= args.target for a in tta)}/{len(tta)}"
    )


# ---------------------------------------------------------------- smoke


def write_tiny_image_folder(root: Path, per_class: int = 8) -> Path:
    rng = np.random.default_rng(0)
    for split, n in (("train", per_class), ("test", per_class // 2)):
        for c in range(10):
            folder = root / split / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return root


def smoke(args: argparse.Namespace) -> None:
    cpu = torch.device("cpu")
    print("smoke test: every mode on the CPU with tiny sizes; the numbers mean nothing")
    bench_overhead(cpu, "resnet20_cifar", steps=2, batch_size=8, repeats=2)
    tiny = argparse.Namespace(
        **{
            **vars(args),
            "model": "resnet20_cifar",
            "images": 512,
            "steps": 2,
            "warmup": 1,
            "workers": 2,
            "batch_size": 64,
            "epochs": 2,
            "cudagraphs": True,
            "max_autotune": True,
        }
    )
    bench_throughput(tiny, cpu)
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_tiny_image_folder(Path(tmp) / "images")
        tta = argparse.Namespace(
            **{
                **vars(args),
                "model": "resnet20_cifar",
                "data": str(folder),
                "runs": 1,
                "epochs_override": 1,
                "limit_batches": 2,
                "batch_size": 16,
                "cache_dir": None,
                "compile": False,
            }
        )
        bench_time_to_accuracy(tta, cpu)
    print("\nsmoke test passed")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--device", help="cpu or cuda (default: cuda if available for --time-to-accuracy, else cpu)"
    )
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (CPU)")
    parser.add_argument("--model", help="model (default: resnet20_cifar on CPU, resnet18_cifar on CUDA)")
    parser.add_argument("--steps", type=int, help="timed steps (default: 20 overhead, 200 seed loop)")
    parser.add_argument("--batch-size", type=int, help="batch (default: 128 overhead, 512 GPU table)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats (overhead; default 5)")
    parser.add_argument("--warmup", type=int, default=30, help="untimed seed-loop steps (default 30)")
    parser.add_argument("--images", type=int, default=50_000, help="CIFAR-like images for the GPU table")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per GPU-table variant (last one timed)")
    parser.add_argument(
        "--workers", type=int, default=8, help="DataLoader workers of the seed loop (default 8)"
    )
    parser.add_argument("--cudagraphs", action="store_true", help="add torch.compile mode reduce-overhead")
    parser.add_argument(
        "--max-autotune", action="store_true", help="add torch.compile mode max-autotune (slow)"
    )
    parser.add_argument("--time-to-accuracy", action="store_true", help="time the fast recipe to --target")
    parser.add_argument("--data", help="image folder with train/ and test/ (time-to-accuracy)")
    parser.add_argument("--cache-dir", help="image_folder decode cache (time-to-accuracy)")
    parser.add_argument("--target", type=float, default=0.907, help="flip-TTA top-1 to reach (default 0.907)")
    parser.add_argument("--runs", type=int, default=1, help="time-to-accuracy runs, seeds 0.. (default 1)")
    parser.add_argument("--epochs-override", type=int, help="train this many epochs instead of the recipe's")
    parser.add_argument(
        "--limit-batches", type=int, help="batches per epoch (time-to-accuracy; quick checks)"
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile in time-to-accuracy")
    parser.add_argument("--compile-mode", default=None, help="torch.compile mode with --compile")
    parser.add_argument("--smoke", action="store_true", help="run every mode on the CPU, tiny (script check)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Every fit here runs without a validation set on purpose; its warning would repeat for each.
    logging.getLogger("resnetzoo.train.trainer").setLevel(logging.ERROR)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.smoke:
        smoke(args)
        return
    # Time to accuracy is a GPU figure: a CPU run of it would take hours, not seconds.
    default = "cuda" if args.time_to_accuracy and torch.cuda.is_available() else "cpu"
    device = torch.device(args.device or default)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but CUDA is not available")
    if args.time_to_accuracy:
        if not args.data:
            parser.error("--time-to-accuracy needs --data DIR (an extracted cifar10-jpeg tree)")
        args.model = args.model or "resnet18_cifar"
        bench_time_to_accuracy(args, device)
    elif device.type == "cuda":
        args.model = args.model or "resnet18_cifar"
        args.steps = args.steps or 200
        args.batch_size = args.batch_size or 512
        bench_throughput(args, device)
    else:
        bench_overhead(
            device, args.model or "resnet20_cifar", args.steps or 20, args.batch_size or 128, args.repeats
        )


if __name__ == "__main__":
    main()
