"""Per-channel mean and standard deviation of the CIFAR training sets: the one place that knows them.

Each value is taken over every pixel of the 50,000 official training images, scaled to [0, 1], per RGB
channel: ``mean = x.mean(dim=(0, 2, 3))`` and ``std = x.std(dim=(0, 2, 3))`` for ``x`` of shape
``(50000, 3, 32, 32)``. Normalizing with them gives inputs with zero mean and unit variance per channel.

Why not ``(0.2023, 0.1994, 0.2010)``: that widely copied "CIFAR-10 std" is not the standard deviation of
the data. It is the *mean of the per-image standard deviations* (the spread of pixels around each image's
own mean, averaged over images), which leaves out how much the image means differ from one another, so it
is about 20% too small. Normalizing with it gives inputs whose standard deviation is about 1.2, not 1.
The true values are below; :func:`resnetzoo.data.compute_mean_std` recomputes them (or those of your own
data) from a data set.
"""

__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CIFAR100_CLASSES",
    "CIFAR100_MEAN",
    "CIFAR100_STD",
    "CLASSES",
    "CLASSIC_NORMALIZATION",
    "NORMALIZATION",
]

CIFAR10_MEAN: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
"""Mean of the CIFAR-10 training pixels in [0, 1], per RGB channel."""

CIFAR10_STD: tuple[float, float, float] = (0.2470, 0.2435, 0.2616)
"""Standard deviation over all CIFAR-10 training pixels in [0, 1], per RGB channel."""

CIFAR100_MEAN: tuple[float, float, float] = (0.5071, 0.4865, 0.4409)
"""Mean of the CIFAR-100 training pixels in [0, 1], per RGB channel."""

CIFAR100_STD: tuple[float, float, float] = (0.2673, 0.2564, 0.2762)
"""Standard deviation over all CIFAR-100 training pixels in [0, 1], per RGB channel."""

# Class names in label order (the order of the logits), as in the official batches.meta files.
CIFAR10_CLASSES = (
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
)

# The 100 fine labels; their label order is alphabetical.
CIFAR100_CLASSES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle",
    "mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear",
    "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon",
    "ray", "road", "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail",
    "snake", "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone",
    "television", "tiger", "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale",
    "willow_tree", "wolf", "woman", "worm",
)  # fmt: skip

CLASSES: dict[str, tuple[str, ...]] = {"cifar10": CIFAR10_CLASSES, "cifar100": CIFAR100_CLASSES}
"""The class names of each data set resnetzoo knows by name, in label order."""

NORMALIZATION: dict[str, dict[str, tuple[float, float, float]]] = {
    "cifar10": {"mean": CIFAR10_MEAN, "std": CIFAR10_STD},
    "cifar100": {"mean": CIFAR100_MEAN, "std": CIFAR100_STD},
}
"""The true mean and std of each data set's training pixels (the constants above), by data set name."""

CLASSIC_NORMALIZATION: dict[str, dict[str, tuple[float, float, float]]] = {
    "cifar10": {"mean": (0.4914, 0.4822, 0.4465), "std": (0.2023, 0.1994, 0.2010)},
    "cifar100": {"mean": (0.5071, 0.4867, 0.4408), "std": (0.2675, 0.2565, 0.2761)},
}
"""The widely copied constants with the *per-image* std (see the module docstring for why it is not the
data's std): not for new training, but weights trained with them need exactly them."""
