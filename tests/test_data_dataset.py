"""TensorImageDataset construction checks, stratified splits, mean/std and the normalization constants."""

import pytest
import torch
from torch.utils.data import Dataset

from resnetzoo.data import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    CIFAR100_MEAN,
    CIFAR100_STD,
    TensorImageDataset,
    compute_mean_std,
)


def make_dataset(n=20, num_classes=4, size=8, seed=0, **kwargs):
    g = torch.Generator().manual_seed(seed)
    data = torch.randint(0, 256, (n, size, size, 3), dtype=torch.uint8, generator=g)
    targets = torch.arange(n) % num_classes
    return TensorImageDataset(data, targets, [f"c{i}" for i in range(num_classes)], **kwargs)


def test_item_is_a_float_chw_image_in_unit_range_and_an_int_label():
    ds = make_dataset()
    image, label = ds[3]
    assert image.shape == (3, 8, 8)
    assert image.dtype == torch.float32
    torch.testing.assert_close(image, ds.data[3].permute(2, 0, 1).float() / 255, rtol=0, atol=0)
    assert label == 3
    assert isinstance(label, int)
    assert len(ds) == 20
    assert ds.num_classes == 4


@pytest.mark.parametrize(
    ("data", "targets", "classes", "error", "match"),
    [
        (
            torch.zeros(4, 8, 8, 3, dtype=torch.uint8),
            [0, 1, 2, 3],
            ["a", "b", "c"],
            ValueError,
            "label 3 is out of range",
        ),
        (
            torch.zeros(4, 8, 8, 3, dtype=torch.uint8),
            [0, -1, 0, 0],
            ["a", "b"],
            ValueError,
            "label -1 is out of range",
        ),
        (torch.zeros(4, 3, 8, 8, dtype=torch.uint8), [0, 0, 0, 0], ["a"], ValueError, r"\(N, H, W, C\)"),
        (torch.zeros(4, 8, 8, dtype=torch.uint8), [0, 0, 0, 0], ["a"], ValueError, r"\(N, H, W, C\)"),
        (torch.zeros(0, 8, 8, 3, dtype=torch.uint8), [], ["a"], ValueError, "empty"),
        (
            torch.zeros(4, 8, 8, 3, dtype=torch.uint8),
            [0, 0, 0],
            ["a"],
            ValueError,
            "4 images but targets has 3",
        ),
        (
            torch.zeros(4, 8, 8, 3, dtype=torch.uint8),
            [0.0, 1.0, 0.0, 0.0],
            ["a", "b"],
            ValueError,
            "integer labels",
        ),
        (torch.zeros(4, 8, 8, 3, dtype=torch.uint8), [0, 0, 0, 0], [], ValueError, "classes is empty"),
        (torch.zeros(4, 8, 8, 3), [0, 0, 0, 0], ["a"], TypeError, "uint8"),
    ],
)
def test_bad_inputs_are_rejected_at_construction(data, targets, classes, error, match):
    with pytest.raises(error, match=match):
        TensorImageDataset(data, targets, classes)


def test_repr_names_the_source_split_and_size():
    text = repr(make_dataset(split="val", description="toy data"))
    assert text.splitlines()[0] == "TensorImageDataset: toy data"
    assert "split: val" in text
    assert "images: 20 of 8x8x3" in text
    assert "classes: 4" in text


def test_train_val_split_apportions_uneven_classes_exactly():
    # class sizes 50, 30, 20; 10 to validation: quotas 5, 3, 2
    targets = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    ds = TensorImageDataset(torch.zeros(100, 4, 4, 3, dtype=torch.uint8), targets, ["a", "b", "c"])
    train, val = ds.train_val_split(10, seed=3)
    assert torch.bincount(val.targets).tolist() == [5, 3, 2]
    assert torch.bincount(train.targets).tolist() == [45, 27, 18]
    assert (train.split, val.split) == ("train", "val")
    # 7 of 3 equal classes of 10: 2.33 each, the leftover image goes to the lowest class index
    targets = torch.arange(30) % 3
    ds = TensorImageDataset(torch.zeros(30, 4, 4, 3, dtype=torch.uint8), targets, ["a", "b", "c"])
    assert torch.bincount(ds.train_val_split(7)[1].targets).tolist() == [3, 2, 2]
    with pytest.raises(ValueError, match=r"val_size must be in \(0, 30\)"):
        ds.train_val_split(30)


def test_train_val_split_is_disjoint_and_deterministic():
    ds = make_dataset(n=40)
    train, val = ds.train_val_split(8, seed=5)
    rows = lambda d: {img.numpy().tobytes() for img in d.data}  # noqa: E731
    assert not rows(train) & rows(val)
    assert len(rows(train) | rows(val)) == 40
    assert torch.equal(val.data, ds.train_val_split(8, seed=5)[1].data)


def reference_mean_std(data):
    x = data.double().div(255).permute(3, 0, 1, 2).reshape(data.shape[-1], -1)  # (C, all pixels)
    return x.mean(1), x.std(1, unbiased=False)


def test_compute_mean_std_of_a_tensor_dataset_is_exact():
    ds = make_dataset(n=50, size=16)
    mean, std = compute_mean_std(ds)
    ref_mean, ref_std = reference_mean_std(ds.data)
    torch.testing.assert_close(torch.tensor(mean, dtype=torch.float64), ref_mean, rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.tensor(std, dtype=torch.float64), ref_std, rtol=0, atol=1e-12)


def test_compute_mean_std_of_any_dataset_of_tensors():
    ds = make_dataset(n=30)

    class Plain(Dataset):  # not tensor-backed: items read one by one
        def __len__(self):
            return len(ds)

        def __getitem__(self, i):
            return ds[i]

    ref_mean, ref_std = reference_mean_std(ds.data)
    mean, std = compute_mean_std(Plain())  # items are float32, so agreement is to float32 precision
    torch.testing.assert_close(torch.tensor(mean, dtype=torch.float64), ref_mean, rtol=0, atol=1e-7)
    torch.testing.assert_close(torch.tensor(std, dtype=torch.float64), ref_std, rtol=0, atol=1e-7)
    # with a transform, the statistics are of what the data set returns
    doubled = make_dataset(n=30, transform=lambda image: image * 2)
    mean2, std2 = compute_mean_std(doubled)
    torch.testing.assert_close(torch.tensor(mean2), 2 * torch.tensor(mean), rtol=0, atol=1e-7)
    torch.testing.assert_close(torch.tensor(std2), 2 * torch.tensor(std), rtol=0, atol=1e-7)
    # max_images reads only the first images
    head = compute_mean_std(ds, max_images=10)
    torch.testing.assert_close(
        torch.tensor(head[0], dtype=torch.float64), reference_mean_std(ds.data[:10])[0]
    )


def test_compute_mean_std_rejects_items_that_are_not_images():
    class Numbers(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return float(i), 0

    with pytest.raises(TypeError, match="item 0 must be a"):
        compute_mean_std(Numbers())
    with pytest.raises(ValueError, match="max_images must be None or an integer >= 1; got 0"):
        compute_mean_std(make_dataset(), max_images=0)


def test_normalization_constants_are_the_true_per_pixel_statistics():
    assert CIFAR10_MEAN == (0.4914, 0.4822, 0.4465)
    assert CIFAR10_STD == (0.2470, 0.2435, 0.2616)
    assert CIFAR100_MEAN == (0.5071, 0.4865, 0.4409)
    assert CIFAR100_STD == (0.2673, 0.2564, 0.2762)
    assert CIFAR10_STD != (0.2023, 0.1994, 0.2010)  # the mean of per-image stds, not the data's std
