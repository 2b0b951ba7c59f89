"""One decoder, one preprocessing: the same awkward files give the same pixels and the same answer through
read_image, predict, explain, image_folder and ``resnetzoo eval``, and the same error for a broken one."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
import torch
from helpers import resnet20_with_running_stats
from PIL import Image, ImageOps

import resnetzoo as rz
from resnetzoo.cli import main
from resnetzoo.data import image_folder, read_image
from resnetzoo.data.preprocess import Preprocess

MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
CATEGORIES = tuple(f"c{i}" for i in range(10))  # folder class "c0" is label 0 for the model too


def _pil_rgb(path) -> torch.Tensor:
    """The reference: PIL's own decoding, orientation applied, as uint8 (3, H, W)."""
    with Image.open(path) as image:
        rgb = ImageOps.exif_transpose(image).convert("RGB")
    return torch.from_numpy(np.array(rgb)).permute(2, 0, 1)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Each awkward kind of file, 32x32 once decoded; and a truncated JPEG."""
    root = tmp_path_factory.mktemp("awkward")
    rng = np.random.default_rng(0)
    grey16 = rng.integers(0, 65536, (32, 32)).astype(np.uint16)
    Image.fromarray(grey16).save(root / "grey16.png")  # mode I;16
    palette = Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).convert("P")
    palette.save(root / "palette_alpha.png", transparency=0)  # palette entry 0 is transparent
    cmyk = Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).convert("CMYK")
    cmyk.save(root / "cmyk.jpg", quality=95)
    # stored 32 wide and 32 high but meant to be turned 90 degrees clockwise (EXIF orientation 6);
    # a left-to-right ramp becomes a top-to-bottom one
    ramp = np.broadcast_to(np.linspace(0, 255, 32, dtype=np.uint8)[None, :, None], (32, 32, 3)).copy()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(ramp).save(root / "rotated.jpg", exif=exif.tobytes(), quality=95)
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / "whole.jpg")
    (root / "truncated.jpg").write_bytes((root / "whole.jpg").read_bytes()[:400])
    (root / "whole.jpg").unlink()
    good = {
        "grey16.png": (grey16.astype(np.float32) / 65535)[None].repeat(3, 0),
        "palette_alpha.png": None,
        "cmyk.jpg": None,
        "rotated.jpg": None,
    }
    return root, good


@pytest.fixture(scope="module")
def model():
    return resnet20_with_running_stats()


def test_read_image_decodes_each_kind(files):
    root, good = files
    grey16 = read_image(root / "grey16.png")
    assert grey16.dtype == torch.float32
    assert grey16.shape == (3, 32, 32)
    torch.testing.assert_close(grey16, torch.from_numpy(good["grey16.png"]), rtol=0, atol=1e-7)
    for name in ("palette_alpha.png", "cmyk.jpg", "rotated.jpg"):
        image = read_image(root / name)
        assert image.dtype == torch.uint8, name
        assert image.shape == (3, 32, 32), name
        assert torch.equal(image, _pil_rgb(root / name)), name  # PIL's pixels exactly
    # the EXIF rotation was applied: the ramp now runs from top to bottom (JPEG is lossy: roughly)
    rows = read_image(root / "rotated.jpg").float().mean(dim=(0, 2))
    columns = read_image(root / "rotated.jpg").float().mean(dim=(0, 1))
    assert rows[-1] - rows[0] > 200
    assert abs(columns[-1] - columns[0]) < 20
    # alpha is dropped: the transparent palette entry keeps its colour, as PIL's convert("RGB") does
    with Image.open(root / "palette_alpha.png") as image:
        assert image.mode == "P"
        assert image.info["transparency"] == 0


def _error(path) -> str:
    return rf"cannot decode image file {re.escape(str(path))}: .*truncated"


def test_every_reader_gives_the_same_pixels_and_the_same_error(files, model):
    root, good = files
    # image_folder: one class per file, in file order
    folder = root.parent / "as_folder"
    for name in good:
        (folder / name.replace(".", "_")).mkdir(parents=True)
        shutil.copy(root / name, folder / name.replace(".", "_") / name)
    dataset = image_folder(folder, num_workers=0)
    pre = Preprocess((3, 32, 32), MEAN, STD)
    for name, stored in zip(sorted(good, key=lambda n: n.replace(".", "_")), dataset.data, strict=True):
        decoded = read_image(root / name)
        expected = decoded if decoded.dtype == torch.uint8 else (decoded * 255).round().to(torch.uint8)
        assert torch.equal(stored.permute(2, 0, 1), expected), name  # 16-bit: rounded to 8 bits
        # predict and explain see the decoded pixels, through the one preprocessing
        [preds] = rz.predict(model, root / name, topk=10, mean=MEAN, std=STD)
        with torch.no_grad():
            probs = model(pre(decoded)[None]).softmax(dim=-1)[0]
        assert [p.probability for p in preds] == pytest.approx(
            probs[[p.index for p in preds]].tolist(), abs=1e-6
        )
        [explained] = rz.explain(model, root / name, mean=MEAN, std=STD, topk=10)
        torch.testing.assert_close(explained.image, pre.unit_resized(decoded).float(), rtol=0, atol=0)
        assert [p.index for p in explained.predictions] == [p.index for p in preds], name

    truncated = root / "truncated.jpg"
    with pytest.raises(rz.ImageDecodeError, match=_error(truncated)):
        read_image(truncated)
    with pytest.raises(rz.ImageDecodeError, match=_error(truncated)):
        rz.predict(model, truncated, mean=MEAN, std=STD)
    with pytest.raises(rz.ImageDecodeError, match=_error(truncated)):
        rz.explain(model, truncated, mean=MEAN, std=STD)
    (folder / "broken").mkdir()
    shutil.copy(truncated, folder / "broken" / "truncated.jpg")
    with pytest.raises(rz.ImageDecodeError, match=_error(folder / "broken" / "truncated.jpg")):
        image_folder(folder, num_workers=0)


def test_weights_transforms_are_predicts_preprocessing(files, model):
    root, good = files
    record = rz.get_weights("resnet20_cifar.cifar10")
    transforms = record.transforms()
    pre = Preprocess.from_record(record)
    for name in good:
        decoded = read_image(root / name)
        torch.testing.assert_close(transforms(decoded), pre(decoded), rtol=0, atol=0)
        with Image.open(root / name) as image:  # a PIL image: the same as the file for 8-bit ones
            if image.mode != "I;16":
                torch.testing.assert_close(
                    transforms(ImageOps.exif_transpose(image)), pre(root / name), rtol=0, atol=0
                )


def test_cli_eval_on_a_folder_answers_as_predict(files, model, tmp_path, capsys):
    """``resnetzoo eval`` on a one-image test split: its loss is -log(predict's probability of the label)."""
    root, good = files
    saved = tmp_path / "saved"
    rz.save_pretrained(model, saved, mean=MEAN, std=STD, categories=CATEGORIES)
    for name in good:
        data = tmp_path / f"data_{name.replace('.', '_')}"
        for split in ("train", "test"):
            (data / split / "c0").mkdir(parents=True)
            shutil.copy(root / name, data / split / "c0" / name)
        args = ["eval", "--weights", str(saved), "--data", str(data), "--val-size", "0", "--device", "cpu"]
        assert main(args) == 0, name
        printed = capsys.readouterr().out
        loss = float(re.search(r"test \(1 images\): .*loss (\d+\.\d+)", printed).group(1))
        decoded = read_image(root / name)  # the folder keeps 8 bits: predict the same pixels
        pixels = decoded if decoded.dtype == torch.uint8 else (decoded * 255).round().to(torch.uint8)
        [preds] = rz.predict(model, pixels, topk=10, mean=MEAN, std=STD)
        label = next(p.probability for p in preds if p.index == 0)
        assert loss == pytest.approx(-np.log(label), abs=2e-4), name

    data = tmp_path / "data_truncated"
    (data / "train" / "c0").mkdir(parents=True)
    (data / "test" / "c0").mkdir(parents=True)
    shutil.copy(root / "cmyk.jpg", data / "train" / "c0" / "cmyk.jpg")
    shutil.copy(root / "truncated.jpg", data / "test" / "c0" / "truncated.jpg")
    args = ["eval", "--weights", str(saved), "--data", str(data), "--val-size", "0", "--device", "cpu"]
    assert main(args) != 0
    err = capsys.readouterr().err
    assert re.search(_error(data / "test" / "c0" / "truncated.jpg"), err), err
    assert "Traceback" not in err
