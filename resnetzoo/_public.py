"""What counts as the public API: the one definition the docs and the API snapshot test share.

The public API is every name in ``resnetzoo.__all__``; a public submodule listed there (such as
``resnetzoo.data``) contributes the names in its own ``__all__``. Everything else is private,
whatever its spelling (see ``docs/versioning.md``).
"""

from __future__ import annotations

import types
from typing import Any

__all__ = ["public_objects"]


def public_objects(module: types.ModuleType) -> dict[str, Any]:
    """The public names of ``module`` and of the public submodules it lists, in ``__all__`` order.

    Args:
        module: A module with an ``__all__`` list, usually ``resnetzoo``.

    Returns:
        A dict from the qualified name (``"resnetzoo.create_model"``) to the object. A public
        submodule appears under its own name, followed by its public names.

    Raises:
        AttributeError: If the module has no ``__all__``, or ``__all__`` names something the
            module does not define (a typo there would silently hide a public name).

    Example:
        >>> import resnetzoo
        >>> names = public_objects(resnetzoo)
        >>> names["resnetzoo.create_model"] is resnetzoo.create_model
        True
    """
    if not hasattr(module, "__all__"):
        raise AttributeError(f"module {module.__name__!r} has no __all__; list its public names there")
    found: dict[str, Any] = {}
    for name in module.__all__:
        if not hasattr(module, name):
            raise AttributeError(
                f"{module.__name__}.__all__ lists {name!r}, but the module defines no such name"
            )
        obj = getattr(module, name)
        qualified = f"{module.__name__}.{name}"
        found[qualified] = obj
        if isinstance(obj, types.ModuleType):
            found.update(public_objects(obj))
    return found
