"""Deprecating public names under the versioning policy (``docs/versioning.md``).

A public function or class is deprecated for at least one minor release before it is removed:
it keeps working, warns with :class:`DeprecationWarning` on every use, and says in its docs and
in the warning which release removes it and what to use instead.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
import sys
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from typing import Any, TypeVar

__all__ = ["Deprecation", "alias_module", "deprecated", "release_tuple", "warn_deprecated"]

T = TypeVar("T", bound=Callable[..., Any])


def release_tuple(version: str) -> tuple[int, ...]:
    """The numeric release part of a version: ``"0.3.0.dev1"`` gives ``(0, 3, 0)``.

    Raises:
        ValueError: If the version does not start with a number.

    Example:
        >>> release_tuple("1.2"), release_tuple("0.3.0.dev1")
        ((1, 2), (0, 3, 0))
    """
    match = re.match(r"\d+(\.\d+)*", version)
    if match is None:
        raise ValueError(f"not a version: {version!r}; expected something like '0.3' or '1.2.0'")
    return tuple(int(part) for part in match.group().split("."))


@dataclass(frozen=True)
class Deprecation:
    """When something was deprecated, when it goes, and what replaces it.

    Raises:
        ValueError: If ``removed_in`` is not a later minor or major release than ``since``: the
            policy keeps a deprecated name for at least one minor release.
    """

    since: str  # the release that deprecates it, e.g. "0.3"
    removed_in: str  # the first release without it, e.g. "0.4"
    instead: str | None = None  # what to use instead, e.g. "resnetzoo.create_model"

    def __post_init__(self) -> None:
        # Compare (major, minor): "0.3" -> "0.3.1" is a patch release, too soon to remove anything.
        since, removed = (*release_tuple(self.since), 0), (*release_tuple(self.removed_in), 0)
        if removed[:2] <= since[:2]:
            raise ValueError(
                f"removed_in={self.removed_in!r} must be a later minor or major release than "
                f"since={self.since!r}: deprecated names stay for at least one minor release"
            )

    def message(self, what: str) -> str:
        """The warning text for ``what`` (e.g. ``"make_model"``)."""
        text = f"{what} is deprecated since resnetzoo {self.since} and will be removed in {self.removed_in}"
        return f"{text}; use {self.instead} instead" if self.instead else text

    def note(self) -> str:
        """A Sphinx ``deprecated`` directive for the docstring."""
        instead = f" Use {self.instead} instead." if self.instead else ""
        return f".. deprecated:: {self.since}\n   Will be removed in {self.removed_in}.{instead}"


def warn_deprecated(
    what: str, *, since: str, removed_in: str, instead: str | None = None, stacklevel: int = 3
) -> None:
    """Warn that ``what`` (an argument, a value, a behaviour) is deprecated.

    For a whole function or class use :func:`deprecated`; this is for the parts of one, e.g. a
    renamed keyword argument, called inside the function that still accepts it.

    Args:
        what: What is deprecated, as the user would write it: ``"create_model(pretrained=...)"``.
        since: The release that deprecates it.
        removed_in: The first release without it; at least one minor release after ``since``.
        instead: What to use instead.
        stacklevel: Passed to :func:`warnings.warn`; the default 3 points at the caller of the
            function that calls this one.

    Raises:
        ValueError: If ``removed_in`` is not at least one minor release after ``since``.
    """
    record = Deprecation(since, removed_in, instead)
    warnings.warn(record.message(what), DeprecationWarning, stacklevel=stacklevel)


def deprecated(*, since: str, removed_in: str, instead: str | None = None) -> Callable[[T], T]:
    """Mark a public function or class as deprecated (a decorator).

    Calling the function, or creating an instance of the class, warns with
    :class:`DeprecationWarning`; the docstring gains a ``.. deprecated::`` note for the docs, and
    the object carries the record as ``__deprecation__``, which the API snapshot test reads to
    fail once the release that should remove it is reached.

    Args:
        since: The release that deprecates it, e.g. ``"0.3"``.
        removed_in: The first release without it; at least one minor release after ``since``.
        instead: What to use instead, shown in the warning and the docs.

    Returns:
        A decorator that returns the wrapped function, or the same class with a warning
        ``__init__``.

    Raises:
        ValueError: If ``removed_in`` is not at least one minor release after ``since``.

    Example:
        >>> import warnings
        >>> @deprecated(since="0.2", removed_in="0.3", instead="create_model")
        ... def make_model(name):
        ...     return name
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     make_model("resnet20_cifar")
        'resnet20_cifar'
        >>> print(caught[0].message)
        make_model is deprecated since resnetzoo 0.2 and will be removed in 0.3; use create_model instead
    """
    record = Deprecation(since, removed_in, instead)

    def decorate(obj: T) -> T:
        message = record.message(obj.__qualname__)
        doc = inspect.cleandoc(obj.__doc__ or "")
        if isinstance(obj, type):
            original_init = obj.__init__

            @functools.wraps(original_init)
            def warning_init(self: Any, *args: Any, **kwargs: Any) -> None:
                warnings.warn(message, DeprecationWarning, stacklevel=2)
                original_init(self, *args, **kwargs)

            obj.__init__ = warning_init  # type: ignore[misc]
            target: Any = obj
        else:

            @functools.wraps(obj)
            def target(*args: Any, **kwargs: Any) -> Any:
                warnings.warn(message, DeprecationWarning, stacklevel=2)
                return obj(*args, **kwargs)

        target.__doc__ = f"{doc}\n\n{record.note()}" if doc else record.note()
        target.__deprecation__ = record
        return target

    return decorate


class _ModuleAlias(types.ModuleType):
    """A stand-in for a moved module: every name read from it warns and comes from the new one."""

    def __init__(self, old: str, new: str, record: Deprecation) -> None:
        super().__init__(old, f"Deprecated alias of :mod:`{new}`.\n\n{record.note()}")
        self.__spec__ = ModuleSpec(old, None)
        self.__deprecation__ = record
        self._alias_of = new

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name != "__all__":
            raise AttributeError(name)  # import machinery probing (__path__, __file__, ...)
        target = importlib.import_module(self._alias_of)
        value = getattr(target, name)
        message = self.__deprecation__.message(f"the module path {self.__name__}")
        warnings.warn(f"{message} (read {name} from {self._alias_of})", DeprecationWarning, stacklevel=2)
        return value

    def __dir__(self) -> list[str]:
        return dir(importlib.import_module(self._alias_of))


def alias_module(old: str, new: str, *, since: str, removed_in: str) -> None:
    """Keep the import path of a moved module working, with a warning on each use.

    Registers a stand-in for ``old`` in :data:`sys.modules`: ``import old`` and
    ``from old import name`` keep working, and every name read from it warns with
    :class:`DeprecationWarning` and comes from ``new``, which is imported on first use.
    The parent package's attribute of the same name is left alone (``resnetzoo.quantize`` stays
    the function while ``from resnetzoo.quantize import quantize`` reaches the moved module).

    Args:
        old: The former dotted module path, e.g. ``"resnetzoo.quantize"``.
        new: Where the module lives now, e.g. ``"resnetzoo.compress.quantize"``.
        since: The release that deprecates the old path.
        removed_in: The first release without it; at least one minor release after ``since``.

    Raises:
        ValueError: If ``removed_in`` is not at least one minor release after ``since``.
    """
    record = Deprecation(since, removed_in, new)
    sys.modules.setdefault(old, _ModuleAlias(old, new, record))
