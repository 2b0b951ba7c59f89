"""Data for 32x32 image classification: files in, uint8 tensors out, batches on the training device."""

from .augment import POLICIES, AugmentConfig, apply_policy, cutout, random_crop, random_flip
from .cifar import CIFAR10, CIFAR100
from .constants import CIFAR10_MEAN, CIFAR10_STD, CIFAR100_MEAN, CIFAR100_STD
from .dataset import DatasetError, TensorImageDataset, compute_mean_std
from .folder import IMAGE_EXTENSIONS, image_folder
from .loader import DeviceLoader

__all__ = [
    "CIFAR10",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CIFAR100",
    "CIFAR100_MEAN",
    "CIFAR100_STD",
    "IMAGE_EXTENSIONS",
    "POLICIES",
    "AugmentConfig",
    "DatasetError",
    "DeviceLoader",
    "TensorImageDataset",
    "apply_policy",
    "compute_mean_std",
    "cutout",
    "image_folder",
    "random_crop",
    "random_flip",
]
