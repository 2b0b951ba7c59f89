"""The public API is a snapshot: changing it is a deliberate act with a changelog entry.

``tests/api_snapshot.json`` records every public name (``resnetzoo.__all__``, recursing into the
public submodules it lists), the signature of every public callable (for classes: the constructor
and the public methods and attributes they define), and the options of every CLI command. When the
code and the snapshot disagree the test fails and says how to regenerate it:

    python tests/test_public_api.py --update
    # or: RESNETZOO_UPDATE_API_SNAPSHOT=1 python -m pytest tests/test_public_api.py

Commit the regenerated snapshot together with the ``CHANGELOG.md`` entry that describes the change
(see ``docs/versioning.md``).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

SNAPSHOT = Path(__file__).with_name("api_snapshot.json")
CHANGELOG = Path(__file__).resolve().parents[1] / "CHANGELOG.md"
UPDATE_ENV = "RESNETZOO_UPDATE_API_SNAPSHOT"
HOW_TO_UPDATE = (
    "If the change is intended, regenerate the snapshot with\n"
    "    python tests/test_public_api.py --update\n"
    f"(or {UPDATE_ENV}=1 python -m pytest tests/test_public_api.py) and describe the change under\n"
    "'## [Unreleased]' in CHANGELOG.md in the same commit. Removing or changing a public name needs\n"
    "a deprecation first (resnetzoo._deprecation.deprecated); see docs/versioning.md."
)


def _clean(text: str) -> str:
    # Object reprs in defaults carry memory addresses that change on every run.
    return re.sub(r" at 0x[0-9a-fA-F]+", "", text)


def _signature(obj: Any) -> str:
    try:
        return _clean(str(inspect.signature(obj)))
    except (TypeError, ValueError):  # a builtin without signature metadata
        return "(...)"


def _value(obj: Any) -> str:
    """A constant's type, and its value for plain literals (a changed value is an API change)."""
    if isinstance(obj, (bool, int, float, tuple, frozenset, type(None))):
        return f"{type(obj).__name__} = {_clean(repr(obj))}"
    return type(obj).__name__


def _describe_member(cls: type, name: str) -> str | None:
    """A class member's description, or None for members that resnetzoo does not define."""
    owner = next(klass for klass in cls.__mro__ if name in vars(klass))
    if not owner.__module__.startswith("resnetzoo"):
        return None  # inherited from torch.nn.Module or object: torch's API, not ours
    raw = inspect.getattr_static(cls, name)
    if isinstance(raw, property):
        return "property"
    if isinstance(raw, classmethod):
        return f"classmethod {_signature(getattr(cls, name))}"
    if isinstance(raw, staticmethod):
        return f"staticmethod {_signature(raw.__func__)}"
    if inspect.isfunction(raw):
        return f"method {_signature(raw)}"
    return f"attribute {_value(raw)}"


def _describe(obj: Any) -> dict[str, Any]:
    entry: dict[str, Any]
    if isinstance(obj, types.ModuleType):
        entry = {"kind": "module"}
    elif inspect.isclass(obj):
        members = {}
        for name in dir(obj):
            if not name.startswith("_") and (described := _describe_member(obj, name)) is not None:
                members[name] = described
        entry = {"kind": "class", "signature": _signature(obj), "members": members}
    elif callable(obj):
        entry = {"kind": "function", "signature": _signature(obj)}
    else:
        entry = {"kind": "constant", "value": _value(obj)}
    deprecation = getattr(obj, "__deprecation__", None)
    if deprecation is not None:
        entry["deprecated"] = f"since {deprecation.since}, removed in {deprecation.removed_in}"
    return entry


def _describe_cli(parser: argparse.ArgumentParser, prog: str, into: dict[str, Any]) -> dict[str, Any]:
    arguments = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, subparser in action.choices.items():
                _describe_cli(subparser, f"{prog} {command}", into)
            arguments[action.dest] = {"commands": sorted(action.choices)}
            continue
        key = "/".join(action.option_strings) or action.dest
        arguments[key] = {
            "nargs": action.nargs,
            "required": action.required,
            "default": _clean(repr(action.default)),
            "choices": None if action.choices is None else [str(c) for c in action.choices],
        }
    into[prog] = arguments
    return into


def current_api() -> dict[str, Any]:
    """The public surface of the importable ``resnetzoo``, as stored in the snapshot."""
    import resnetzoo
    from resnetzoo._public import public_objects
    from resnetzoo.cli import build_parser

    python = {name: _describe(obj) for name, obj in public_objects(resnetzoo).items()}
    return {"python": python, "cli": _describe_cli(build_parser(), "resnetzoo", {})}


def _dump(api: dict[str, Any]) -> str:
    return json.dumps(api, indent=2, sort_keys=True) + "\n"


def write_snapshot() -> None:
    """Regenerate ``tests/api_snapshot.json`` from the code."""
    SNAPSHOT.write_text(_dump(current_api()), encoding="utf-8")


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{path} :: "))
        else:
            flat[path] = value
    return flat


def _differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    old, new = _flatten(recorded), _flatten(current)
    lines = [f"  + {path} = {new[path]!r}" for path in new if path not in old]
    lines += [f"  - {path} = {old[path]!r}" for path in old if path not in new]
    lines += [
        f"  ~ {path}\n      snapshot: {old[path]!r}\n      code:     {new[path]!r}"
        for path in old
        if path in new and old[path] != new[path]
    ]
    return sorted(lines)


def test_public_api_matches_snapshot():
    if os.environ.get(UPDATE_ENV) == "1":
        write_snapshot()
    current = json.loads(_dump(current_api()))  # through JSON, so tuples compare as the lists stored
    recorded = json.loads(SNAPSHOT.read_text(encoding="utf-8")) if SNAPSHOT.exists() else {}
    if current != recorded:
        changes = "\n".join(_differences(recorded, current))
        raise AssertionError(
            f"The public API differs from tests/api_snapshot.json (+ new, - gone, ~ changed):\n"
            f"{changes}\n\n{HOW_TO_UPDATE}"
        )


def test_snapshot_covers_the_documented_surface():
    # Guards the snapshot generator itself: real entries with real signatures.
    api = current_api()
    python = api["python"]
    assert python["resnetzoo.create_model"] == {
        "kind": "function",
        "signature": "(name: 'str', **kwargs: 'Any') -> 'nn.Module'",
    }
    resnet = python["resnetzoo.CifarResNet"]
    assert resnet["kind"] == "class"
    assert resnet["signature"].startswith("(block: 'Block', layers: 'Sequence[int]', widths:")
    assert resnet["members"]["reset_classifier"] == "method (self, num_classes: 'int') -> 'None'"
    assert resnet["members"]["stages"] == "property"
    assert "state_dict" not in resnet["members"]  # torch.nn.Module's API is not ours to snapshot
    assert python["resnetzoo.BasicBlock"]["members"]["expansion"] == "attribute int = 1"
    assert python["resnetzoo.__version__"] == {"kind": "constant", "value": "str"}
    assert api["cli"]["resnetzoo list"]["--verbose"] == {
        "nargs": 0,
        "required": False,
        "default": "False",
        "choices": None,
    }
    assert "list" in api["cli"]["resnetzoo"]["command"]["commands"]


def test_public_objects_recurses_into_public_submodules_and_rejects_typos():
    from resnetzoo._public import public_objects

    sub = types.ModuleType("pkg.sub")
    sub.__all__ = ["helper"]
    sub.helper = len
    pkg = types.ModuleType("pkg")
    pkg.__all__ = ["sub", "VALUE"]
    pkg.sub, pkg.VALUE = sub, 3
    assert public_objects(pkg) == {"pkg.sub": sub, "pkg.sub.helper": len, "pkg.VALUE": 3}
    pkg.__all__.append("missing")
    with pytest.raises(
        AttributeError, match=r"pkg\.__all__ lists 'missing', but the module defines no such name"
    ):
        public_objects(pkg)


def test_every_name_a_public_subpackage_exports_is_public():
    # A subpackage's __all__ (resnetzoo.models, resnetzoo.data, ...) says what it offers; each of
    # those names must reach users: re-exported in resnetzoo.__all__, or through the subpackage
    # itself being listed there (then its names are public as resnetzoo.<sub>.<name>).
    import importlib
    import pkgutil

    import resnetzoo
    from resnetzoo._public import public_objects

    public = public_objects(resnetzoo)
    unreachable = []
    for info in pkgutil.iter_modules(resnetzoo.__path__):
        if not info.ispkg or info.name.startswith("_"):
            continue
        if info.name == "cli":  # its public surface is the command line: the snapshot's "cli" part
            continue
        sub = importlib.import_module(f"resnetzoo.{info.name}")
        for name in getattr(sub, "__all__", ()):
            top, nested = f"resnetzoo.{name}", f"resnetzoo.{info.name}.{name}"
            if not (nested in public or (top in public and public[top] is getattr(sub, name))):
                unreachable.append(nested)
    assert not unreachable, (
        f"exported by a subpackage's __all__ but not public: {', '.join(unreachable)}; re-export them "
        "in resnetzoo.__all__, or list the subpackage itself there (e.g. 'data')"
    )


def test_no_deprecated_name_outlives_its_removal_release():
    import resnetzoo
    from resnetzoo._deprecation import release_tuple
    from resnetzoo._public import public_objects

    current = release_tuple(resnetzoo.__version__)
    overdue = [
        f"{name} (removed_in={obj.__deprecation__.removed_in})"
        for name, obj in public_objects(resnetzoo).items()
        if getattr(obj, "__deprecation__", None) is not None
        and current >= release_tuple(obj.__deprecation__.removed_in)
    ]
    assert not overdue, f"resnetzoo {resnetzoo.__version__} should no longer have: {', '.join(overdue)}"


def test_changelog_has_an_unreleased_section():
    text = CHANGELOG.read_text(encoding="utf-8")
    assert re.search(r"^## \[Unreleased\]$", text, flags=re.MULTILINE), (
        "CHANGELOG.md needs a '## [Unreleased]' section (Keep a Changelog) for the next release's changes"
    )


if __name__ == "__main__":
    # Snapshot the source tree this file belongs to, whatever resnetzoo is installed.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    cli = argparse.ArgumentParser(description="Check or regenerate tests/api_snapshot.json.")
    cli.add_argument("--update", action="store_true", help="rewrite the snapshot from the code")
    if cli.parse_args().update:
        write_snapshot()
        print(f"wrote {SNAPSHOT}; now describe the change in CHANGELOG.md, in the same commit")
    else:
        test_public_api_matches_snapshot()
        print(f"{SNAPSHOT} matches the code")
