"""The exceptions of the hub layer, in one place.

Each one also subclasses the builtin a caller would naturally catch (``LookupError``,
``OSError``, ``ValueError``), so ``except ValueError`` keeps working for code that does not
know about resnetzoo, and ``except resnetzoo.HubError`` catches them all.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "ChecksumError",
    "ConfigError",
    "HubError",
    "HubRequestError",
    "WeightsNotPublishedError",
]


class HubError(Exception):
    """Base class of every error raised by :mod:`resnetzoo.hub`."""


class WeightsNotPublishedError(HubError, LookupError):
    """The requested weights have a record but have not been trained and published yet."""


class HubRequestError(HubError, OSError):
    """A request to the Hub failed.

    The repo, revision or file does not exist, the file is not cached while offline, the
    transfer was cut short (nothing partial is kept), or the Hub refused a push.
    """


class ChecksumError(HubError, OSError):
    """A downloaded file does not have the sha256 its weights record pins; the cached copy was removed."""


class ConfigError(HubError, ValueError):
    """A ``config.json`` is malformed, names an unregistered architecture or has unexpected fields."""


class CheckpointError(HubError, ValueError):
    """A state dict does not fit the model, or a weights file cannot be read safely.

    The message names the keys that are missing, unexpected or of the wrong shape.
    """
