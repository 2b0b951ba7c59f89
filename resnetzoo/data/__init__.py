"""Data for 32x32 image classification: files in, uint8 tensors out, batches on the training device.

* :class:`CIFAR10`, :class:`CIFAR100`: the official python-version files, with a stratified validation split.
* :func:`image_folder`: your own ``root/<class>/<image>`` folders of PNG/JPEG files, decoded once.
* :func:`read_image`: the one image decoder (8/16-bit, float, palette, CMYK, EXIF orientation) that
  ``image_folder``, :func:`resnetzoo.predict` and :func:`resnetzoo.explain` read files with; their one
  preprocessing is :class:`resnetzoo.data.preprocess.Preprocess`.
* :func:`sample_cifar10`: a 5,000 + 1,000 image CIFAR-10 sample shipped with the package.
* All three give a :class:`TensorImageDataset`; :class:`DeviceLoader` turns one into shuffled, augmented,
  normalized batches on the GPU (or CPU).
* :mod:`~resnetzoo.data.constants`: the CIFAR mean/std; :func:`compute_mean_std` for your own data.
* :func:`load_splits`: ``cifar10 | cifar100 | sample | DIR`` to train/validation/test splits and their
  normalisation, in one call (what the CLI uses).
"""

from .augment import POLICIES, AugmentConfig, apply_policy, cutout, random_crop, random_flip
from .cifar import CIFAR10, CIFAR100
from .constants import (
    CIFAR10_CLASSES,
    CIFAR10_MEAN,
    CIFAR10_STD,
    CIFAR100_CLASSES,
    CIFAR100_MEAN,
    CIFAR100_STD,
)
from .dataset import DatasetError, TensorImageDataset, compute_mean_std
from .folder import IMAGE_EXTENSIONS, image_folder
from .image import read_image
from .loader import DeviceLoader
from .sample import sample_cifar10
from .splits import DATA_NAMES, Splits, load_splits

__all__ = [
    "CIFAR10",
    "CIFAR10_CLASSES",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CIFAR100",
    "CIFAR100_CLASSES",
    "CIFAR100_MEAN",
    "CIFAR100_STD",
    "DATA_NAMES",
    "IMAGE_EXTENSIONS",
    "POLICIES",
    "AugmentConfig",
    "DatasetError",
    "DeviceLoader",
    "Splits",
    "TensorImageDataset",
    "apply_policy",
    "compute_mean_std",
    "cutout",
    "image_folder",
    "load_splits",
    "random_crop",
    "random_flip",
    "read_image",
    "sample_cifar10",
]
