"""Smaller and faster models for the CPU, from real pretrained weights, side by side in one run.

Variants, all evaluated on the JPEG copy's 10,000 test images (``--data``), on this machine's CPU:

- ``resnet56 fp32 eager``: akamaster's CIFAR-10 weights (``resnet56_cifar.akamaster_cifar10``), PyTorch;
  the reference of every ratio.
- ``resnet56 fp32 ORT``: the same network exported by ``rz.export`` and run by ONNX Runtime.
- ``resnet56 int8 ORT``: ``rz.quantize`` (static int8, QDQ, per-channel; 1,024 calibration images from
  the training split; its own top-1 check on the validation hold-out).
- ``resnet56 int8 PT2E``: PyTorch 2 Export quantization with the x86 inductor quantizer (``torchao``),
  compiled with inductor and freezing, for comparison; only when torchao is installed. torchao 0.18's
  quantizer fails on a ReLU module called twice in a block (ours, and torchvision's ResNets), so this
  row runs a copy whose blocks call a second ReLU module (same function).
- ``resnet56 pruned``: ``rz.prune`` to <= 50% of the FLOPs, then ``--prune-epochs`` epochs of fine-tuning on
  ``--subset`` training images (selected on the validation hold-out); and that network in int8 (ORT).
- ``resnet56 fine-tuned, not pruned``: the control: the unpruned network fine-tuned exactly alike. The
  fine-tune also adapts to the JPEG artefacts the original weights never saw; this row shows how much.
- ``resnet20 fp32 eager``: akamaster's resnet20, the distillation student's architecture with real weights.
- ``resnet20 distilled`` / ``resnet20 no teacher``: a resnet20 from random weights trained with resnet56
  as teacher (``rz.distill``, T=4, alpha=0.9) and without (the same loop with alpha=0: cross-entropy on
  the labels only), the same seed, batches, schedule and steps, in two regimes: ``--subset`` images for
  ``--distill-epochs`` epochs (many labelled images, few passes: 156 steps of 128 images, where steps are
  what is scarce), and ``--small-subset`` images (a stratified part of the subset) for ``--small-epochs``
  epochs (few labelled images, many passes: 450 steps, where labels are what is scarce).

Training data: the JPEG copy's training split; ``--val`` images are held out of it (stratified) for model
selection and the int8 check; ``--subset`` images (stratified, disjoint from them) are the CPU-budget
training set. Everything runs fp32 on the CPU with channels-first tensors (on this CPU channels-last
convolutions were 5x slower).

Timing, after every variant is built and evaluated: latency at batch 1 (the median of 5 calls) and
throughput at batch 256, in ``--runs`` rounds that each time every variant once (so a change of the
machine's load affects all alike), the median of the rounds reported, on ``--threads`` threads (torch and
ONNX Runtime alike), ratios against resnet56 fp32 eager. The load average is printed at the start, before
timing and at the end: other jobs share the cores.

How to run, from the repository root (with the compress and export extras, and torchao for the PT2E row)::

    PYTHONPATH=. python benchmarks/bench_compress.py --mirror ../shared/weights/akamaster \
        --data /tmp/data/cifar10-jpeg --cache /tmp/data/cache

The printed output is in ``docs/benchmarks.md`` ("Compression").
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import logging
import os
import platform
import statistics
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

import resnetzoo as rz
from resnetzoo.data import DeviceLoader, image_folder
from resnetzoo.hub.pretrained import MIRROR_ENV

Run = Callable[[torch.Tensor], torch.Tensor]  # images (B, 3, 32, 32) float32 -> logits (B, 10)


def seconds(run: Run, x: torch.Tensor) -> float:
    start = time.perf_counter()
    run(x)
    return time.perf_counter() - start


def top1(run: Run, loader: DeviceLoader) -> float:
    correct = count = 0
    for images, labels in loader:
        correct += int((run(images.contiguous()).argmax(1) == labels).sum())
        count += len(labels)
    return 100 * correct / count


def eager(model: nn.Module) -> Run:
    model = model.eval()

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return model(x)

    return run


def onnx_runtime(path: Path, threads: int) -> Run:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {name: x.numpy()})[0])

    return run


def pt2e_int8(model: nn.Module, calibration: list[torch.Tensor]) -> tuple[Run, float]:
    """PT2E static int8 with the x86 inductor quantizer, compiled; returns the runner and its set-up time."""
    import torch._inductor.config as inductor_config
    import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer as xiq
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    model = copy.deepcopy(model).eval()

    def forward(block: nn.Module, x: torch.Tensor) -> torch.Tensor:  # BasicBlock.forward with a second ReLU
        identity = x if block.downsample is None else block.downsample(x)
        out = block.relu(block.bn1(block.conv1(x)))
        return block.relu_out(block.bn2(block.conv2(out)) + identity)

    for block in model.modules():
        if isinstance(block, rz.BasicBlock):
            block.relu_out = nn.ReLU()
            block.forward = types.MethodType(forward, block)
    start = time.perf_counter()
    inductor_config.freezing = (
        True  # int8 weights prepacked at compile time (the PT2E x86 tutorial's setting)
    )
    dynamic = ({0: torch.export.Dim("batch", min=1)},)
    exported = torch.export.export(model, (calibration[0][:2],), dynamic_shapes=dynamic).module()
    quantizer = xiq.X86InductorQuantizer().set_global(xiq.get_default_x86_inductor_quantization_config())
    prepared = prepare_pt2e(exported, quantizer)
    with torch.no_grad():
        for batch in calibration:
            prepared(batch)
    compiled = torch.compile(convert_pt2e(prepared))

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return compiled(x)

    run(calibration[0])
    return run, time.perf_counter() - start


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", required=True, help="RESNETZOO_WEIGHTS_MIRROR with akamaster's files")
    parser.add_argument(
        "--data", default="/tmp/data/cifar10-jpeg", help="JPEG copy: DIR/{train,test}/<class>"
    )
    parser.add_argument("--cache", default=None, help="decoded-image cache folder")
    parser.add_argument("--val", type=int, default=2000, help="training images held out for selection")
    parser.add_argument("--subset", type=int, default=10000, help="training images of the CPU budget")
    parser.add_argument("--prune-epochs", type=int, default=2)
    parser.add_argument("--prune-lr", type=float, default=0.02)
    parser.add_argument("--distill-epochs", type=int, default=2)
    parser.add_argument("--small-subset", type=int, default=500, help="labelled images of the second regime")
    parser.add_argument("--small-epochs", type=int, default=150)
    parser.add_argument("--distill-lr", type=float, default=0.1)
    parser.add_argument("--runs", type=int, default=7, help="timing rounds (median)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch and ONNX Runtime threads (default 1: on a shared 2-core machine a second OpenMP thread "
        "spins while the other core is taken)",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="a minute-long run of every path, numbers meaningless"
    )
    args = parser.parse_args()
    if args.smoke:
        args.subset, args.val, args.runs, args.small_subset, args.small_epochs = 256, 256, 2, 128, 2
    os.environ[MIRROR_ENV] = args.mirror
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    threads = args.threads
    began = time.time()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.processor() or '?'}; torch "
        f"{torch.__version__} on {threads} threads; load average {os.getloadavg()}"
    )

    teacher = rz.create_model("resnet56_cifar", pretrained=True).eval()
    resnet20 = rz.create_model("resnet20_cifar", pretrained=True).eval()
    norm = rz.resolve_data_config(teacher)
    train_all = image_folder(args.data, split="train", cache_dir=args.cache)
    test = image_folder(args.data, split="test", cache_dir=args.cache)
    rest, val = train_all.train_val_split(args.val, seed=1)
    _, subset = rest.train_val_split(args.subset, seed=2)
    if args.smoke:
        test = test.train_val_split(500, seed=0)[1]

    def loader(ds, batch: int, train: bool = False, **kw) -> DeviceLoader:
        return DeviceLoader(ds, batch, train=train, mean=norm["mean"], std=norm["std"], **kw)

    test_loader, val_loader = loader(test, 500), loader(val, 500)
    calibration_loader = loader(rest, 256, train=True, augment=None)  # shuffled, unaugmented
    config = rz.TrainConfig(device="cpu", progress=False, channels_last=False, batch_size=128, loggers=())
    work = Path(tempfile.mkdtemp(prefix="bench_compress."))
    rows: list[dict] = []
    runners: list[tuple[Run, torch.Tensor, torch.Tensor]] = []

    def add(name: str, run: Run, model: nn.Module | None, size: int, **extra) -> None:
        images = next(iter(test_loader))[0]
        x1, x256 = images[:1].contiguous(), images[:256].contiguous()
        row = {
            "variant": name,
            "top1": top1(run, test_loader),
            "size_mb": size / 1e6,
            "params": rz.count_parameters(model) if model is not None else None,
            "mflops": rz.count_flops(model) / 1e6 if model is not None else None,
            **extra,
        }
        rows.append(row)
        runners.append((run, x1, x256))
        print(f"  evaluated {name}: {json.dumps(row)}", flush=True)

    def state_size(model: nn.Module) -> int:  # the model.safetensors that save_pretrained writes
        return (rz.save_pretrained(model, work / "saved") / "model.safetensors").stat().st_size

    print("resnet56: fp32 eager, fp32 ORT, int8 ORT, int8 PT2E", flush=True)
    add("resnet56 fp32 eager", eager(teacher), teacher, state_size(teacher))
    fp32_onnx = rz.export(teacher, work / "resnet56.onnx")
    add("resnet56 fp32 ORT", onnx_runtime(fp32_onnx, threads), teacher, fp32_onnx.stat().st_size)
    drop = 100.0 if args.smoke else 1.0  # the smoke run checks on a few hundred images: too noisy for 1 point
    start = time.perf_counter()
    int8_onnx = rz.quantize(
        teacher, calibration_loader, work / "resnet56.int8.onnx", check_loader=val_loader, max_top1_drop=drop
    )
    quantize_s = time.perf_counter() - start
    add(
        "resnet56 int8 ORT",
        onnx_runtime(int8_onnx, threads),
        teacher,
        int8_onnx.stat().st_size,
        setup_s=quantize_s,
    )
    try:
        import torchao  # noqa: F401
    except ImportError:
        print("  (torchao not installed: no PT2E row)")
    else:
        calibration = [images.contiguous() for images, _ in list(calibration_loader)[:4]]
        run, setup_s = pt2e_int8(teacher, calibration)
        add("resnet56 int8 PT2E", run, teacher, 0, setup_s=setup_s)

    print(
        f"resnet56 pruned to <= 50% FLOPs, fine-tuned {args.prune_epochs} epoch(s) on {len(subset)} images",
        flush=True,
    )
    start = time.perf_counter()
    pruned = rz.prune(
        teacher,
        loader(subset, 128, train=True),
        val_loader,
        flops_ratio=0.5,
        epochs=args.prune_epochs,
        lr=args.prune_lr,
        config=config,
    ).eval()
    prune_s = time.perf_counter() - start
    add("resnet56 pruned", eager(pruned), pruned, state_size(pruned), setup_s=prune_s)
    pruned_int8 = rz.quantize(
        pruned, calibration_loader, work / "pruned.int8.onnx", check_loader=val_loader, max_top1_drop=drop
    )
    add("resnet56 pruned int8 ORT", onnx_runtime(pruned_int8, threads), pruned, pruned_int8.stat().st_size)
    saved = rz.save_pretrained(pruned, work / "pruned", metrics={"top1_jpeg": rows[-2]["top1"]})
    reloaded = rz.from_pretrained(saved).eval()
    with torch.inference_mode():
        x = torch.randn(4, 3, 32, 32)
        same = torch.equal(reloaded(x), pruned(x))
    print(
        f"  saved and reloaded with from_pretrained: identical outputs {same}; "
        f"record {reloaded.pretrained_cfg}"
    )

    # The control: the fine-tune also adapts the network to JPEG artefacts, which akamaster's weights never
    # saw; the unpruned network fine-tuned the same way shows how much of the score is that.
    start = time.perf_counter()
    control = rz.fine_tune(
        copy.deepcopy(teacher),
        loader(subset, 128, train=True),
        val_loader=val_loader,
        epochs=args.prune_epochs,
        freeze_epochs=0,
        lr=args.prune_lr,
        lr_mult=1.0,
        config=config,
    ).eval()
    setup_s = time.perf_counter() - start
    add("resnet56 fine-tuned, not pruned", eager(control), control, state_size(control), setup_s=setup_s)

    print("resnet20: pretrained, distilled from resnet56, and the same budget without a teacher", flush=True)
    add("resnet20 fp32 eager", eager(resnet20), resnet20, state_size(resnet20))
    distill_config = rz.TrainConfig(
        device="cpu",
        progress=False,
        channels_last=False,
        batch_size=128,
        loggers=(),
        epochs=args.distill_epochs,
        lr=args.distill_lr,
        schedule="onecycle",
        seed=0,
    )
    small = subset.train_val_split(args.small_subset, seed=3)[1]
    regimes = (
        (f"{len(subset)} images x {args.distill_epochs}", subset, args.distill_epochs),
        (f"{len(small)} images x {args.small_epochs}", small, args.small_epochs),
    )
    for regime, data, epochs in regimes:
        for kind, alpha in (("distilled", 0.9), ("no teacher", 0.0)):
            torch.manual_seed(0)
            student = rz.create_model("resnet20_cifar")
            start = time.perf_counter()
            student = rz.distill(
                student,
                teacher,
                loader(data, 128, train=True),
                val_loader,
                alpha=alpha,
                config=dataclasses.replace(distill_config, epochs=epochs),
            ).eval()
            setup_s = time.perf_counter() - start
            add(f"resnet20 {kind}, {regime}", eager(student), student, state_size(student), setup_s=setup_s)

    # Timing, interleaved: each round times every variant once, so a change in the machine's load during
    # the run affects all of them alike; the median of the rounds is reported.
    print(f"timing: {args.runs} interleaved rounds; load average {os.getloadavg()}", flush=True)
    latency: list[list[float]] = [[] for _ in rows]
    batch: list[list[float]] = [[] for _ in rows]
    for run, x1, x256 in runners:  # warm-up
        run(x1)
        run(x256)
    for _ in range(args.runs):
        for i, (run, x1, x256) in enumerate(runners):
            latency[i].append(statistics.median(seconds(run, x1) for _ in range(5)))
            batch[i].append(seconds(run, x256))
    for row, lat, b in zip(rows, latency, batch, strict=True):
        row["latency_ms"] = 1e3 * statistics.median(lat)
        row["throughput"] = 256 / statistics.median(b)

    base = rows[0]
    print()
    print(
        "| variant | top-1 (%) | file (MB) | params | MFLOPs | latency b1 (ms) | ratio | img/s b256 | ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        params = f"{row['params']:,}" if row["params"] is not None else "-"
        mflops = f"{row['mflops']:.1f}" if row["mflops"] is not None else "-"
        size = f"{row['size_mb']:.2f}" if row["size_mb"] else "-"
        print(
            f"| {row['variant']} | {row['top1']:.2f} | {size} | {params} | {mflops} | "
            f"{row['latency_ms']:.2f} | "
            f"{base['latency_ms'] / row['latency_ms']:.2f}x | {row['throughput']:,.0f} | "
            f"{row['throughput'] / base['throughput']:.2f}x |"
        )
    by = {row["variant"]: row for row in rows}
    int8, fp32 = by["resnet56 int8 ORT"], by["resnet56 fp32 eager"]
    pr = by["resnet56 pruned"]
    tuned = by["resnet56 fine-tuned, not pruned"]
    print()
    print("targets:")
    print(
        f"- int8 >= 2x fp32 eager throughput at batch 256, <= 1 point top-1 lost: "
        f"{int8['throughput'] / fp32['throughput']:.2f}x, {fp32['top1'] - int8['top1']:+.2f} points lost -> "
        f"{verdict(int8['throughput'] >= 2 * fp32['throughput'] and fp32['top1'] - int8['top1'] <= 1)}"
    )
    print(
        f"- pruned resnet56 <= 50% FLOPs within 1.5 points: {pr['mflops'] / fp32['mflops']:.1%} of the "
        f"FLOPs, {fp32['top1'] - pr['top1']:+.2f} points lost -> "
        f"{verdict(pr['mflops'] <= 0.5 * fp32['mflops'] and fp32['top1'] - pr['top1'] <= 1.5)}; against the "
        f"unpruned network fine-tuned alike ({tuned['top1']:.2f}%): {tuned['top1'] - pr['top1']:+.2f} points "
        "lost"
    )
    for regime, _, _ in regimes:
        kd, ce = by[f"resnet20 distilled, {regime}"], by[f"resnet20 no teacher, {regime}"]
        print(
            f"- distillation beats the same budget without a teacher ({regime} epochs): {kd['top1']:.2f}% vs "
            f"{ce['top1']:.2f}% -> {verdict(kd['top1'] > ce['top1'])}"
        )
    print(f"total {time.time() - began:.0f} s; load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
