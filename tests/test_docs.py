"""The generators behind the documentation's model table, CLI reference and API reference.

The full Sphinx build runs in CI (``.ci/run``); these check what the directives are fed, fast.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

pytest.importorskip("sphinx", reason="the docs extras are not installed: pip install -e '.[dev]'")

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import resnetzoo_tables  # noqa: E402 (docs/_ext is not a package; its path is added above)

import resnetzoo as rz  # noqa: E402
from resnetzoo.cli import build_parser  # noqa: E402


def test_model_rows_measure_each_model():
    rows = resnetzoo_tables.model_rows("resnet[25]?_cifar")
    assert [r.name for r in rows] == ["resnet50_cifar", "resnet20_cifar", "resnet56_cifar"]
    r50, r20, r56 = rows
    assert (r20.block, r20.stages, r20.channels) == ("BasicBlock", "3-3-3", "16 → 64")
    assert r20.params == 269_722
    assert r20.gflops == pytest.approx(0.08110208)
    assert (r50.block, r50.stages, r50.channels, r50.params) == (
        "Bottleneck",
        "3-4-6-3",
        "64 → 2048",
        23_520_842,
    )
    assert r56.params == 853_018
    assert (r50.weights, r20.weights, r56.weights) == (
        ("edadaltocg_cifar10", "edadaltocg_cifar100"),
        ("akamaster_cifar10",),
        ("akamaster_cifar10",),
    )


def test_cli_reference_walks_every_command():
    commands = resnetzoo_tables.walk_cli(build_parser())
    assert [c.prog for c in commands] == ["resnetzoo"] + [
        f"resnetzoo {name}" for name, _ in commands[0].subcommands
    ]
    top = commands[0]
    assert top.usage == "resnetzoo [-h] [--version] [-v LOG_LEVEL] COMMAND ..."
    assert ("list", "list the registered models, or with --pretrained the weights that load by name") in (
        top.subcommands
    )
    assert ("-v LOG_LEVEL, --log-level LOG_LEVEL", "logging level (default: INFO)") in top.arguments
    listing = next(c for c in commands if c.prog == "resnetzoo list")
    assert listing.help == "list the registered models, or with --pretrained the weights that load by name"
    assert listing.arguments[:3] == [
        ("-h, --help", "show this help message and exit"),
        ("pattern", "fnmatch filter, e.g. 'resnet1*'"),
        ("--verbose", "also print parameters and FLOPs per image"),
    ]


def test_cli_reference_shows_choices_and_defaults():
    import argparse

    parser = argparse.ArgumentParser(prog="tool")
    parser.add_argument("--mode", choices=["fast", "exact"], default="fast", help="how to run")
    parser.add_argument("--epochs", type=int, default=30, help="passes over the data")
    (command,) = resnetzoo_tables.walk_cli(parser)
    described = dict(command.arguments)
    assert described["--mode {fast,exact}"] == "how to run Choices: fast, exact. Default: fast."
    assert described["--epochs EPOCHS"] == "passes over the data Default: 30."


def test_cli_reference_lists_a_command_once_whatever_its_aliases():
    import argparse

    parser = argparse.ArgumentParser(prog="tool")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("fine-tune", aliases=["ft"], help="tune a model")
    commands = resnetzoo_tables.walk_cli(parser)
    assert [c.prog for c in commands] == ["tool", "tool fine-tune"]
    assert commands[0].subcommands == [("fine-tune", "tune a model")]


def test_api_reference_documents_every_public_name_once():
    from resnetzoo._public import public_objects

    sections = resnetzoo_tables.api_sections(rz)
    documented = [name for members in sections.values() for name, _ in members]
    # A public submodule (resnetzoo.data) is documented through its names, not as an entry.
    names = [name for name, obj in public_objects(rz).items() if not isinstance(obj, types.ModuleType)]
    assert sorted(documented) == sorted(names)
    assert len(documented) == len(set(documented))
    assert list(sections)[-1] == "resnetzoo"  # the package's own names (its version) come last
    assert ("resnetzoo.create_model", rz.create_model) in sections["resnetzoo.models"]
    lines = resnetzoo_tables.api_rst(rz)
    assert ".. autoclass:: resnetzoo.CifarResNet" in lines
    assert ".. autofunction:: resnetzoo.resnet20_cifar" in lines
    assert ".. py:data:: resnetzoo.__version__" in lines


def test_api_reference_documents_an_object_with_two_public_names_once():
    # resnetzoo.Trainer is resnetzoo.train.Trainer: two autodoc entries would describe the same
    # canonical object twice, a duplicate-description warning that fails the -W build.
    from resnetzoo._public import public_objects

    lines = resnetzoo_tables.api_rst(rz)
    assert ".. autoclass:: resnetzoo.Trainer" in lines
    assert ".. autoclass:: resnetzoo.train.Trainer" not in lines
    alias = lines.index(".. py:class:: resnetzoo.train.Trainer")
    assert lines[alias + 2] == "   The same object as :class:`resnetzoo.Trainer`."
    assert ".. autofunction:: resnetzoo.recipes.get_recipe" in lines
    assert ".. py:function:: resnetzoo.train.get_recipe" in lines
    autodoc = [
        line.split(":: ")[1] for line in lines if line.startswith((".. autoclass::", ".. autofunction::"))
    ]
    public = public_objects(rz)
    assert len({id(public[name]) for name in autodoc}) == len(autodoc)


def test_config_table_reads_every_trainconfig_field_with_its_docstring_text():
    import dataclasses

    fields = resnetzoo_tables.dataclass_fields(rz.TrainConfig)
    assert [f.name for f in fields] == [f.name for f in dataclasses.fields(rz.TrainConfig)]
    undocumented = [f.name for f in fields if not f.doc]
    assert not undocumented, f"TrainConfig fields without a text in its Attributes section: {undocumented}"
    by_name = {f.name: f for f in fields}
    assert by_name["epochs"] == resnetzoo_tables.FieldDoc(
        "epochs", "int", "30", "passes over the training data", "length and batches"
    )
    # A comment block above the field and the group heading it sits under.
    assert by_name["warmup"].doc.startswith("Linear warm-up: a fraction of all steps if < 1")
    assert by_name["warmup"].group.startswith("learning-rate schedule")
    assert by_name["loggers"].default == "('csv', 'tensorboard', 'plot')"


def test_recipe_table_lists_what_each_recipe_changes():
    rows = {
        name: (settings, summary, source)
        for name, settings, summary, source in resnetzoo_tables.recipe_rows()
    }
    assert sorted(rows) == rz.recipes.list_recipes()
    assert rows["long"][0] == "epochs=200, tta=True"  # the rest are TrainConfig()'s defaults
    assert "milestones=(90.91, 136.4)" in rows["paper"][0]
    assert rows["paper"][2].startswith("He, Zhang, Ren, Sun 2015")


def test_the_index_of_failure_modes_lists_every_row_of_the_bad_input_matrix():
    """docs/errors.md and tests/test_bad_inputs.py number the same failure modes."""
    matrix = (Path(__file__).parent / "test_bad_inputs.py").read_text()
    specified = {int(n) for n in re.findall(r"^ ?(\d+)\. ", matrix.split('"""')[1], flags=re.MULTILINE)}
    documented = {
        int(n) for n in re.findall(r"^\| (\d+) \|", (DOCS / "errors.md").read_text(), flags=re.MULTILINE)
    }
    assert specified == documented == set(range(1, max(specified) + 1))


def test_tests_named_by_the_matrices_and_docs_exist():
    """Every ``test_x.py::test_y`` the failure matrices name and every ``tests/test_x.py`` in docs/ exists.

    Test files are renamed after what they cover; a reference left behind would point at nothing.
    """
    tests = Path(__file__).parent
    named = []
    for matrix in ("test_bad_inputs.py", "test_faults.py", "test_security.py"):
        docstring = (tests / matrix).read_text().split('"""')[1]
        file = None
        for found in re.finditer(r"(test_\w+\.py)?::\s*(test_\w+)", docstring):
            file = found[1] or file  # "::test_y" alone names another test of the file named before
            named.append((file, found[2]))
    assert len(named) > 40  # the pattern still matches how the matrices name tests
    for file, name in named:
        assert (tests / file).is_file(), f"{file} (named for {name}) is not in tests/"
        assert f"def {name}(" in (tests / file).read_text(), f"{file} has no {name}"
    for page in DOCS.glob("*.md"):
        for file in re.findall(r"tests/(test_\w+\.py)", page.read_text()):
            assert (tests / file).is_file(), f"docs/{page.name} names tests/{file}, which is not there"
