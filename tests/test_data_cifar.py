"""CIFAR10 / CIFAR100: reading the official python-version files, splits, downloads and bad files."""

import pickle
import urllib.error

import numpy as np
import pytest
import torch
from data_fakes import CIFAR10_CLASSES, dump_py2, to_rows, write_fake_cifar10, write_fake_cifar100
from torch.utils.data import DataLoader

import resnetzoo.data.cifar as cifar_module
from resnetzoo.data import CIFAR10, CIFAR100, DatasetError, TensorImageDataset


@pytest.fixture
def cifar10(tmp_path):
    written = write_fake_cifar10(tmp_path)  # 500 train (50 per class), 100 test
    return tmp_path, written


def rows_of(data: torch.Tensor) -> set[bytes]:
    return {image.numpy().tobytes() for image in data}


def test_test_split_reads_pixels_labels_and_classes_exactly(cifar10):
    root, written = cifar10
    test = CIFAR10(root, split="test")
    assert isinstance(test, TensorImageDataset)
    assert test.data.dtype == torch.uint8
    assert test.data.shape == (100, 32, 32, 3)
    assert torch.equal(test.data, torch.from_numpy(written["test_images"]))
    assert test.targets.dtype == torch.int64
    assert test.targets.tolist() == written["test_labels"].tolist()
    assert test.classes == CIFAR10_CLASSES


def test_full_training_set_with_val_size_zero(cifar10):
    root, written = cifar10
    train = CIFAR10(root, split="train", val_size=0)
    assert len(train) == 500
    assert torch.equal(train.data, torch.from_numpy(written["train_images"]))  # batches 1..5 in order
    assert train.targets.tolist() == written["train_labels"].tolist()


def test_train_and_val_are_stratified_disjoint_and_cover_the_training_set(cifar10):
    root, written = cifar10
    train = CIFAR10(root, split="train", val_size=50)
    val = CIFAR10(root, split="val", val_size=50)
    assert (len(train), len(val)) == (450, 50)
    assert torch.bincount(val.targets, minlength=10).tolist() == [5] * 10
    assert torch.bincount(train.targets, minlength=10).tolist() == [45] * 10
    train_rows, val_rows = rows_of(train.data), rows_of(val.data)
    assert not train_rows & val_rows
    assert train_rows | val_rows == rows_of(torch.from_numpy(written["train_images"]))
    # each image keeps its own label
    label_of = {
        img.tobytes(): int(label)
        for img, label in zip(written["train_images"], written["train_labels"], strict=True)
    }
    assert all(
        label_of[img.numpy().tobytes()] == int(t) for img, t in zip(val.data, val.targets, strict=True)
    )


def test_val_split_is_deterministic_for_a_seed_and_changes_with_it(cifar10):
    root, _ = cifar10
    a = CIFAR10(root, split="val", val_size=50, seed=0)
    b = CIFAR10(root, split="val", val_size=50, seed=0)
    c = CIFAR10(root, split="val", val_size=50, seed=1)
    assert torch.equal(a.data, b.data)
    assert torch.equal(a.targets, b.targets)
    assert rows_of(a.data) != rows_of(c.data)


def test_split_arguments_are_checked(cifar10):
    root, _ = cifar10
    with pytest.raises(ValueError, match="needs val_size > 0"):
        CIFAR10(root, split="val", val_size=0)
    with pytest.raises(ValueError, match="unknown split 'valid'"):
        CIFAR10(root, split="valid")
    with pytest.raises(ValueError, match="val_size must be an integer >= 0; got -1"):
        CIFAR10(root, val_size=-1)
    with pytest.raises(ValueError, match="leaves no training images"):
        CIFAR10(root, val_size=500)  # the fake training set has 500 images


def test_works_as_a_map_style_dataset_with_dataloader(cifar10):
    root, written = cifar10
    test = CIFAR10(root, split="test")
    images, labels = next(iter(DataLoader(test, batch_size=32)))
    assert images.shape == (32, 3, 32, 32)
    assert images.dtype == torch.float32
    expected = torch.from_numpy(written["test_images"][:32]).permute(0, 3, 1, 2).float() / 255
    torch.testing.assert_close(images, expected, rtol=0, atol=0)
    assert labels.dtype == torch.int64
    assert labels.tolist() == written["test_labels"][:32].tolist()


def test_transform_is_applied_to_the_float_image(cifar10):
    root, _ = cifar10
    test = CIFAR10(root, split="test", transform=lambda image: image * 2)
    image, _ = test[0]
    torch.testing.assert_close(image, test.data[0].permute(2, 0, 1).float() / 255 * 2)


def test_cifar100_reads_fine_labels(tmp_path):
    written = write_fake_cifar100(tmp_path)
    train = CIFAR100(tmp_path, split="train", val_size=100)
    val = CIFAR100(tmp_path, split="val", val_size=100)
    test = CIFAR100(tmp_path, split="test")
    assert len(train.classes) == 100
    assert train.classes[7] == "fine07"
    assert (len(train), len(val), len(test)) == (900, 100, 200)
    assert torch.bincount(val.targets, minlength=100).tolist() == [1] * 100
    assert torch.equal(test.data, torch.from_numpy(written["test_images"]))
    assert test.targets.tolist() == written["test_labels"].tolist()


def test_pickles_written_by_numpy_2_load_too(cifar10):
    root, written = cifar10
    folder = root / "cifar-10-batches-py"
    content = {b"labels": written["test_labels"].tolist(), b"data": to_rows(written["test_images"])}
    (folder / "test_batch").write_bytes(pickle.dumps(content, protocol=4))  # names numpy._core.multiarray
    assert torch.equal(CIFAR10(root, split="test").data, torch.from_numpy(written["test_images"]))


def test_missing_files_say_where_they_must_be_and_how_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        CIFAR10(tmp_path / "nowhere")
    message = str(info.value)
    assert str(tmp_path / "nowhere" / "cifar-10-batches-py") in message
    assert "download=True" in message
    assert "cifar-10-python.tar.gz" in message
    assert "c58f30108f718f92721af3b95e74349a" in message


def test_download_fetches_the_official_archive_with_its_md5(tmp_path, monkeypatch):
    calls = []

    def fake_download(url, download_root, md5):
        calls.append((url, download_root, md5))
        write_fake_cifar100(tmp_path)

    monkeypatch.setattr(cifar_module, "download_and_extract_archive", fake_download)
    test = CIFAR100(tmp_path, split="test", download=True)
    assert calls == [
        (
            "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
            str(tmp_path),
            "eb9058c3a382ffc7106e4002c42a8d85",
        )
    ]
    assert len(test) == 200
    CIFAR100(tmp_path, split="test", download=True)  # files present now: no second download
    assert len(calls) == 1


def test_failed_download_raises_a_clear_error(tmp_path, monkeypatch):
    def no_network(url, download_root, md5):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(cifar_module, "download_and_extract_archive", no_network)
    with pytest.raises(DatasetError, match=r"could not download CIFAR-10 .*Download it by hand"):
        CIFAR10(tmp_path, download=True)


def test_truncated_batch_file_is_named(cifar10):
    root, _ = cifar10
    path = root / "cifar-10-batches-py" / "data_batch_3"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DatasetError, match=r"data_batch_3 is truncated or corrupted"):
        CIFAR10(root)


def test_corrupted_batch_file_is_named(cifar10):
    root, _ = cifar10
    path = root / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(DatasetError, match=r"test_batch is truncated or corrupted"):
        CIFAR10(root, split="test")


def test_batch_file_of_the_wrong_layout_is_named(cifar10):
    root, _ = cifar10
    path = root / "cifar-10-batches-py" / "test_batch"
    dump_py2({"labels": [0, 1], "data": np.zeros((2, 1024), dtype=np.uint8)}, path)
    with pytest.raises(DatasetError, match=r"test_batch: expected data of uint8 rows of 3072 pixels"):
        CIFAR10(root, split="test")
    dump_py2({"labels": [0, 10], "data": np.zeros((2, 3072), dtype=np.uint8)}, path)
    with pytest.raises(DatasetError, match=r"test_batch: labels must be in \[0, 10\)"):
        CIFAR10(root, split="test")


class RunsShellCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


def test_a_pickle_that_calls_os_system_is_refused_and_not_run(cifar10):
    root, _ = cifar10
    marker = root / "pwned"
    payload = {b"labels": [0], b"data": RunsShellCommand(marker)}
    (root / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps(payload, protocol=4))
    with pytest.raises(DatasetError, match=r"test_batch: refusing to unpickle (os|posix)\.system"):
        CIFAR10(root, split="test")
    assert not marker.exists()
