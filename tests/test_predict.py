"""Prediction specifications: any image, of any size and kind, is classified as the model sees it."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import resnet20_with_running_stats
from PIL import Image

import resnetzoo as rz
from resnetzoo.cli import main

MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
CATEGORIES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.fixture(scope="module")
def model():
    return resnet20_with_running_stats()


@pytest.fixture(scope="module")
def image_files(tmp_path_factory):
    """PNG and JPEG files of several sizes and modes (RGB, grayscale, RGBA, palette)."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("images")
    specs = [
        ("rgb.png", "RGB", (50, 70)),
        ("small.jpg", "RGB", (20, 24)),
        ("gray.png", "L", (32, 32)),
        ("alpha.png", "RGBA", (40, 40)),
        ("palette.png", "P", (64, 48)),
    ]
    paths = []
    for name, mode, (h, w) in specs:
        channels = {"RGB": 3, "L": 1, "RGBA": 4, "P": 1}[mode]
        pixels = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
        if channels == 1:
            pixels = pixels[:, :, 0]
        image = Image.fromarray(pixels)  # L, RGB or RGBA from the array's shape
        if mode == "P":
            image = image.convert("P")
        image.save(root / name)
        paths.append(root / name)
    return paths


def _reference(model, path, mean=MEAN, std=STD, size=32):
    """By hand: RGB pixels in [0, 1], antialiased bilinear resize, normalise, softmax of the logits."""
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255  # (H, W, 3)
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None]  # (1, 3, H, W)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    with torch.no_grad():
        return model(x).softmax(dim=-1)[0]


def test_files_are_resized_normalised_and_ranked(model, image_files):
    results = rz.predict(model, image_files, topk=3, mean=MEAN, std=STD)
    assert len(results) == len(image_files)
    for path, preds in zip(image_files, results, strict=True):
        probs = _reference(model, path)
        assert len(preds) == 3
        expected = probs.topk(3)
        assert [p.index for p in preds] == expected.indices.tolist(), path.name
        torch.testing.assert_close(torch.tensor([p.probability for p in preds]), expected.values)
        assert all(a.probability >= b.probability for a, b in itertools.pairwise(preds))
        assert sum(p.probability for p in preds) <= 1 + 1e-6
        assert all(p.label is None for p in preds)


def test_every_input_kind_gives_the_same_predictions(model, image_files):
    path = image_files[0]  # a 50x70 RGB PNG
    with Image.open(path) as image:
        pil = image.convert("RGB")
    hwc = np.array(pil)  # uint8 (H, W, 3)
    chw = torch.from_numpy(hwc).permute(2, 0, 1)  # uint8 (3, H, W)
    inputs = [str(path), path, pil, hwc, chw, chw.float() / 255]
    expected = rz.predict(model, [path], mean=MEAN, std=STD)[0]
    for item in inputs:
        assert rz.predict(model, item, mean=MEAN, std=STD) == [expected], type(item)
    # A batch tensor is split into its images, and batch_size only changes how many run at once
    # (up to float rounding: convolution kernels sum in a different order for another batch size).
    batch = torch.stack([chw.float() / 255] * 5)  # (5, 3, H, W)
    results = rz.predict(model, batch, mean=MEAN, std=STD, batch_size=2)
    assert len(results) == 5
    for preds in results:
        assert [p.index for p in preds] == [p.index for p in expected]
        assert [p.probability for p in preds] == pytest.approx([p.probability for p in expected], abs=1e-6)


def test_topk_is_clamped_to_the_number_of_classes(model, image_files):
    [preds] = rz.predict(model, image_files[:1], topk=50, mean=MEAN, std=STD)
    assert sorted(p.index for p in preds) == list(range(10))
    assert sum(p.probability for p in preds) == pytest.approx(1, abs=1e-5)


def test_normalisation_and_categories_come_from_pretrained_cfg(model, image_files, caplog):
    untrained = model.pretrained_cfg
    model.pretrained_cfg = dataclasses.replace(untrained, mean=MEAN, std=STD, categories=CATEGORIES)
    try:
        with caplog.at_level(logging.WARNING):
            results = rz.predict(model, image_files)
    finally:
        model.pretrained_cfg = untrained
    assert not caplog.records  # nothing to warn about: the weights say how to normalise
    assert [[p.index for p in preds] for preds in results] == [
        [p.index for p in preds] for preds in rz.predict(model, image_files, mean=MEAN, std=STD)
    ]
    assert all(p.label == CATEGORIES[p.index] for preds in results for p in preds)


def test_without_cfg_or_arguments_cifar10_stats_are_used_with_a_warning(model, image_files, caplog):
    with caplog.at_level(logging.WARNING):
        results = rz.predict(model, image_files[:1])
    assert "normalising with CIFAR-10's" in caplog.text
    cifar10 = ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
    assert results == rz.predict(model, image_files[:1], mean=cifar10[0], std=cifar10[1])


def test_explicit_mean_overrides_the_cfg_with_a_warning(model, image_files, caplog):
    untrained = model.pretrained_cfg
    model.pretrained_cfg = dataclasses.replace(untrained, mean=(0.1, 0.1, 0.1), std=STD)
    try:
        with caplog.at_level(logging.WARNING):
            results = rz.predict(model, image_files[:1], mean=MEAN)
    finally:
        model.pretrained_cfg = untrained
    assert "overrides the mean the weights were trained with" in caplog.text
    assert results == rz.predict(model, image_files[:1], mean=MEAN, std=STD)


def test_input_size_comes_from_pretrained_cfg(image_files):
    model = rz.resnet20_cifar().eval()
    model.pretrained_cfg = dataclasses.replace(
        model.pretrained_cfg, input_size=(3, 40, 40), mean=MEAN, std=STD
    )
    seen = []
    model.register_forward_hook(lambda module, args, out: seen.append(tuple(args[0].shape)))
    rz.predict(model, image_files)
    assert seen == [(len(image_files), 3, 40, 40)]


def test_grayscale_model_takes_color_images(image_files):
    model = rz.resnet20_cifar(in_chans=1).eval()
    seen = []
    model.register_forward_hook(lambda module, args, out: seen.append(tuple(args[0].shape)))
    results = rz.predict(model, image_files, mean=[0.5], std=[0.25])
    assert seen == [(len(image_files), 1, 32, 32)]
    assert all(len(preds) == 5 for preds in results)


def test_model_mode_and_state_are_restored(image_files):
    model = rz.resnet20_cifar().train()
    model.layer1[0].bn1.eval()  # a frozen BatchNorm: mixed modes must survive
    modes = [m.training for m in model.modules()]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rz.predict(model, image_files, mean=MEAN, std=STD)
    assert [m.training for m in model.modules()] == modes
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # ran in eval mode
    # Parameters are not inference tensors: the model still trains.
    model(torch.randn(2, 3, 32, 32)).sum().backward()


def test_high_bit_depth_images_are_scaled_by_their_own_range(model, tmp_path):
    """PIL's convert("RGB") clips 16-bit and float pixels at 255: mid-grey would be white, 0.5 black."""
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 65536, (32, 32)).astype(np.uint16)  # (H, W)
    expected = torch.from_numpy(grey.astype(np.float32) / 65535)
    Image.fromarray(grey).save(tmp_path / "grey16.png")  # PIL mode I;16
    with (tmp_path / "grey16.pgm").open("wb") as f:  # PIL mode I: a 16-bit PGM
        f.write(b"P5\n32 32\n65535\n" + grey.astype(">u2").tobytes())
    Image.fromarray(expected.numpy()).save(tmp_path / "grey.tiff")  # PIL mode F
    reference = rz.predict(model, expected, mean=MEAN, std=STD)  # a (H, W) float tensor in [0, 1]
    for name, mode in (("grey16.png", "I;16"), ("grey16.pgm", "I"), ("grey.tiff", "F")):
        with Image.open(tmp_path / name) as image:
            assert image.mode == mode
        [preds] = rz.predict(model, tmp_path / name, mean=MEAN, std=STD)
        assert [p.index for p in preds] == [p.index for p in reference[0]], name
        for p, q in zip(preds, reference[0], strict=True):
            assert p.probability == pytest.approx(q.probability, abs=1e-5), name
    # What the clipping did: mid-grey 16-bit read as white, a 0.5 float image as black.
    mid = np.full((32, 32), 32768, np.uint16)
    Image.fromarray(mid).save(tmp_path / "mid16.png")
    Image.fromarray(np.full((32, 32), 0.5, np.float32)).save(tmp_path / "half.tiff")
    for name, value in (("mid16.png", 32768 / 65535), ("half.tiff", 0.5)):
        [preds] = rz.predict(model, tmp_path / name, mean=MEAN, std=STD)
        [same] = rz.predict(model, torch.full((3, 32, 32), value), mean=MEAN, std=STD)
        assert [p.index for p in preds] == [p.index for p in same]

    Image.fromarray(np.full((8, 8), 70000, np.int32)).save(tmp_path / "int32.tiff")
    with pytest.raises(
        ValueError, match=r"int32\.tiff is a 32-bit integer \(I\) image with values in \[70000, 70000\]"
    ):
        rz.predict(model, tmp_path / "int32.tiff", mean=MEAN, std=STD)
    Image.fromarray(np.full((8, 8), 2.0, np.float32)).save(tmp_path / "bright.tiff")
    with pytest.raises(
        ValueError, match=r"bright\.tiff is a float image with pixels in \[2, 2\]; float images must hold"
    ):
        rz.predict(model, tmp_path / "bright.tiff", mean=MEAN, std=STD)


def test_errors_name_the_problem(model, tmp_path):
    missing = tmp_path / "missing.png"
    with pytest.raises(FileNotFoundError, match=f"image file not found: {missing}"):
        rz.predict(model, [missing], mean=MEAN, std=STD)
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"this is not an image")
    with pytest.raises(ValueError, match=f"cannot decode image file {garbage}"):
        rz.predict(model, [garbage], mean=MEAN, std=STD)
    truncated = tmp_path / "truncated.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8) + 77).save(tmp_path / "whole.png")
    truncated.write_bytes((tmp_path / "whole.png").read_bytes()[:100])
    with pytest.raises(ValueError, match=f"cannot decode image file {truncated}"):
        rz.predict(model, [truncated], mean=MEAN, std=STD)
    with pytest.raises(ValueError, match="is a directory"):
        rz.predict(model, [tmp_path], mean=MEAN, std=STD)

    nan = torch.rand(2, 3, 32, 32)
    nan[1, 0, 5, 5] = float("nan")
    with pytest.raises(ValueError, match="image 1 contains NaN or infinite values"):
        rz.predict(model, nan, mean=MEAN, std=STD)
    with pytest.raises(
        ValueError, match=r"image 0 has float pixels in .*; resnetzoo expects unnormalised pixels in \[0, 1\]"
    ):
        rz.predict(model, torch.randn(3, 32, 32), mean=MEAN, std=STD)
    with pytest.raises(ValueError, match=r"image 0 has 32 channels, the model takes 3; tensors must be"):
        rz.predict(model, torch.rand(32, 32, 3), mean=MEAN, std=STD)  # HWC tensor
    with pytest.raises(ValueError, match="expected uint8"):
        rz.predict(model, torch.ones(3, 8, 8, dtype=torch.int64), mean=MEAN, std=STD)
    with pytest.raises(TypeError, match="got list"):
        rz.predict(model, [[1, 2, 3]], mean=MEAN, std=STD)
    with pytest.raises(ValueError, match="topk must be an integer >= 1; got 0"):
        rz.predict(model, torch.rand(3, 32, 32), topk=0, mean=MEAN, std=STD)
    with pytest.raises(ValueError, match="got 2 categories for a model with 10 outputs"):
        rz.predict(model, torch.rand(3, 32, 32), categories=["a", "b"], mean=MEAN, std=STD)
    with pytest.raises(ValueError, match=r"mean has 2 values for a model with 3 input channel\(s\)"):
        rz.predict(model, torch.rand(3, 32, 32), mean=(0.5, 0.5), std=STD)
    with pytest.raises(ValueError, match="no classifier head"):
        rz.predict(rz.resnet20_cifar(num_classes=0), torch.rand(3, 32, 32), mean=MEAN, std=STD)


@pytest.fixture(scope="module")
def checkpoint(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "resnet20.pt"
    torch.save({"state_dict": model.state_dict(), "epoch": 30}, path)  # a training-style checkpoint
    return path


def test_cli_prints_an_aligned_table(model, image_files, checkpoint, capsys):
    files = [str(p) for p in image_files[:2]]
    assert (
        main(["predict", "--model", "resnet20_cifar", "--checkpoint", str(checkpoint), "--topk", "3", *files])
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 * (1 + 3)
    expected = rz.predict(model, files, topk=3)  # CIFAR-10 normalisation: the checkpoint has no cfg
    for block, path, preds in zip((lines[:4], lines[4:]), files, expected, strict=True):
        assert block[0] == path
        for line, p in zip(block[1:], preds, strict=True):
            assert line == f"  {p.probability:>7.2%}  {p.index}"
        # Aligned: every probability ends in the same column.
        assert len({line.index("%") for line in block[1:]}) == 1


def test_cli_json(model, image_files, checkpoint, capsys):
    files = [str(p) for p in image_files]
    assert (
        main(["predict", "--model", "resnet20_cifar", "--checkpoint", str(checkpoint), "--json", *files]) == 0
    )
    records = json.loads(capsys.readouterr().out)
    expected = rz.predict(model, files)
    assert [r["image"] for r in records] == files
    for record, preds in zip(records, expected, strict=True):
        assert record["predictions"] == [
            {"index": p.index, "label": None, "probability": p.probability} for p in preds
        ]


def test_cli_errors_are_one_line(image_files, tmp_path, capsys):
    missing = tmp_path / "missing.jpg"
    assert main(["predict", "--model", "resnet20_cifar", str(image_files[0]), str(missing)]) == 2
    assert capsys.readouterr().err == f"resnetzoo predict: error: image file not found: {missing}\n"
    assert main(["predict", "--model", "resnet20_cifar.long_cifar10", str(image_files[0])]) == 2
    assert (
        "weights 'resnet20_cifar.long_cifar10' are planned but not published yet" in capsys.readouterr().err
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_moves_the_model_for_the_call_only(model):
    x = torch.rand(6, 3, 40, 40)

    def probabilities(m, images, **kwargs):  # (6, 10), by class index
        results = rz.predict(m, images, mean=MEAN, std=STD, topk=10, **kwargs)
        return torch.tensor(
            [[p.probability for p in sorted(preds, key=lambda p: p.index)] for preds in results]
        )

    on_cpu = probabilities(model, x)
    cpu_model = copy.deepcopy(model)
    on_gpu = probabilities(cpu_model, x, device="cuda")
    assert {p.device.type for p in cpu_model.parameters()} == {"cpu"}  # moved back
    assert not any(p.is_inference() for p in cpu_model.parameters())
    gpu_model = copy.deepcopy(model).cuda()
    # cuDNN may run these convolutions in TF32 (10-bit mantissa), hence the loose tolerance.
    torch.testing.assert_close(on_gpu, on_cpu, rtol=0, atol=5e-3)
    torch.testing.assert_close(probabilities(gpu_model, x.cuda(), device="cuda:0"), on_cpu, rtol=0, atol=5e-3)
    assert next(gpu_model.parameters()).is_cuda
    # A bf16 model gets bf16 inputs; probabilities are computed in fp32.
    bf16_probs = probabilities(copy.deepcopy(model).cuda().bfloat16(), x)
    torch.testing.assert_close(bf16_probs.sum(dim=1), torch.ones(6), rtol=0, atol=1e-5)


def test_sizes_are_checked_in_one_dialect(model, tmp_path):
    image = torch.rand(3, 32, 32)
    accepted = r"input_size must be \(channels, height, width\), three positive integers"
    with pytest.raises(rz.ArgumentTypeError, match=accepted + r"; got \(3, 32.5, 32\)"):
        rz.predict(model, image, input_size=(3, 32.5, 32), mean=MEAN, std=STD)
    with pytest.raises(rz.ArgumentError, match=accepted + r"; got \(32, 32\)"):
        rz.predict(model, image, input_size=(32, 32), mean=MEAN, std=STD)
    with pytest.raises(rz.ArgumentTypeError, match=accepted + r"; got \(3, 32.0, 32\)"):
        rz.explain(model, image, input_size=(3, 32.0, 32), mean=MEAN, std=STD)
    with pytest.raises(rz.ArgumentError, match=accepted + r"; got \(3, 0, 32\)"):
        rz.resolve_data_config(model, input_size=(3, 0, 32), mean=MEAN, std=STD)
    with pytest.raises(rz.ArgumentTypeError, match=accepted):
        rz.export(model, tmp_path / "m.onnx", input_size=(3, 32.5, 32))
    assert not (tmp_path / "m.onnx").exists()


SCALE = 20.0  # FirstPixels' logits span [-10, 10] over pixels in [0, 1]


class FirstPixels(torch.nn.Module):
    """A "classifier" whose logits are its first ``num_classes`` input values, so a test picks them."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.anchor = torch.nn.Parameter(torch.zeros(()))  # gives predict a dtype and a device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return SCALE * (x.flatten(1)[:, : self.num_classes] - 0.5) + self.anchor  # (B, num_classes)


def _predict_logits(logits: torch.Tensor, topk: int) -> tuple[list[list[rz.Prediction]], torch.Tensor]:
    """predict() on images whose FirstPixels logits are ``logits`` ``(B, C)`` (within [-10, 10]).

    Returns the predictions and the probabilities of the logits the model really computed.
    """
    images = torch.zeros(len(logits), 3, 8, 8)
    images.view(len(logits), -1)[:, : logits.shape[1]] = logits / SCALE + 0.5  # pixels in [0, 1]
    model = FirstPixels(logits.shape[1])
    results = rz.predict(model, images, topk=topk, mean=(0, 0, 0), std=(1, 1, 1), input_size=(3, 8, 8))
    with torch.no_grad():
        return results, model(images).softmax(dim=-1)


@pytest.mark.parametrize("num_classes", [2, 10, 100])
def test_topk_matches_torch_topk_on_many_random_inputs(num_classes):
    g = torch.Generator().manual_seed(num_classes)
    logits = (torch.randn(200, num_classes, generator=g) * 3).clamp(-9.9, 9.9)  # continuous: no ties
    for k in sorted({1, 3, num_classes - 1, num_classes} - {0}):
        results, probs = _predict_logits(logits, k)
        expected = probs.topk(min(k, num_classes), dim=-1)  # k is clamped to the classes
        assert [[p.index for p in row] for row in results] == expected.indices.tolist(), k
        got = torch.tensor([[p.probability for p in row] for row in results])
        torch.testing.assert_close(got, expected.values, rtol=1e-5, atol=1e-7)


def test_topk_is_sorted_descending_and_k_equal_to_classes_ranks_them_all():
    # One row whose ranking is known by construction: class c has logit -c, so the order is 0, 1, ..., 9;
    # a second row reversed; a third shuffled.
    ranks = torch.arange(10.0)
    shuffled = torch.tensor([3, 7, 0, 9, 1, 5, 8, 2, 6, 4])
    logits = torch.stack([-ranks, ranks, -ranks[shuffled.argsort()]])
    rows, _ = _predict_logits(logits, 10)
    assert [p.index for p in rows[0]] == list(range(10))
    assert [p.index for p in rows[1]] == list(range(9, -1, -1))
    assert [p.index for p in rows[2]] == shuffled.tolist()
    for row in rows:
        probabilities = [p.probability for p in row]
        assert all(a > b for a, b in itertools.pairwise(probabilities))  # strictly: no ties here
        assert sum(probabilities) == pytest.approx(1, abs=1e-6)
    assert [p.index for p in _predict_logits(logits, 3)[0][2]] == shuffled[:3].tolist()


def test_topk_with_ties_keeps_every_chosen_class_at_least_as_probable_as_every_other():
    # Five classes share the top logit, three the next: any k cuts through a tie somewhere.
    logits = torch.tensor([[1.0, 2.0, 2.0, 0.5, 2.0, 1.0, 2.0, 1.0, 0.5, 2.0]])
    for k in range(1, 11):
        [row], [probs] = _predict_logits(logits, k)
        chosen = [p.index for p in row]
        assert len(chosen) == len(set(chosen)) == k
        assert [p.probability for p in row] == sorted((p.probability for p in row), reverse=True)
        rest = [c for c in range(10) if c not in chosen]
        assert min(probs[chosen]) >= max(probs[rest], default=0), k
        for p in row:
            assert p.probability == pytest.approx(float(probs[p.index]), abs=1e-7)
    top5 = {p.index for p in _predict_logits(logits, 5)[0][0]}
    assert top5 == {1, 2, 4, 6, 9}  # exactly the tied top classes
