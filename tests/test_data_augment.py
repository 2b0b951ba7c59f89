"""Batched augmentation, on CPU and CUDA (where there is one): each op against a direct slice of its input."""

import pytest
import torch
import torch.nn.functional as F
from data_fakes import devices

from resnetzoo.data import AugmentConfig, apply_policy, cutout, random_crop, random_flip


def noise(shape, dtype=torch.uint8, seed=0, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=g).to(device, dtype)


@pytest.fixture(params=devices())
def device(request):
    return torch.device(request.param)


def seeded(seed, device="cpu"):
    return torch.Generator(device=device).manual_seed(seed)


def test_random_crop_is_a_shifted_window_of_the_zero_padded_image(device):
    images = noise((400, 3, 12, 10), device=device)
    out = random_crop(images, padding=2, generator=seeded(0, device))
    assert out.shape == images.shape
    assert out.dtype == torch.uint8
    padded = F.pad(images, (2, 2, 2, 2))
    used = set()
    for i in range(len(images)):
        matches = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if torch.equal(out[i], padded[i, :, dy : dy + 12, dx : dx + 10])
        ]
        assert len(matches) == 1, f"image {i} is no single window of its padded self"
        used.add(matches[0])
    assert used == {(dy, dx) for dy in range(5) for dx in range(5)}  # every shift occurs in 400 draws


def test_random_crop_is_reproducible_for_a_seed(device):
    images = noise((64, 3, 8, 8), device=device)
    assert torch.equal(random_crop(images, 4, seeded(7, device)), random_crop(images, 4, seeded(7, device)))
    assert not torch.equal(
        random_crop(images, 4, seeded(7, device)), random_crop(images, 4, seeded(8, device))
    )
    assert torch.equal(random_crop(images, 0, seeded(1, device)), images)


def test_random_flip_flips_about_half_and_nothing_else(device):
    images = noise((1000, 3, 6, 6), device=device)
    out = random_flip(images, seeded(0, device))
    same = torch.tensor([torch.equal(o, x) for o, x in zip(out, images, strict=True)])
    flipped = torch.tensor([torch.equal(o, x.flip(-1)) for o, x in zip(out, images, strict=True)])
    assert bool(
        (same ^ flipped).all()
    )  # each image is itself or its mirror, never both (noise is asymmetric)
    assert 430 < int(flipped.sum()) < 570
    assert torch.equal(random_flip(images, seeded(0, device)), out)


def test_random_flip_keeps_float_values_and_channels_last(device):
    images = (
        noise((16, 3, 5, 5), device=device, dtype=torch.float32).contiguous(memory_format=torch.channels_last)
        / 7
    )
    out = random_flip(images, seeded(1, device))
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert all(torch.equal(o, x) or torch.equal(o, x.flip(-1)) for o, x in zip(out, images, strict=True))


def cutout_reference(image, top, left, size, fill):
    """Direct slice: the square from (top, left), clipped to the image."""
    out = image.clone()
    out[:, max(top, 0) : max(top + size, 0), max(left, 0) : max(left + size, 0)] = fill
    return out


@pytest.mark.parametrize("size", [1, 4, 5])
def test_cutout_fills_one_clipped_square_per_image(size, device):
    images = noise((1500, 3, 9, 9), device=device, dtype=torch.float32) + 1  # no zeros of its own
    out = cutout(images, size, seeded(2, device))
    assert out.shape == images.shape
    centres = set()
    for i in range(len(images)):
        zeros = (out[i] == 0).all(0).nonzero()
        top, left = int(zeros[:, 0].min()), int(zeros[:, 1].min())
        height, width = int(zeros[:, 0].max()) - top + 1, int(zeros[:, 1].max()) - left + 1
        # recover the unclipped corner: a square clipped at the top or left edge starts above or left of 0
        top = top + height - size if top == 0 else top
        left = left + width - size if left == 0 else left
        assert torch.equal(out[i], cutout_reference(images[i], top, left, size, 0.0))
        centres.add((top + size // 2, left + size // 2))
    assert centres == {(y, x) for y in range(9) for x in range(9)}  # centres uniform over the image


def test_cutout_fill_dtype_layout_and_size_zero(device):
    images = noise((8, 3, 6, 6), device=device).contiguous(memory_format=torch.channels_last)
    out = cutout(images, 3, seeded(0, device), fill=7)
    assert out.dtype == torch.uint8
    assert out.is_contiguous(memory_format=torch.channels_last)
    changed = out != images
    assert bool((out[changed] == 7).all())
    assert int((out == 7).all(1).sum()) >= 8  # at least one filled pixel per image
    assert torch.equal(cutout(images, 0, seeded(0, device)), images)
    assert torch.equal(cutout(images, 3, seeded(5, device)), cutout(images, 3, seeded(5, device)))


def test_ops_reject_what_is_not_a_batch():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        random_crop(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="padding must be >= 0"):
        random_crop(torch.zeros(1, 3, 8, 8), padding=-1)
    with pytest.raises(ValueError, match="size must be >= 0"):
        cutout(torch.zeros(1, 3, 8, 8), -2)


@pytest.mark.parametrize("policy", ["autoaugment", "trivialaugment"])
def test_policies_are_reproducible_and_leave_the_global_rng_alone(policy, device):
    images = noise((6, 3, 32, 32), device=device)
    state = torch.get_rng_state()
    a = apply_policy(images, policy, seeded(3, device))
    assert torch.equal(torch.get_rng_state(), state)
    assert a.shape == images.shape
    assert a.dtype == torch.uint8
    assert torch.equal(a, apply_policy(images, policy, seeded(3, device)))
    assert not torch.equal(a, images)


def test_policy_and_config_arguments_are_checked():
    with pytest.raises(ValueError, match="unknown policy 'randaugment'"):
        apply_policy(noise((1, 3, 8, 8)), "randaugment")
    with pytest.raises(ValueError, match="uint8"):
        apply_policy(noise((1, 3, 8, 8), dtype=torch.float32), "autoaugment")
    with pytest.raises(ValueError, match="policy must be one of 'autoaugment', 'trivialaugment' or None"):
        AugmentConfig(policy="auto")
    with pytest.raises(ValueError, match="crop_padding must be an integer >= 0; got -4"):
        AugmentConfig(crop_padding=-4)
    with pytest.raises(ValueError, match="cutout must be an integer >= 0; got -1"):
        AugmentConfig(cutout=-1)
    assert AugmentConfig() == AugmentConfig(crop_padding=4, flip=True, cutout=0, policy=None)
