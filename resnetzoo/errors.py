"""Exceptions that resnetzoo raises on purpose.

Every one derives from :class:`ResnetzooError`, so ``except resnetzoo.errors.ResnetzooError``
catches them all, and also from the built-in exception a caller would naturally expect
(``ValueError`` for a bad file, ``FloatingPointError`` for a diverged run), so existing
``except ValueError`` code keeps working.
"""

from __future__ import annotations

__all__ = ["CheckpointError", "NonFiniteLossError", "ResnetzooError"]


class ResnetzooError(Exception):
    """Base class of the errors raised by resnetzoo."""


class CheckpointError(ResnetzooError, ValueError):
    """A checkpoint file is corrupted, truncated, foreign, or does not fit the model."""


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
