"""Exceptions that resnetzoo raises on purpose, all in one place.

Every one derives from :class:`ResnetzooError`, so ``except resnetzoo.ResnetzooError`` catches
them all, and also from the built-in exception a caller would naturally expect (``ValueError``
for a bad file, ``OSError`` for a failed download, ``FloatingPointError`` for a diverged run),
so existing ``except ValueError`` code keeps working.
"""

from __future__ import annotations

__all__ = [
    "ArgumentError",
    "ArgumentTypeError",
    "CheckpointError",
    "ChecksumError",
    "ConfigError",
    "DatasetError",
    "HubError",
    "HubRequestError",
    "ImageDecodeError",
    "NonFiniteLossError",
    "ResnetzooError",
    "RunFolderInUseError",
    "WeightsNotPublishedError",
]


class ResnetzooError(Exception):
    """Base class of the errors raised by resnetzoo."""


class ArgumentError(ResnetzooError, ValueError):
    """An argument has a value the function, class or command cannot use.

    The message names the parameter, the values it accepts and the value it got.

    Attributes:
        param: The parameter the message starts with, as the caller knows it (``"batch_size"``,
            ``"TrainConfig.lr"``, ``"TrainConfig.augment.cutout"``), or None. The command line reads it
            to name its own option (``--lr``) instead of the library's parameter.
    """

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class ArgumentTypeError(ArgumentError, TypeError):
    """An argument is of the wrong type: ``2.5`` or ``True`` for a count, ``'bn'`` for a class, a
    numpy array for a tensor.

    Both a ``TypeError`` and (as an :class:`ArgumentError`) a ``ValueError``, so code that
    catches either keeps working.
    """


class CheckpointError(ResnetzooError, ValueError):
    """A checkpoint or weights file is corrupted, truncated, foreign, unsafe, or does not fit the model.

    The message names the file, or the keys that are missing, unexpected or of the wrong shape.
    """


class DatasetError(ResnetzooError, RuntimeError):
    """A data set's files exist but cannot be used: truncated, corrupted, unsafe or of the wrong layout."""


class ImageDecodeError(DatasetError, ValueError):
    """An image file is truncated, corrupted or of a kind resnetzoo does not read.

    Raised by :func:`resnetzoo.data.read_image`, so by everything that opens image files
    (:func:`resnetzoo.predict`, :func:`resnetzoo.explain`, :func:`resnetzoo.data.image_folder`, the
    CLI). The message names the file and the cause. Both a :class:`DatasetError` (what a broken file
    in a data set raised before) and a ``ValueError`` (what a broken file given to ``predict`` raised).
    """


class NonFiniteLossError(ResnetzooError, FloatingPointError):
    """Training produced a NaN or infinite loss (or weights); the run was stopped.

    Attributes:
        epoch: The epoch (0-based) in which it happened.
        step: The global optimizer step (0-based) at which it was first seen, if known.
    """

    def __init__(self, message: str, epoch: int | None = None, step: int | None = None) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.step = step


class RunFolderInUseError(ResnetzooError, OSError):
    """Another running process trains or writes in this run folder (``out_dir``, ``--out``).

    A run owns its folder for as long as it runs: the lock is released when its process ends.
    """


class HubError(ResnetzooError):
    """Base class of the errors of moving weights in and out (:mod:`resnetzoo.hub`)."""


class WeightsNotPublishedError(HubError, LookupError):
    """The requested weights have a record but have not been trained and published yet."""


class HubRequestError(HubError, OSError):
    """A request to the Hub failed.

    The repo, revision or file does not exist, the file is not cached while offline, the
    transfer was cut short (nothing partial is kept), the file cannot be stored in the local
    cache (read-only, full: the message names the folder), or the Hub refused a push.
    """


class ChecksumError(HubError, OSError):
    """A downloaded file does not have the sha256 its weights record pins; the cached copy was removed."""


class ConfigError(HubError, ValueError):
    """A ``config.json`` is malformed, names an unregistered architecture or has unexpected fields."""
