"""The CIFAR-10 sample bundled with the package: sizes, balance, decoding and labels that mean something."""

from importlib.resources import files

import numpy as np
import pytest
import torch

from resnetzoo.data import CIFAR10_MEAN, CIFAR10_STD, TensorImageDataset, compute_mean_std, sample_cifar10


@pytest.fixture(scope="module")
def train():
    return sample_cifar10("train")


@pytest.fixture(scope="module")
def test():
    return sample_cifar10("test")


def test_sizes_balance_and_decoded_images(train, test):
    assert isinstance(train, TensorImageDataset)
    assert train.data.shape == (5000, 32, 32, 3)
    assert test.data.shape == (1000, 32, 32, 3)
    assert train.data.dtype == torch.uint8
    assert train.targets.dtype == torch.int64
    assert torch.bincount(train.targets).tolist() == [500] * 10
    assert torch.bincount(test.targets).tolist() == [100] * 10
    assert train.classes == [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ]
    assert len({image.numpy().tobytes() for image in train.data}) == 5000  # 5,000 different images
    assert int(train.data.float().std()) > 40  # real photographs, not blank decodes


def test_repr_and_docstring_say_it_is_a_sample_of_the_jpeg_copy(train):
    for text in (repr(train), sample_cifar10.__doc__):
        assert "5,000 train + 1,000 test" in text
        assert "JPEG CIFAR-10 copy, not the full data set" in text
    assert "split: train" in repr(train)


def test_labels_carry_the_classes(train, test):
    # a nearest-class-mean classifier on raw pixels, fitted on train, beats chance (10%) on test
    pixels = train.data.float().reshape(len(train), -1)
    centroids = torch.stack([pixels[train.targets == c].mean(0) for c in range(10)])
    predictions = torch.cdist(test.data.float().reshape(len(test), -1), centroids).argmin(1)
    assert float((predictions == test.targets).float().mean()) == pytest.approx(0.297, abs=0.02)
    # and the names are right: sky and sea make airplane and ship the bluest classes
    means = torch.stack([train.data[train.targets == c].float().mean(dim=(0, 1, 2)) for c in range(10)])
    bluest = (means[:, 2] - means[:, 0]).topk(2).indices.tolist()
    assert {train.classes[c] for c in bluest} == {"airplane", "ship"}


def test_statistics_are_close_to_cifar10(train):
    mean, std = compute_mean_std(train)
    assert mean == pytest.approx(CIFAR10_MEAN, abs=0.005)
    assert std == pytest.approx(CIFAR10_STD, abs=0.005)


def test_validation_split_is_carved_from_the_training_sample(train):
    part = sample_cifar10("train", val_size=500)
    val = sample_cifar10("val", val_size=500)
    assert (len(part), len(val)) == (4500, 500)
    assert torch.bincount(val.targets).tolist() == [50] * 10
    rows = lambda d: {image.numpy().tobytes() for image in d.data}  # noqa: E731
    assert not rows(part) & rows(val)
    assert rows(part) | rows(val) == rows(train)
    with pytest.raises(ValueError, match="needs val_size > 0"):
        sample_cifar10("val")
    with pytest.raises(ValueError, match=r"val_size must be an integer in \[0, 5000\)"):
        sample_cifar10("train", val_size=5000)
    with pytest.raises(ValueError, match="unknown split"):
        sample_cifar10("validation")


def test_the_package_file_is_small_and_holds_no_pickles():
    sample = files("resnetzoo.data").joinpath("_sample", "cifar10_sample.npz")
    with sample.open("rb") as f:
        size = len(f.read())
    assert size < 3_000_000
    with sample.open("rb") as f, np.load(f, allow_pickle=False) as arrays:  # would raise on a pickled array
        assert sorted(arrays.files) == [
            "classes",
            "test_jpeg",
            "test_labels",
            "test_offsets",
            "train_jpeg",
            "train_labels",
            "train_offsets",
        ]
        offsets = arrays["train_offsets"]
        assert offsets[0] == 0
        assert offsets[-1] == len(arrays["train_jpeg"])
        assert len(offsets) == 5001
        starts = arrays["train_jpeg"][offsets[:-1, None] + np.arange(2)]
        assert (starts == [0xFF, 0xD8]).all()  # every image starts with the JPEG start-of-image marker
