"""The deprecation helper: what users see when they call something on its way out."""

from __future__ import annotations

import warnings

import pytest

from resnetzoo._deprecation import Deprecation, deprecated, release_tuple, warn_deprecated


@deprecated(since="0.2", removed_in="0.4", instead="resnetzoo.create_model")
def old_factory(name: str, *, num_classes: int = 10) -> tuple[str, int]:
    """Build a model the old way.

    Args:
        name: A model name.
        num_classes: Classes.
    """
    return name, num_classes


@deprecated(since="1.3", removed_in="2.0")
class OldThing:
    """A class on its way out."""

    def __init__(self, size: int) -> None:
        self.size = size


def test_function_warns_with_versions_and_replacement_and_still_works():
    with pytest.warns(DeprecationWarning, match="old_factory") as caught:
        result = old_factory("resnet20_cifar", num_classes=3)
    assert result == ("resnet20_cifar", 3)
    assert len(caught) == 1
    assert str(caught[0].message) == (
        "old_factory is deprecated since resnetzoo 0.2 and will be removed in 0.4; "
        "use resnetzoo.create_model instead"
    )
    # stacklevel points at the caller's line, not at the wrapper.
    assert caught[0].filename == __file__


def test_function_keeps_its_name_signature_and_gets_a_docs_note():
    import inspect

    assert old_factory.__name__ == "old_factory"
    assert (
        str(inspect.signature(old_factory))
        == "(name: 'str', *, num_classes: 'int' = 10) -> 'tuple[str, int]'"
    )
    assert old_factory.__doc__.startswith("Build a model the old way.\n\nArgs:\n    name: A model name.")
    assert old_factory.__doc__.endswith(
        "\n\n.. deprecated:: 0.2\n   Will be removed in 0.4. Use resnetzoo.create_model instead."
    )
    assert old_factory.__deprecation__ == Deprecation("0.2", "0.4", "resnetzoo.create_model")


def test_class_warns_on_instantiation_and_stays_a_class():
    with pytest.warns(
        DeprecationWarning, match=r"^OldThing is deprecated since resnetzoo 1.3 and will be removed in 2.0$"
    ):
        thing = OldThing(5)
    assert isinstance(thing, OldThing)
    assert thing.size == 5
    assert OldThing.__deprecation__.removed_in == "2.0"
    assert ".. deprecated:: 1.3" in OldThing.__doc__


def test_no_warning_until_used():
    with warnings.catch_warnings():
        warnings.simplefilter("error")

        @deprecated(since="0.2", removed_in="0.3")
        def unused() -> None:
            """Never called."""


def test_warn_deprecated_for_an_argument_points_at_the_caller():
    def resize(size: int | None = None, width: int | None = None) -> int:
        if width is not None:
            warn_deprecated("resize(width=...)", since="0.5", removed_in="0.6", instead="resize(size=...)")
            size = width
        return size

    with pytest.warns(DeprecationWarning, match="width") as caught:
        assert resize(width=7) == 7
    assert str(caught[0].message) == (
        "resize(width=...) is deprecated since resnetzoo 0.5 and will be removed in 0.6; "
        "use resize(size=...) instead"
    )
    assert caught[0].filename == __file__


@pytest.mark.parametrize(
    ("since", "removed_in"), [("0.3", "0.3"), ("0.3", "0.3.1"), ("0.3", "0.2"), ("1.0", "0.9")]
)
def test_removal_needs_at_least_one_minor_release(since, removed_in):
    with pytest.raises(ValueError, match="at least one minor release"):
        deprecated(since=since, removed_in=removed_in)


@pytest.mark.parametrize(
    ("since", "removed_in"), [("0.3", "0.4"), ("0.9.2", "1.0"), ("1", "2"), ("1.2", "1.3.0")]
)
def test_valid_removal_versions(since, removed_in):
    assert Deprecation(since, removed_in).removed_in == removed_in


def test_release_tuple():
    assert release_tuple("0.1.0.dev0") == (0, 1, 0)
    assert release_tuple("2.14.1+cu128") == (2, 14, 1)
    with pytest.raises(ValueError, match="not a version: 'latest'"):
        release_tuple("latest")
