"""resnetzoo.evaluate / Evaluation and ``resnetzoo eval --confusion``: per-image results from the Trainer's
one evaluation loop, and the summaries drawn from them."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest
import torch
from helpers import tiny_model
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import resnetzoo as rz
from resnetzoo.cli import main
from resnetzoo.data import DeviceLoader, TensorImageDataset
from resnetzoo.train import RunFolder

pytestmark = pytest.mark.usefixtures("single_thread")

NORM = {"mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25)}
CLASSES = ("cat", "dog", "ship")

# Logits a model passes through unchanged (nn.Identity), so every result below is known by hand.
# Image: true class -> logits; predicted class; softmax probability of the prediction.
LOGITS = torch.tensor(
    [
        [5.0, 0.0, 0.0],  # 0: cat  -> cat  (right)
        [0.0, 3.0, 0.0],  # 1: cat  -> dog  (wrong, p = e^3 / (e^3 + 2) = 0.909)
        [0.0, 0.0, 1.0],  # 2: cat  -> ship (wrong, p = e / (e + 2) = 0.576)
        [0.0, 4.0, 0.0],  # 3: dog  -> dog  (right)
        [6.0, 0.0, 0.0],  # 4: dog  -> cat  (wrong, p = 0.995)
        [0.0, 0.0, 2.0],  # 5: ship -> ship (right)
        [0.0, 0.0, 3.0],  # 6: ship -> ship (right)
    ]
)
TARGETS = torch.tensor([0, 0, 0, 1, 1, 2, 2])


def _controlled() -> rz.Evaluation:
    data = DataLoader(TensorDataset(LOGITS, TARGETS), batch_size=3)
    return rz.evaluate(nn.Identity(), data, classes=CLASSES)


def _images(n: int = 40, classes: int = 4, seed: int = 0) -> TensorImageDataset:
    g = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (n, 32, 32, 3), dtype=torch.uint8, generator=g)
    targets = torch.arange(n) % classes
    return TensorImageDataset(pixels, targets, [f"c{i}" for i in range(classes)])


def test_per_class_accuracy_confusion_and_top1_match_a_hand_count():
    result = _controlled()
    assert result.classes == CLASSES
    assert result.predictions.tolist() == [0, 1, 2, 1, 0, 2, 2]
    assert result.confusion.tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 2]]
    assert result.confusion.sum(dim=1).tolist() == [3, 2, 2]  # rows sum to the class counts
    assert result.per_class_accuracy == pytest.approx({"cat": 1 / 3, "dog": 1 / 2, "ship": 1.0})
    assert result.top1 == pytest.approx(4 / 7)
    assert result.top5 == 1.0  # min(5, 3) = 3 classes: always a hit
    expected_loss = nn.functional.cross_entropy(LOGITS, TARGETS).item()
    assert result.loss == pytest.approx(expected_loss, rel=1e-6)
    assert torch.allclose(result.probabilities, LOGITS.softmax(dim=1))
    assert result.features is None


def test_mistakes_are_the_most_confidently_wrong_first():
    result = _controlled()
    assert result.mistakes(2).tolist() == [4, 1]  # p 0.995, then 0.909
    assert result.mistakes().tolist() == [4, 1, 2]
    assert result.mistakes(10).tolist() == [4, 1, 2]  # only three are wrong
    assert result.mistakes(0).tolist() == []
    with pytest.raises(ValueError, match="k"):
        result.mistakes(-1)


def test_a_class_without_images_has_no_accuracy_rather_than_zero():
    data = DataLoader(TensorDataset(LOGITS[:3], TARGETS[:3]), batch_size=3)
    result = rz.evaluate(nn.Identity(), data, classes=CLASSES)
    assert result.confusion.sum(dim=1).tolist() == [3, 0, 0]
    assert math.isnan(result.per_class_accuracy["dog"])


def test_csv_holds_the_class_names_and_the_counts(tmp_path):
    result = _controlled()
    path = result.to_csv(tmp_path / "out" / "confusion.csv")
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows == [
        ["true \\ predicted", "cat", "dog", "ship"],
        ["cat", "1", "1", "1"],
        ["dog", "1", "1", "0"],
        ["ship", "0", "0", "2"],
    ]


def test_evaluation_top1_equals_trainer_test_on_the_same_data():
    torch.manual_seed(0)
    model = tiny_model(num_classes=4)
    with torch.no_grad():  # spread the outputs so that top-1 is not one class for every image
        model.fc.weight.mul_(50)
    data = _images(48)
    trainer = rz.Trainer(model, rz.TrainConfig(device="cpu", progress=False, channels_last=False))
    loader = DeviceLoader(data, 16, train=False, **NORM)
    metrics = trainer.test(loader)
    result = rz.evaluate(model, loader)
    assert result.top1 == metrics["top1"]
    assert result.top5 == metrics["top5"]
    assert result.loss == pytest.approx(metrics["loss"], rel=1e-6)
    assert 0 < result.top1 < 1  # a score that could differ
    # The data set itself, normalised the same way, gives the same result.
    again = rz.evaluate(model, data, batch_size=7, **NORM)
    assert torch.equal(again.predictions, result.predictions)
    assert again.classes == ("c0", "c1", "c2", "c3")  # the data's names: the model records none


def test_features_are_the_pooled_input_of_the_classifier():
    torch.manual_seed(0)
    model = rz.resnet20_cifar(num_classes=4)
    data = _images(10)
    result = rz.evaluate(model, data, features=True, batch_size=4, **NORM)
    assert result.features.shape == (10, model.get_classifier().in_features)
    x = torch.stack([(data[i][0] - 0.5) / 0.25 for i in range(10)])  # (N, C, H, W), normalised
    with torch.no_grad():
        expected = model.eval().forward_head(model.forward_features(x), pre_logits=True)
    assert torch.allclose(result.features, expected, atol=1e-5)
    # With flip-TTA the mirrored pass runs too; the features stay those of the images as they are.
    with_tta = rz.evaluate(model, data, features=True, batch_size=4, tta=True, **NORM)
    assert torch.allclose(with_tta.features, expected, atol=1e-5)
    assert with_tta.top1_tta is not None


def test_evaluate_leaves_the_model_as_it_was():
    model = tiny_model(num_classes=4).train()
    model.layer1.eval()  # a deliberately mixed mode is kept too
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rz.evaluate(model, _images(8), **NORM)
    assert model.training
    assert not model.layer1.training
    for key, value in model.state_dict().items():  # BatchNorm statistics untouched: eval mode ran
        assert torch.equal(value, before[key]), key
    assert next(model.parameters()).is_contiguous()  # no channels-last conversion left behind


def test_a_loader_that_shuffles_or_labels_beyond_the_outputs_is_refused():
    data = TensorDataset(LOGITS, TARGETS)
    with pytest.raises(ValueError, match="shuffles"):
        rz.evaluate(nn.Identity(), DataLoader(data, batch_size=2, shuffle=True))
    with pytest.raises(ValueError, match="classes names 2 classes, but the model has 3 outputs"):
        rz.evaluate(nn.Identity(), DataLoader(data, batch_size=2), classes=("a", "b"))
    with pytest.raises(ValueError, match="features=True needs a model with a classifier head"):
        rz.evaluate(nn.Identity(), DataLoader(data, batch_size=2), features=True)
    with pytest.raises(ValueError, match="split"):
        rz.evaluate(nn.Identity(), "sample", split="validation")


def test_save_confusion_writes_the_csv_and_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    csv_path, png_path = _controlled().save_confusion(tmp_path / "confusion")
    assert csv_path.name == "confusion.csv"
    assert png_path.name == "confusion.png"
    assert png_path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(png_path) as image:
        assert image.format == "PNG"
        assert image.size[0] > 300


def _write_folder(root, classes=("blue", "red"), per_class=(6, 5)):
    rng = np.random.default_rng(0)
    for split, counts in (("train", (6, 6)), ("test", per_class)):
        for c, (name, n) in enumerate(zip(classes, counts, strict=True)):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 100, (32, 32, 3), dtype=np.uint8)
                pixels[..., 2 * c] += 150
                Image.fromarray(pixels).save(root / split / name / f"{i}.png")


def test_cli_eval_writes_the_confusion_matrix_of_a_run_folder(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    _write_folder(tmp_path / "images")
    torch.manual_seed(0)
    model = rz.resnet20_cifar(num_classes=2)
    run = RunFolder(tmp_path / "runs" / "train")
    run.write_best(model, model.state_dict(), {"val_top1": 0.5})  # what a run leaves in best/
    out = tmp_path / "out"
    args = ["eval", "--weights", str(run.path), "--data", str(tmp_path / "images"), "--device", "cpu"]
    assert main([*args, "--confusion", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "test (11 images): top-1" in printed
    assert f"wrote the confusion matrix to {out / 'confusion.csv'} and {out / 'confusion.png'}" in printed
    rows = list(csv.reader(io.StringIO((out / "confusion.csv").read_text())))
    assert rows[0] == ["true \\ predicted", "blue", "red"]
    assert [r[0] for r in rows[1:]] == ["blue", "red"]
    assert [sum(map(int, r[1:])) for r in rows[1:]] == [6, 5]  # the test split's class counts
    with Image.open(out / "confusion.png") as image:
        image.verify()
        assert image.format == "PNG"
