"""The installed version of resnetzoo, read once from the package metadata.

A module of its own so that subpackages (the hub writes it into every config.json and sends it
to the Hub as ``library_version``) can import it without importing the package root.
"""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("resnetzoo")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
