"""image_folder: class folders of PNG/JPEG files decoded into a TensorImageDataset, with an on-disk cache."""

import logging
import os

import numpy as np
import pytest
import torch
from data_fakes import gradient_image, random_images, write_image

import resnetzoo.data.folder as folder_module
from resnetzoo.data import DatasetError, TensorImageDataset, image_folder
from resnetzoo.errors import ArgumentError, ArgumentTypeError


@pytest.fixture
def split_tree(tmp_path):
    """``root/{train,test}/{cat,dog,frog}/NN.png`` of known pixels; test has no frog."""
    images = random_images(21, seed=9)
    layout = [
        ("train", "cat", 4),
        ("train", "dog", 5),
        ("train", "frog", 3),
        ("test", "cat", 4),
        ("test", "dog", 5),
    ]
    expected, i = {}, 0
    for split, name, count in layout:
        for j in range(count):
            write_image(tmp_path / split / name / f"{j:02d}.png", images[i])
            expected.setdefault(split, []).append((images[i], name))
            i += 1
    return tmp_path, expected


def test_reads_split_folders_exactly_with_shared_class_numbering(split_tree):
    root, expected = split_tree
    train = image_folder(root, split="train", num_workers=0)
    test = image_folder(root, split="test", num_workers=0)
    assert isinstance(train, TensorImageDataset)
    assert train.classes == test.classes == ["cat", "dog", "frog"]
    for ds, split in ((train, "train"), (test, "test")):
        images = np.stack([image for image, _ in expected[split]])
        assert torch.equal(ds.data, torch.from_numpy(images))  # PNG is lossless: exact pixels, file order
        assert ds.targets.tolist() == [ds.classes.index(name) for _, name in expected[split]]
    assert ds.split == "test"
    assert str(root / "test") in repr(ds)


def test_reads_a_flat_class_tree_and_skips_other_files(tmp_path):
    for name, fmt in (("a", "png"), ("b", "jpg")):
        for j in range(3):
            write_image(tmp_path / name / f"{j}.{fmt}", gradient_image(j), fmt=fmt)
    write_image(tmp_path / "b" / "UPPER.JPEG", gradient_image(5), fmt="jpg")
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    ds = image_folder(tmp_path, num_workers=0)
    assert ds.classes == ["a", "b"]
    assert ds.targets.tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert ds.data.shape == (7, 32, 32, 3)
    assert torch.equal(ds.data[0], torch.from_numpy(gradient_image(0)))
    # JPEG is lossy: close to the source, not equal
    error = (ds.data[3].float() - torch.from_numpy(gradient_image(0)).float()).abs().mean()
    assert 0 < float(error) < 3


def test_grey_and_rgba_images_become_rgb(tmp_path):
    grey = np.full((8, 8, 1), 77, dtype=np.uint8)
    rgba = np.concatenate(
        [random_images(1, seed=1)[0][:8, :8], np.full((8, 8, 1), 128, dtype=np.uint8)], axis=2
    )
    write_image(tmp_path / "x" / "grey.png", grey)
    write_image(tmp_path / "x" / "rgba.png", rgba)
    ds = image_folder(tmp_path, num_workers=0)
    assert ds.data.shape == (2, 8, 8, 3)
    assert bool((ds.data[0] == 77).all())
    assert torch.equal(ds.data[1], torch.from_numpy(rgba[..., :3]))


def test_mixed_sizes_need_size_and_the_error_names_the_file(tmp_path):
    write_image(tmp_path / "a" / "0.png", random_images(1, seed=0)[0])
    write_image(tmp_path / "a" / "1.png", np.zeros((20, 24, 3), dtype=np.uint8))
    with pytest.raises(DatasetError, match=r"a/1\.png is 20x24 but .*a/0\.png is 32x32; pass size="):
        image_folder(tmp_path, num_workers=0)
    ds = image_folder(tmp_path, size=16, num_workers=0)
    assert ds.data.shape == (2, 16, 16, 3)
    assert image_folder(tmp_path, size=(8, 12), num_workers=0).data.shape == (2, 8, 12, 3)


def test_corrupted_image_is_named(tmp_path):
    write_image(tmp_path / "a" / "0.png", random_images(1, seed=0)[0])
    (tmp_path / "a" / "1.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    with pytest.raises(DatasetError, match=r"cannot decode image .*a/1\.jpg"):
        image_folder(tmp_path, num_workers=0)


def test_missing_or_empty_folders_raise_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        image_folder(tmp_path / "nothing")
    (tmp_path / "train").mkdir()
    with pytest.raises(FileNotFoundError, match=r"test does not exist; it holds train"):
        image_folder(tmp_path, split="test")
    with pytest.raises(FileNotFoundError, match="no class folders"):
        image_folder(tmp_path / "train")
    (tmp_path / "train" / "cat").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no \.png/\.jpg/\.jpeg images"):
        image_folder(tmp_path / "train")


def test_bad_size_is_rejected(tmp_path):
    accepted = r"size must be None or a positive integer or a \(height, width\) pair of them"
    with pytest.raises(ArgumentError, match=accepted + "; got 0"):
        image_folder(tmp_path, size=0)
    # a float was "'float' object is not iterable" from deep inside; now the parameter is named
    with pytest.raises(ArgumentTypeError, match=accepted + "; got 32.5 of type float"):
        image_folder(tmp_path, size=32.5)
    with pytest.raises(ArgumentTypeError, match=accepted + r"; got \(32, 32.0\)"):
        image_folder(tmp_path, size=(32, 32.0))
    with pytest.raises(ArgumentError, match=accepted + r"; got \(3, 32, 32\)"):
        image_folder(tmp_path, size=(3, 32, 32))
    with pytest.raises(ArgumentError, match="num_workers must be None or an integer >= 0; got -1"):
        image_folder(tmp_path, num_workers=-1)


def test_worker_processes_give_the_same_result(tmp_path, monkeypatch):
    for j in range(12):
        write_image(tmp_path / f"c{j % 3}" / f"{j}.png", random_images(1, seed=j)[0])
    monkeypatch.setattr(folder_module, "_CHUNK_SIZE", 4)  # 3 chunks, so 2 processes both get work
    in_process = image_folder(tmp_path, num_workers=0)
    in_pool = image_folder(tmp_path, num_workers=2)
    assert torch.equal(in_process.data, in_pool.data)
    assert torch.equal(in_process.targets, in_pool.targets)


def test_worker_errors_reach_the_caller(tmp_path, monkeypatch):
    for j in range(8):
        write_image(tmp_path / "a" / f"{j}.png", random_images(1, seed=j)[0])
    (tmp_path / "a" / "7.png").write_bytes(b"broken")
    monkeypatch.setattr(folder_module, "_CHUNK_SIZE", 4)
    with pytest.raises(DatasetError, match=r"cannot decode image .*a/7\.png"):
        image_folder(tmp_path, num_workers=2)


def test_cache_is_reused_and_invalidated_when_files_change(split_tree, tmp_path_factory, monkeypatch):
    root, _ = split_tree
    cache = tmp_path_factory.mktemp("cache")
    first = image_folder(root, split="train", cache_dir=cache, num_workers=0)
    files = list(cache.iterdir())
    assert len(files) == 1
    assert files[0].suffix == ".safetensors"

    def no_decoding(*args):
        raise AssertionError("decoded although the cache is valid")

    with monkeypatch.context() as patch:
        patch.setattr(folder_module, "_decode_all", no_decoding)
        cached = image_folder(root, split="train", cache_dir=cache)
    assert torch.equal(cached.data, first.data)
    assert torch.equal(cached.targets, first.targets)
    assert cached.classes == first.classes

    # a changed file (new content, new mtime) is a new key: decoded again, second cache file
    changed = root / "train" / "cat" / "00.png"
    write_image(changed, np.zeros((32, 32, 3), dtype=np.uint8))
    os.utime(changed, ns=(1, 1))
    again = image_folder(root, split="train", cache_dir=cache, num_workers=0)
    assert bool((again.data[0] == 0).all())
    assert len(list(cache.iterdir())) == 2
    # another size is another key too
    image_folder(root, split="train", size=8, cache_dir=cache, num_workers=0)
    assert len(list(cache.iterdir())) == 3


def test_unreadable_cache_is_rebuilt_with_a_warning(split_tree, tmp_path_factory, caplog):
    root, _ = split_tree
    cache = tmp_path_factory.mktemp("cache")
    first = image_folder(root, split="test", cache_dir=cache, num_workers=0)
    (cache_file,) = cache.iterdir()
    cache_file.write_bytes(b"truncated")
    with caplog.at_level(logging.WARNING, logger="resnetzoo.data.folder"):
        rebuilt = image_folder(root, split="test", cache_dir=cache, num_workers=0)
    assert "ignoring unreadable cache" in caplog.text
    assert torch.equal(rebuilt.data, first.data)
    assert image_folder(root, split="test", cache_dir=cache).data.shape == first.data.shape  # valid again
