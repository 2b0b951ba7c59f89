"""resnetzoo: residual networks for 32x32 images.

A CIFAR model zoo with pretrained weights from the Hugging Face Hub, a fast
:class:`~resnetzoo.Trainer` and one-call :func:`~resnetzoo.fine_tune`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("resnetzoo")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
