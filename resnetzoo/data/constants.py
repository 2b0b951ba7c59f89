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

__all__ = ["CIFAR10_MEAN", "CIFAR10_STD", "CIFAR100_MEAN", "CIFAR100_STD"]

CIFAR10_MEAN: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
"""Mean of the CIFAR-10 training pixels in [0, 1], per RGB channel."""

CIFAR10_STD: tuple[float, float, float] = (0.2470, 0.2435, 0.2616)
"""Standard deviation over all CIFAR-10 training pixels in [0, 1], per RGB channel."""

CIFAR100_MEAN: tuple[float, float, float] = (0.5071, 0.4865, 0.4409)
"""Mean of the CIFAR-100 training pixels in [0, 1], per RGB channel."""

CIFAR100_STD: tuple[float, float, float] = (0.2673, 0.2564, 0.2762)
"""Standard deviation over all CIFAR-100 training pixels in [0, 1], per RGB channel."""
