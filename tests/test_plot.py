"""resnetzoo.plot: every function returns a Figure whose axes, labels and drawn data are the real values."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from helpers import tiny_model
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import resnetzoo as rz
from resnetzoo import plot
from resnetzoo.data import TensorImageDataset
from resnetzoo.train import RunFolder

pytest.importorskip("matplotlib")
pytestmark = pytest.mark.usefixtures("single_thread")

CLASSES = ("cat", "dog", "ship")


def _images(n: int = 6, classes: int = 3) -> TensorImageDataset:
    g = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (n, 32, 32, 3), dtype=torch.uint8, generator=g)
    return TensorImageDataset(pixels, torch.arange(n) % classes, CLASSES[:classes])


def _evaluation() -> rz.Evaluation:
    logits = torch.tensor([[5.0, 0, 0], [0, 3.0, 0], [0, 0, 1.0], [0, 4.0, 0], [6.0, 0, 0], [0, 0, 2.0]])
    targets = torch.tensor([0, 0, 0, 1, 1, 2])
    return rz.evaluate(
        nn.Identity(), DataLoader(TensorDataset(logits, targets), batch_size=6), classes=CLASSES
    )


def _titles(figure) -> list[str]:
    return [ax.get_title() for ax in figure.axes if ax.get_title()]


def test_image_grid_titles_each_image_with_its_class_and_undoes_the_normalisation():
    data = _images()
    figure = plot.image_grid(data, indices=[0, 1, 4], ncols=2, title="three")
    assert _titles(figure) == ["cat", "dog", "dog"]
    assert figure.get_suptitle() == "three"
    shown = [ax for ax in figure.axes if ax.images]
    assert len(shown) == 3  # 2 x 2 grid: the fourth axis is empty
    assert np.allclose(shown[2].images[0].get_array(), data.data[4].numpy() / 255)
    # A normalised tensor is shown as the pixels it came from.
    pixels = data.data.permute(0, 3, 1, 2).float() / 255  # (N, C, H, W)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    normalised = (pixels - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    figure = plot.image_grid(normalised[:2], torch.tensor([2, 1]), classes=CLASSES, mean=mean, std=std)
    assert _titles(figure) == ["ship", "dog"]
    drawn = figure.axes[0].images[0].get_array()
    assert np.allclose(drawn, pixels[0].permute(1, 2, 0).numpy(), atol=1e-6)


def test_class_balance_draws_the_counts_of_every_split_by_class_name():
    figure = plot.class_balance({"train": _images(9), "test": [1, 2, 0]}, CLASSES)
    (ax,) = figure.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == list(CLASSES)
    assert [round(bar.get_height()) for bar in ax.patches] == [3, 3, 3, 1, 2, 0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train (9)", "test (3)"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("class", "images")


def test_learning_curves_draw_loss_and_top1_of_one_run_or_several(tmp_path):
    history = [
        {"epoch": e, "train_loss": 2 / e, "val_loss": 2.5 / e, "train_top1": 0.2 * e} for e in (1, 2, 3)
    ]
    run = RunFolder(tmp_path / "run")
    run.write_metrics(history)
    figure = plot.learning_curves(run.path, test_top1=0.5)
    loss_ax, top1_ax = figure.axes
    assert (loss_ax.get_xlabel(), loss_ax.get_ylabel()) == ("epoch", "cross-entropy loss")
    assert top1_ax.get_ylabel() == "top-1 accuracy (%)"
    assert [line.get_label() for line in loss_ax.lines] == ["train", "val"]
    assert list(top1_ax.lines[0].get_ydata()) == pytest.approx([20, 40, 60])  # percent
    assert [line.get_label() for line in top1_ax.lines] == ["train"]  # no val_top1: no test star either

    other = [{**row, "train_loss": row["train_loss"] / 2} for row in history]
    figure = plot.learning_curves(history, compare=[other], labels=["scratch", "fine-tuned"])
    labels = [line.get_label() for line in figure.axes[0].lines]
    assert labels == ["scratch: train", "scratch: val", "fine-tuned: train", "fine-tuned: val"]
    assert figure.axes[0].lines[0].get_color() == figure.axes[0].lines[1].get_color()  # a run, one colour
    with pytest.raises(ValueError, match="labels names 1 runs, but there are 2"):
        plot.learning_curves(history, compare=[other], labels=["one"])
    with pytest.raises(FileNotFoundError, match=r"metrics\.csv"):
        plot.learning_curves(tmp_path / "nothing")


def test_confusion_matrix_shows_the_row_normalised_matrix_with_class_names():
    result = _evaluation()
    figure = plot.confusion_matrix(result)
    ax, bar = figure.axes  # the matrix and its colour bar
    expected = result.confusion.double() / result.confusion.sum(dim=1, keepdim=True)
    assert np.allclose(ax.images[0].get_array(), expected.numpy())
    assert ax.images[0].get_cmap().name == plot.COLORMAP
    assert [t.get_text() for t in ax.get_xticklabels()] == list(CLASSES)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(CLASSES)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted class", "true class")
    assert bar.get_ylabel() == "fraction of the true class"
    assert sorted(t.get_text() for t in ax.texts) == sorted([".33", ".33", ".33", ".50", ".50", "1.00"])
    counts = plot.confusion_matrix(result, normalize=False).axes[0]
    assert np.array_equal(counts.images[0].get_array(), result.confusion.numpy())


def test_mistakes_shows_the_most_confident_ones_with_true_and_predicted_class():
    figure = plot.mistakes(_evaluation(), _images(6), k=2)
    assert _titles(figure) == ["true dog\npredicted cat 99.5%", "true cat\npredicted dog 90.9%"]
    assert sum(1 for ax in figure.axes if ax.images) == 2
    with pytest.raises(ValueError, match="labels has 1 entries for 2 images"):
        plot.image_grid(torch.rand(2, 3, 8, 8), [0], classes=CLASSES)


def test_filters_are_the_first_convolution_scaled_per_filter():
    torch.manual_seed(0)
    model = tiny_model(num_classes=3)
    figure = plot.filters(model)
    tiles = [ax.images[0].get_array() for ax in figure.axes if ax.images]
    assert len(tiles) == model.conv1.out_channels
    weight = model.conv1.weight.detach()[5]  # (C, kh, kw)
    expected = ((weight - weight.min()) / (weight.max() - weight.min())).permute(1, 2, 0)
    assert np.allclose(tiles[5], expected.numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="no Conv2d"):
        plot.filters(nn.Linear(2, 2))


def test_feature_maps_show_every_level_of_the_network():
    torch.manual_seed(0)
    model = rz.resnet20_cifar(num_classes=3)
    figure = plot.feature_maps(model, torch.rand(3, 32, 32), channels=2, mean=(0.5,), std=(0.25,))
    rows = [ax.get_ylabel() for ax in figure.axes if ax.get_ylabel()]
    assert rows == ["stem\n16x32x32", "stage 1\n16x32x32", "stage 2\n32x16x16", "stage 3\n64x8x8"]
    assert len(figure.axes) == 4 * 3  # the input and 2 channels per level
    assert model.training  # the model's mode is given back


def test_embedding_projects_on_the_principal_components_coloured_by_class():
    g = torch.Generator().manual_seed(0)
    features = torch.randn(30, 5, generator=g) * torch.tensor([5.0, 2.0, 1.0, 0.5, 0.1])
    targets = torch.arange(30) % 3
    figure = plot.embedding([features, features * 2], targets, CLASSES, titles=["scratch", "pretrained"])
    assert _titles(figure) == ["scratch", "pretrained"]
    ax = figure.axes[0]
    assert ax.get_xlabel().startswith("principal component 1 (")
    centred = features - features.mean(dim=0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    expected = (centred @ v[:2].T)[targets == 1].numpy()
    assert np.allclose(ax.collections[1].get_offsets(), expected, atol=1e-4)
    assert [t.get_text() for t in figure.legends[0].get_texts()] == list(CLASSES)
    with pytest.raises(ValueError, match="features=True"):
        plot.embedding(_evaluation())


def test_explanations_mark_a_misclassified_image():
    pytest.importorskip("captum")
    torch.manual_seed(0)
    model = rz.resnet20_cifar(num_classes=3)
    images = torch.rand(2, 3, 32, 32)
    found = rz.explain(model, images, categories=CLASSES, mean=(0.5,), std=(0.25,))
    predicted = [e.predictions[0].index for e in found]
    targets = [predicted[0], (predicted[1] + 1) % 3]  # the first right, the second wrong
    figure = plot.explanations(found, targets=targets, classes=CLASSES)
    axes = figure.axes
    assert len(axes) == 2 * 3  # per row: image, overlay, top classes
    assert axes[0].get_title() == f"true {CLASSES[targets[0]]}"
    assert axes[3].get_title() == f"true {CLASSES[targets[1]]} \u2260 {CLASSES[predicted[1]]}"
    assert axes[3].title.get_color() != axes[0].title.get_color()
    assert axes[1].get_title().startswith("Grad-CAM: ")


def test_augmentations_draw_each_op_and_the_loader_per_class():
    data = _images(3)
    figure = plot.augmentations(data)
    assert len(figure.axes) == 5 * 3
    assert _titles(figure)[:3] == list(CLASSES)
    assert [ax.get_ylabel().split("\n")[0] for ax in figure.axes[::3]] == [
        "original",
        "random_crop",
        "random_flip",
        "cutout",
        "DeviceLoader,",
    ]
    assert np.allclose(figure.axes[0].images[0].get_array(), data.data[0].numpy() / 255)


def test_save_figure_writes_a_png_and_replaces_a_link_without_following_it(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    target = tmp_path / "figure.png"
    target.symlink_to(outside)
    path = plot.save_figure(plot.class_balance({"all": [1, 2, 3]}, CLASSES), target)
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert not target.is_symlink()
    assert outside.read_text() == "keep"


def test_a_missing_matplotlib_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'resnetzoo\[plot\]'"):
        plot.class_balance({"all": [1]}, ["cat"])
