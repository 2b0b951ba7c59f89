"""resnetzoo.explain: heatmaps at input resolution in [0, 1] that point at what the model responds to."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from helpers import pinned_threads, tiny_model
from PIL import Image
from torch import nn

import resnetzoo as rz
from resnetzoo.cli import main
from resnetzoo.explain import METHODS

# Small models and batches: a second torch thread only adds barriers (see conftest.single_thread).
pytestmark = pytest.mark.usefixtures("single_thread")

NORM = {"mean": (0.5,), "std": (0.25,)}
SQUARE = 10  # side of the synthetic object, in pixels


def _scene(corner: tuple[int, int] | None, generator: torch.Generator) -> torch.Tensor:
    """A 32x32 image of dim noise, with a bright square whose top-left corner is ``corner`` (or none)."""
    image = torch.rand(3, 32, 32, generator=generator) * 0.4
    if corner is not None:
        top, left = corner
        image[:, top : top + SQUARE, left : left + SQUARE] = 1.0
    return image


class _Diverged(nn.Module):
    """A classifier whose weights have overflowed: every output is NaN."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float("nan")))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :10] * self.scale


@pytest.fixture(scope="module")
def square_detector() -> nn.Module:
    """A small ResNet trained for seconds to tell images with a bright square (class 1) from those without.

    Global average pooling means it can only say "square" from where the square is, so an explanation of
    class 1 must point there.
    """
    with pinned_threads():  # module-scoped, so not under the single_thread fixture
        torch.manual_seed(0)
        generator = torch.Generator().manual_seed(0)
        model = tiny_model((8, 8, 8), num_classes=2)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        for _ in range(40):
            labels = torch.randint(0, 2, (32,), generator=generator)
            corners = torch.randint(0, 32 - SQUARE + 1, (32, 2), generator=generator)
            images = torch.stack(
                [
                    _scene(tuple(c.tolist()) if y else None, generator)
                    for c, y in zip(corners, labels, strict=True)
                ]
            )
            loss = nn.functional.cross_entropy(model((images - 0.5) / 0.25), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


@pytest.mark.parametrize("method", METHODS)
def test_heatmaps_are_at_input_resolution_in_unit_range(method):
    torch.manual_seed(0)
    model = rz.resnet20_cifar().eval()
    images = [torch.rand(3, 32, 32), torch.rand(3, 48, 40), np.zeros((20, 20, 3), dtype=np.uint8)]
    explanations = rz.explain(model, images, method=method, **NORM)
    assert len(explanations) == 3
    for e in explanations:
        assert e.heatmap.shape == (32, 32)
        assert e.heatmap.dtype == torch.float32
        assert e.image.shape == (3, 32, 32)
        assert float(e.heatmap.min()) >= 0
        assert float(e.heatmap.max()) <= 1
        assert e.method == method
        assert len(e.predictions) == 3
        assert e.target == e.predictions[0].index  # by default the predicted class is explained
        assert e.predictions[0].probability >= e.predictions[1].probability
    assert float(explanations[0].heatmap.max()) == 1.0  # scaled so the hottest pixel is 1


@pytest.mark.parametrize("method", ["gradcam", "integrated_gradients"])
@pytest.mark.parametrize("corner", [(2, 2), (2, 20), (20, 2), (20, 20)])
def test_the_hottest_region_follows_the_object(square_detector, method, corner):
    image = _scene(corner, torch.Generator().manual_seed(1))
    [e] = rz.explain(square_detector, image, method=method, target=1, **NORM)
    assert e.predictions[0].index == 1  # the detector sees the square
    # The 10x10 window with the most attribution is the square's own, to within 4 pixels: one cell of the
    # 8x8 feature map that Grad-CAM weighs (Integrated Gradients is pixel-sharp; the bound is shared).
    mass = nn.functional.avg_pool2d(e.heatmap[None, None], SQUARE, stride=1)[0, 0]  # (23, 23)
    top, left = divmod(int(mass.argmax()), mass.shape[1])
    assert abs(top - corner[0]) <= 4, (top, left)
    assert abs(left - corner[1]) <= 4, (top, left)
    on_square = torch.zeros(32, 32, dtype=torch.bool)
    on_square[corner[0] : corner[0] + SQUARE, corner[1] : corner[1] + SQUARE] = True
    assert e.heatmap[on_square].mean() > 2 * e.heatmap[~on_square].mean()  # hotter than the rest of the image


@pytest.mark.parametrize("name", rz.list_models())
def test_every_registered_model_explains_with_gradcam(name):
    torch.manual_seed(0)
    # Each block starts as the identity, so even ResNet-1202 gives finite outputs with random weights;
    # 8x8 inputs (the models pool adaptively) keep the largest ones quick.
    model = rz.create_model(name, zero_init_residual=True).eval()
    [e] = rz.explain(model, torch.rand(3, 32, 32), target=3, input_size=(3, 8, 8), **NORM)
    assert e.heatmap.shape == (8, 8)
    assert e.target == 3
    assert float(e.heatmap.min()) >= 0
    assert float(e.heatmap.max()) <= 1


def test_the_model_keeps_its_mode_and_gradients():
    model = rz.resnet20_cifar()
    model.train()
    model.layer1.eval()  # a deliberately mixed mode
    rz.explain(model, torch.rand(2, 3, 32, 32), method="integrated_gradients", **NORM)
    assert model.training
    assert not model.layer1.training
    assert all(p.grad is None for p in model.parameters())


def test_explains_the_given_targets_with_the_categories():
    model = rz.resnet20_cifar().eval()
    categories = [f"class{i}" for i in range(10)]
    explanations = rz.explain(model, torch.rand(2, 3, 32, 32), target=[4, 7], categories=categories, **NORM)
    assert [e.target for e in explanations] == [4, 7]
    assert all(p.label == f"class{p.index}" for e in explanations for p in e.predictions)


def test_bad_inputs_get_clear_errors():
    model = rz.resnet20_cifar().eval()
    image = torch.rand(3, 32, 32)
    with pytest.raises(
        ValueError, match="method must be one of 'gradcam', 'integrated_gradients'; got 'saliency'"
    ):
        rz.explain(model, image, method="saliency", **NORM)
    with pytest.raises(ValueError, match="target 10 is out of range for a model with 10 classes"):
        rz.explain(model, image, target=10, **NORM)
    with pytest.raises(ValueError, match=r"one class index per image \(2\)"):
        rz.explain(model, torch.rand(2, 3, 32, 32), target=[1], **NORM)
    with pytest.raises(ValueError, match="topk must be an integer >= 1; got 0"):
        rz.explain(model, image, topk=0, **NORM)
    with pytest.raises(ValueError, match="float pixels in"):
        rz.explain(model, image * 3, **NORM)
    with pytest.raises(ValueError, match="no images to explain"):
        rz.explain(model, [], **NORM)
    with pytest.raises(ValueError, match="no classifier head"):
        rz.explain(rz.resnet20_cifar(num_classes=0), image, **NORM)
    with pytest.raises(ValueError, match="outputs are not finite"):
        rz.explain(_Diverged(), image, method="integrated_gradients", **NORM)
    with pytest.raises(TypeError, match="names its stages"):
        rz.explain(nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()), image, **NORM)


def test_missing_captum_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "captum.attr", None)  # makes `import captum.attr` raise ImportError
    with pytest.raises(ImportError, match=r"pip install 'resnetzoo\[explain\]'"):
        rz.explain(rz.resnet20_cifar(), torch.rand(3, 32, 32), **NORM)


def test_save_writes_the_image_overlay_and_classes(tmp_path):
    [e] = rz.explain(rz.resnet20_cifar().eval(), torch.rand(3, 32, 32), **NORM)
    overlay = e.overlay()
    assert overlay.shape == (32, 32, 3)
    assert overlay.dtype == np.uint8
    path = e.save(tmp_path / "sub" / "x.png")
    with Image.open(path) as png:
        assert png.format == "PNG"
        assert png.width > 2 * png.height


def test_cli_explain_writes_one_png_per_image(tmp_path, capsys):
    model = rz.resnet20_cifar()
    rz.save_pretrained(
        model, tmp_path / "model", mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), dataset="cifar10"
    )
    images = []
    for folder in ("a", "b"):  # the same file name twice: two PNGs, not one overwritten
        (tmp_path / folder).mkdir()
        Image.fromarray(np.full((32, 32, 3), 100, dtype=np.uint8)).save(tmp_path / folder / "cat.png")
        images.append(str(tmp_path / folder / "cat.png"))
    out = tmp_path / "out"
    args = ["explain", "--weights", str(tmp_path / "model"), *images, "--out", str(out)]
    assert main([*args, "--method", "integrated_gradients"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["cat-2.png", "cat.png"]
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith(f"{images[0]}: ")
    assert printed[0].endswith(f"-> {out / 'cat.png'}")
    assert main(["explain", "--weights", str(tmp_path / "model"), "nope.png", "--out", str(out)]) == 2
    assert "image file not found: nope.png" in capsys.readouterr().err
