"""DeviceLoader on CPU (and CUDA where there is one): layout, values, epochs, sharding, bad arguments."""

import pytest
import torch
import torch.nn.functional as F
from data_fakes import devices

from resnetzoo.data import AugmentConfig, DeviceLoader, TensorImageDataset

MEAN, STD = (0.5, 0.4, 0.3), (0.25, 0.2, 0.1)


@pytest.fixture(params=devices())
def device(request):
    return torch.device(request.param)


def unique_images(n=100, size=8, num_classes=10, seed=0):
    """Noise images with the index written into pixel (0, 0), so that an image can be traced back."""
    g = torch.Generator().manual_seed(seed)
    data = torch.randint(0, 256, (n, size, size, 3), dtype=torch.uint8, generator=g)
    data[:, 0, 0, 0], data[:, 0, 0, 1] = torch.arange(n) % 256, torch.arange(n) // 256
    return TensorImageDataset(data, torch.arange(n) % num_classes, [f"c{i}" for i in range(num_classes)])


def to_pixels(images):
    """Undoes (pixel / 255 - MEAN) / STD: back to uint8 ``(B, C, H, W)``."""
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    return ((images.cpu().float() * std + mean) * 255).round().to(torch.uint8)


def index_of(images):
    pixels = to_pixels(images)
    return (pixels[:, 0, 0, 0].long() + 256 * pixels[:, 1, 0, 0].long()).tolist()


def test_eval_batches_are_the_normalized_images_in_order(device):
    ds = unique_images(n=50)
    loader = DeviceLoader(ds, 16, device=device, train=False, mean=MEAN, std=STD)
    assert len(loader) == 4
    assert loader.augment is None
    batches = list(loader)
    assert [len(x) for x, _ in batches] == [16, 16, 16, 2]
    assert all(x.device.type == device.type and y.device.type == device.type for x, y in batches)
    images = torch.cat([x for x, _ in batches]).cpu()
    expected = ds.data.permute(0, 3, 1, 2).double() / 255 - torch.tensor(MEAN, dtype=torch.float64).view(
        1, 3, 1, 1
    )
    expected = expected / torch.tensor(STD, dtype=torch.float64).view(1, 3, 1, 1)
    torch.testing.assert_close(images.double(), expected, rtol=0, atol=2e-6)
    assert torch.equal(torch.cat([y for _, y in batches]).cpu(), ds.targets)


def test_batches_are_channels_last_float_with_int64_targets(device):
    loader = DeviceLoader(unique_images(), 32, device=device, mean=MEAN, std=STD)
    images, targets = next(iter(loader))
    assert images.shape == (32, 3, 8, 8)
    assert images.dtype == torch.float32
    assert images.is_contiguous(memory_format=torch.channels_last)
    assert targets.dtype == torch.int64
    assert targets.shape == (32,)
    plain, _ = next(iter(DeviceLoader(unique_images(), 32, device=device, channels_last=False)))
    assert plain.is_contiguous()
    assert float(plain.min()) >= 0
    assert float(plain.max()) <= 1


def test_bfloat16_batches_are_the_float32_batches_rounded_once(device):
    ds = unique_images()
    fp32, _ = next(iter(DeviceLoader(ds, 32, device=device, mean=MEAN, std=STD, seed=4)))
    bf16, _ = next(
        iter(DeviceLoader(ds, 32, device=device, mean=MEAN, std=STD, seed=4, dtype=torch.bfloat16))
    )
    assert bf16.dtype == torch.bfloat16
    assert bf16.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(bf16, fp32.to(torch.bfloat16))


def test_train_epoch_visits_every_image_once_in_a_fresh_order():
    ds = unique_images(n=100)
    loader = DeviceLoader(ds, 10, augment=None, mean=MEAN, std=STD)
    epochs = []
    for _ in range(2):
        order, labels = [], []
        for images, targets in loader:
            order += index_of(images)
            labels += targets.tolist()
        assert sorted(order) == list(range(100))
        assert labels == ds.targets[order].tolist()  # each image keeps its label
        epochs.append(order)
    assert epochs[0] != epochs[1]
    assert loader.epoch == 2


def test_drop_last_defaults_to_train():
    ds = unique_images(n=100)
    assert len(DeviceLoader(ds, 32)) == 3
    assert len(DeviceLoader(ds, 32, drop_last=False)) == 4
    assert len(DeviceLoader(ds, 32, train=False)) == 4
    assert [len(x) for x, _ in DeviceLoader(ds, 32)] == [32, 32, 32]


def test_augmented_images_are_crops_and_flips_of_their_source(device):
    ds = unique_images(n=64)
    plain = DeviceLoader(ds, 64, device=device, augment=None, mean=MEAN, std=STD, seed=3)
    augmented = DeviceLoader(ds, 64, device=device, mean=MEAN, std=STD, seed=3)  # default: crop 4 + flip
    assert augmented.augment == AugmentConfig()
    ((source, source_targets),) = list(plain)  # same seed: same order, augmentation or not
    ((out, targets),) = list(augmented)
    assert torch.equal(targets, source_targets)
    assert out.device.type == device.type
    padded = F.pad(to_pixels(source), (4, 4, 4, 4))
    pixels = to_pixels(out)
    flips = 0
    for i in range(64):
        windows = [padded[i, :, dy : dy + 8, dx : dx + 8] for dy in range(9) for dx in range(9)]
        plain_match = any(torch.equal(pixels[i], w) for w in windows)
        flip_match = any(torch.equal(pixels[i], w.flip(-1)) for w in windows)
        assert plain_match or flip_match, f"image {i} is not a crop or flipped crop of its source"
        flips += flip_match and not plain_match
    assert 16 < flips < 48


def test_cutout_zeroes_a_square_after_normalization():
    ds = unique_images(n=32, size=16)
    images, _ = next(
        iter(DeviceLoader(ds, 32, augment=AugmentConfig(0, False, cutout=4), mean=MEAN, std=STD))
    )
    zero_pixels = (images == 0).all(1).sum(dim=(1, 2))  # per image
    assert bool((zero_pixels >= 4).all())
    assert bool((zero_pixels <= 16).all())


def test_each_epoch_depends_only_on_seed_and_epoch(device):
    ds = unique_images(n=60)
    kwargs = {"device": device, "augment": AugmentConfig(cutout=3), "mean": MEAN, "std": STD, "seed": 11}
    loader = DeviceLoader(ds, 20, **kwargs)
    epochs = [[(x.clone(), y.clone()) for x, y in loader] for _ in range(3)]
    resumed = DeviceLoader(ds, 20, **kwargs)
    resumed.set_epoch(2)
    for (x, y), (rx, ry) in zip(epochs[2], resumed, strict=True):
        assert torch.equal(x, rx)
        assert torch.equal(y, ry)
    assert not torch.equal(epochs[0][0][0], epochs[1][0][0])
    other_seed = next(iter(DeviceLoader(ds, 20, **{**kwargs, "seed": 12})))[0]
    assert not torch.equal(epochs[0][0][0], other_seed)
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        loader.set_epoch(-1)


@pytest.mark.parametrize("train", [True, False])
def test_ranks_get_disjoint_shares_of_each_epoch(train, device):
    ds = unique_images(n=100)
    shares = []
    for rank in range(3):
        loader = DeviceLoader(
            ds,
            5,
            device=device,
            train=train,
            augment=None,
            mean=MEAN,
            std=STD,
            rank=rank,
            world_size=3,
            drop_last=False,
        )
        shares.append([i for images, _ in loader for i in index_of(images)])
    seen = [i for share in shares for i in share]
    assert len(seen) == len(set(seen))
    if train:
        assert [len(share) for share in shares] == [33, 33, 33]  # equal: one image of the 100 sits out
    else:
        assert [len(share) for share in shares] == [34, 33, 33]
        assert sorted(seen) == list(range(100))


def test_policy_runs_in_the_loader_and_is_reproducible():
    ds = TensorImageDataset(torch.randint(0, 256, (8, 32, 32, 3), dtype=torch.uint8), [0] * 8, ["a"])
    config = AugmentConfig(policy="trivialaugment")
    a, _ = next(iter(DeviceLoader(ds, 8, augment=config)))
    b, _ = next(iter(DeviceLoader(ds, 8, augment=config)))
    assert a.shape == (8, 3, 32, 32)
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"batch_size": 0}, ValueError, "batch_size must be an integer >= 1; got 0"),
        ({"mean": MEAN}, ValueError, "both mean and std"),
        ({"mean": (0.5,), "std": (0.2,)}, ValueError, r"one value per channel \(3\)"),
        ({"mean": MEAN, "std": (0.2, 0.0, 0.1)}, ValueError, "std must be positive"),
        ({"rank": 2, "world_size": 2}, ValueError, "0 <= rank < world_size"),
        ({"batch_size": 64, "world_size": 2}, ValueError, "no batches"),
        ({"dtype": torch.int32}, ValueError, "floating dtype"),
        ({"augment": "crop"}, TypeError, "AugmentConfig, 'default' or None"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, error, match):
    kwargs = {"batch_size": 10, **kwargs}
    with pytest.raises(error, match=match):
        DeviceLoader(unique_images(n=100), **kwargs)


def test_datasets_it_cannot_serve_are_rejected():
    with pytest.raises(TypeError, match="tensor-backed"):
        DeviceLoader([(torch.zeros(3, 8, 8), 0)], 1)
    ds = unique_images()
    ds.transform = lambda image: image
    with pytest.raises(ValueError, match="would ignore"):
        DeviceLoader(ds, 10)
