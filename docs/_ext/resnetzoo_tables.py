"""Sphinx directives that build reference pages from the code at build time.

* ``model-table``: every registered model with its layout, parameters, GFLOPs per 32x32 image and
  the tags of the weights that load by name.
* ``weights-table``: every set of weights that loads by name, with its source, license, normalisation,
  the top-1 its authors report and the one resnetzoo measured.
* ``cli-reference``: every command of the ``resnetzoo`` CLI, walked from ``build_parser()``.
* ``api-reference``: autodoc entries for every public name (``resnetzoo.__all__``), grouped by
  subpackage, so a new public name cannot be left out of the docs.
* ``config-table``: every field of a dataclass (``resnetzoo.TrainConfig``) with its type, default
  and the comment written next to it in the source, under the source's ``# --- group ---`` headings.
* ``recipe-table``: the training recipes of ``resnetzoo.recipes``, each with the settings in which
  it differs from ``TrainConfig()``, its purpose and its source.

``model-table``, ``cli-reference``, ``config-table`` and ``recipe-table`` build docutils nodes and
work in Markdown and reST pages.
``api-reference`` emits autodoc directives, which are reST, so a Markdown page must wrap it in an
``{eval-rst}`` block (as MyST requires for autodoc itself).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import re
import types
from dataclasses import dataclass
from typing import Any

from docutils import nodes
from docutils.parsers.rst.states import RSTState
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

# -- model table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelRow:
    """One line of the model table."""

    name: str
    block: str  # residual block class, e.g. "BasicBlock"
    stages: str  # blocks per stage, e.g. "3-3-3"
    channels: str  # stem width -> output features, e.g. "16 -> 64"
    params: int  # with the default 10-class head
    gflops: float  # forward FLOPs for one 3x32x32 image, in units of 1e9
    weights: tuple[str, ...]  # tags of the weights that load by name


def _depth(name: str) -> int:
    match = re.search(r"resnet(\d+)", name)
    return int(match.group(1)) if match else 0


def _loadable_weights() -> dict[str, tuple[str, ...]]:
    """Tags of the weights that ``pretrained=True`` can load, per model name (planned ones left out)."""
    import resnetzoo
    from resnetzoo.models.registry import split_model_name

    tags: dict[str, list[str]] = {}
    for full_name in resnetzoo.list_pretrained():  # e.g. "resnet18_cifar.edadaltocg_cifar10"
        model_name, tag = split_model_name(full_name)
        tags.setdefault(model_name, []).append(str(tag))
    return {name: tuple(sorted(values)) for name, values in tags.items()}


def model_rows(pattern: str | None = None) -> list[ModelRow]:
    """Describe the registered models; builds each on the meta device (shapes only, no memory).

    Args:
        pattern: An fnmatch filter on the names, as for ``resnetzoo.list_models``.

    Returns:
        Rows grouped by family (post-activation 4-stage, post-activation 3-stage,
        pre-activation), by depth within one.
    """
    import torch

    import resnetzoo

    weights = _loadable_weights()
    rows = []
    for name in resnetzoo.list_models(pattern):
        with torch.device("meta"):
            model = resnetzoo.create_model(name)
        first_block = model.stages[0][0]
        rows.append(
            ModelRow(
                name=name,
                block=type(first_block).__name__,
                stages="-".join(str(len(stage)) for stage in model.stages),
                channels=f"{model.conv1.out_channels} → {model.num_features}",
                params=resnetzoo.count_parameters(model),
                gflops=resnetzoo.count_flops(model) / 1e9,
                weights=weights.get(name, ()),
            )
        )
    rows.sort(key=lambda r: (r.block.startswith("PreAct"), -r.stages.count("-"), _depth(r.name), r.name))
    return rows


def _table(header: list[str], rows: list[list[nodes.Node | str]], classes: list[str]) -> nodes.table:
    """A docutils table; cells are text or nodes."""
    table = nodes.table(classes=classes)
    group = nodes.tgroup(cols=len(header))
    table += group
    # Relative widths: HTML ignores them, the text and LaTeX builders size columns by them.
    for i, title in enumerate(header):
        cells = [title, *(r[i] for r in rows)]
        group += nodes.colspec(
            colwidth=max(len(c.astext() if isinstance(c, nodes.Node) else c) for c in cells)
        )

    def row(cells: list[nodes.Node | str]) -> nodes.row:
        line = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += nodes.paragraph("", "", cell if isinstance(cell, nodes.Node) else nodes.Text(cell))
            line += entry
        return line

    head = nodes.thead()
    head += row(list(header))
    body = nodes.tbody()
    body.extend(row(cells) for cells in rows)
    group += head
    group += body
    return table


class ModelTable(SphinxDirective):
    """``model-table``: the registered models, measured at build time."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        rows = model_rows()
        header = ["model", "block", "blocks per stage", "channels", "parameters", "GFLOPs / image", "weights"]
        cells = []
        for r in rows:
            line: list[nodes.Node | str] = [
                nodes.literal(r.name, r.name),
                r.block,
                r.stages,
                r.channels,
                f"{r.params:,}",
                f"{r.gflops:.3f}",
            ]
            line.append(", ".join(r.weights) or "—")
            cells.append(line)
        return [_table(header, cells, classes=["resnetzoo-model-table"])]


def _link(url: str, text: str) -> nodes.reference:
    return nodes.reference(url, text, refuri=url)


class WeightsTable(SphinxDirective):
    """``weights-table``: the weights that load by name and how accurate they are, from their records.

    Narrow enough for a laptop screen (1280 px): the accuracies come right after the name, the source
    is its author's name linking to the origin; license, file and checksum are in
    ``weights-files-table``.
    """

    has_content = False

    def run(self) -> list[nodes.Node]:
        import resnetzoo

        header = ["weights", "reported top-1", "measured top-1", "data set", "source"]
        cells = []
        for name in resnetzoo.list_pretrained():
            w = resnetzoo.get_weights(name)
            # github.com/<author>/<repo>, huggingface.co/<author>/...: the author names the source
            author = w.origin_url.split("://")[-1].split("/")[1]
            measured = w.metrics.get("top1_jpeg")
            cells.append(
                [
                    nodes.literal(name, name),
                    f"{w.reported_top1:.2%}" if w.reported_top1 is not None else "—",
                    f"{measured:.2%}" if measured is not None else "—",
                    w.dataset or "—",
                    _link(w.origin_url, author),
                ]
            )
        return [_table(header, cells, classes=["resnetzoo-weights-table"])]


class WeightsFilesTable(SphinxDirective):
    """``weights-files-table``: each weights' license, the file it downloads, its size and checksum."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        import resnetzoo

        header = ["weights", "license", "file", "size", "SHA-256"]
        cells = []
        for name in resnetzoo.list_pretrained():
            w = resnetzoo.get_weights(name)
            if w.url is not None:
                file = _link(w.url, w.url.rsplit("/", 1)[-1])
            else:
                revision = w.hf_hub_revision or "main"
                file = _link(
                    f"https://huggingface.co/{w.hf_hub_id}/blob/{revision}/{w.hf_hub_filename}",
                    str(w.hf_hub_filename),
                )
            digest = w.sha256[:10] + "…" if w.sha256 else "—"
            cells.append(
                [
                    nodes.literal(name, name),
                    w.license or "?",
                    file,
                    f"{w.file_size / 1e6:.1f} MB" if w.file_size else "—",
                    nodes.literal(digest, digest),
                ]
            )
        return [_table(header, cells, classes=["resnetzoo-weights-files-table"])]


# -- CLI reference ---------------------------------------------------------------------------------

_USAGE_WIDTH = 88  # fixed, so the page does not depend on the terminal that builds it


@dataclass(frozen=True)
class CommandDoc:
    """One (sub)command of the CLI, ready to render."""

    prog: str  # e.g. "resnetzoo list"
    help: str  # the one-line help shown by the parent command, or the description
    usage: str
    arguments: list[tuple[str, str]]  # (invocation, description)
    subcommands: list[tuple[str, str]]  # (name, help)


def _describe_action(formatter: argparse.HelpFormatter, action: argparse.Action) -> str:
    text = formatter._expand_help(action) if action.help else ""
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        text += f" Choices: {', '.join(str(c) for c in action.choices)}."
    shows_default = action.nargs != 0 and action.default not in (None, argparse.SUPPRESS)
    if shows_default and "default" not in text:
        text += f" Default: {action.default}."
    return text.strip()


def walk_cli(parser: argparse.ArgumentParser, help_text: str = "") -> list[CommandDoc]:
    """Describe ``parser`` and, depth first, every subcommand under it."""
    formatter = argparse.HelpFormatter(parser.prog, width=_USAGE_WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, prefix="")
    usage = formatter.format_help().strip()
    arguments, subcommands, children = [], [], []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            seen: set[int] = set()
            for name, subparser in action.choices.items():
                if id(subparser) in seen:  # an alias of a command already listed
                    continue
                seen.add(id(subparser))
                subcommands.append((name, helps.get(name, "")))
                children.extend(walk_cli(subparser, helps.get(name, "")))
            continue
        invocation = formatter._format_action_invocation(action)
        arguments.append((invocation, _describe_action(formatter, action)))
    here = CommandDoc(parser.prog, help_text or parser.description or "", usage, arguments, subcommands)
    return [here, *children]


def _load(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


class CliReference(SphinxDirective):
    """``cli-reference module:build_parser``: a section per command, with usage and arguments."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        parser = _load(self.arguments[0])()
        result: list[nodes.Node] = []
        for command in walk_cli(parser):
            section_id = nodes.make_id(f"cli {command.prog}")
            section = nodes.section(ids=[section_id], names=[nodes.fully_normalize_name(command.prog)])
            section += nodes.title(command.prog, "", nodes.literal(command.prog, command.prog))
            self.state.document.note_implicit_target(section, section)
            if command.help:
                section += nodes.paragraph(command.help, command.help)
            section += nodes.literal_block(command.usage, command.usage, language="text")
            if command.subcommands:
                rows = [[nodes.literal(n, f"{command.prog} {n}"), h] for n, h in command.subcommands]
                section += _table(["command", "what it does"], rows, classes=["resnetzoo-cli-table"])
            if command.arguments:
                rows = [[nodes.literal(a, a), d] for a, d in command.arguments]
                section += _table(["argument", "description"], rows, classes=["resnetzoo-cli-table"])
            result.append(section)
        return result


# -- dataclass fields (TrainConfig) ----------------------------------------------------------------

from resnetzoo.cli._config import field_docs  # noqa: E402 (the CLI's help reads the same texts)

_FIELD = re.compile(r"^    (\w+): ")  # a field's annotation in a class body
_GROUP = re.compile(r"^\s*#\s*---\s*(.+?)\s*---\s*$")  # a "# --- group ---" heading in a class body


@dataclasses.dataclass(frozen=True)
class FieldDoc:
    """One field of a documented dataclass, for the docs' table."""

    name: str
    type: str  # the annotation as written, e.g. "int | None"
    default: str  # repr of the default value ("required" when there is none)
    doc: str  # the field's entry in the class docstring's Attributes section
    group: str  # the "# --- group ---" heading it sits under in the source ("" before the first)


def dataclass_fields(cls: type) -> list[FieldDoc]:
    """The fields of dataclass ``cls``: their docstring texts, and the group headings of the class body
    (read from the source when the docs are built; the CLI never reads source)."""
    docs = field_docs(cls)
    groups, group = {}, ""
    for line in inspect.getsource(cls).splitlines():
        heading = _GROUP.match(line)
        if heading:
            group = heading.group(1)
        field = _FIELD.match(line)  # at the class body's indentation, not the docstring's
        if field:
            groups.setdefault(field.group(1), group)
    fields = []
    for spec in dataclasses.fields(cls):
        if spec.default is not dataclasses.MISSING:
            default = repr(spec.default)
        elif spec.default_factory is not dataclasses.MISSING:
            default = repr(spec.default_factory())
        else:
            default = "required"
        fields.append(
            FieldDoc(spec.name, str(spec.type), default, docs.get(spec.name, ""), groups.get(spec.name, ""))
        )
    return fields


class ConfigTable(SphinxDirective):
    """``config-table module:Class``: a table per field group of a dataclass."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        cls = _load(self.arguments[0])
        groups: dict[str, list[FieldDoc]] = {}
        for field in dataclass_fields(cls):
            groups.setdefault(field.group, []).append(field)
        result: list[nodes.Node] = []
        for group, fields in groups.items():
            if group:
                result.append(nodes.rubric(group, group))
            rows = [
                [
                    nodes.literal(f.name, f.name),
                    nodes.literal(f.type, f.type),
                    nodes.literal(f.default, f.default),
                    f.doc,
                ]
                for f in fields
            ]
            result.append(
                _table(["field", "type", "default", "what it does"], rows, ["resnetzoo-config-table"])
            )
        return result


# -- recipes ---------------------------------------------------------------------------------------


def recipe_rows() -> list[tuple[str, str, str, str]]:
    """``(name, settings, summary, source)`` per recipe; settings are the fields that differ from
    ``TrainConfig()``, in field order."""
    from resnetzoo.recipes import describe_recipe, list_recipes
    from resnetzoo.train import TrainConfig

    def changes(config: Any, default: Any, prefix: str = "") -> list[str]:
        changed = []
        for field in dataclasses.fields(config):
            value, base = getattr(config, field.name), getattr(default, field.name)
            if field.name == "recipe" or value == base:  # the recipe names itself
                continue
            if dataclasses.is_dataclass(value):
                changed += changes(value, base, f"{prefix}{field.name}.")
                continue
            if isinstance(value, float):
                value = float(f"{value:.4g}")  # milestones of 90.9090909... read as 90.91
            elif isinstance(value, tuple):
                value = tuple(float(f"{v:.4g}") if isinstance(v, float) else v for v in value)
            changed.append(f"{prefix}{field.name}={value!r}")
        return changed

    rows = []
    for name in list_recipes():
        recipe = describe_recipe(name)
        changed = changes(recipe.config, TrainConfig())
        rows.append((name, ", ".join(changed), recipe.summary, recipe.source))
    return rows


class RecipeTable(SphinxDirective):
    """``recipe-table``: every recipe, what it changes, what it is for and where it comes from."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        rows = [
            [nodes.literal(name, name), nodes.literal(settings, settings), summary, source]
            for name, settings, summary, source in recipe_rows()
        ]
        header = ["recipe", "settings (where they differ from TrainConfig())", "what it is for", "source"]
        return [_table(header, rows, classes=["resnetzoo-recipe-table"])]


# -- API reference ---------------------------------------------------------------------------------


def _summary(module: types.ModuleType) -> str:
    doc = inspect.getdoc(module) or ""
    return doc.split("\n\n")[0].replace("\n", " ")


def api_sections(package: types.ModuleType) -> dict[str, list[tuple[str, Any]]]:
    """Public names of ``package`` grouped by the public (sub)package that documents them.

    A name reached through a public submodule listed in ``__all__`` (``resnetzoo.data.CIFAR10``)
    belongs to that submodule; any other name belongs to the subpackage that defines it
    (``resnetzoo.create_model`` to ``resnetzoo.models``), or to the package itself.
    """
    from resnetzoo._public import public_objects

    public = public_objects(package)
    public_modules = {name for name, obj in public.items() if isinstance(obj, types.ModuleType)}
    sections: dict[str, list[tuple[str, Any]]] = {}
    for name, obj in public.items():
        if name in public_modules:
            continue
        parent = name.rpartition(".")[0]
        if parent == package.__name__:
            defined_in = getattr(obj, "__module__", None) or package.__name__
            parts = defined_in.split(".")
            if len(parts) > 1 and not parts[1].startswith("_") and parts[0] == package.__name__:
                candidate = importlib.import_module(f"{parts[0]}.{parts[1]}")
                if hasattr(candidate, "__path__"):  # a subpackage, not a module such as cli.py
                    parent = candidate.__name__
        sections.setdefault(parent, []).append((name, obj))
    # Subpackages in alphabetical order, then what the package itself defines (its version).
    return dict(sorted(sections.items(), key=lambda item: (item[0] == package.__name__, item[0])))


def _autodoc_lines(name: str, obj: Any) -> list[str]:
    if name.endswith(".__version__"):
        return [
            f".. py:data:: {name}",
            "   :type: str",
            "",
            "   The installed version, read from the package metadata (``pyproject.toml``).",
        ]
    if inspect.isclass(obj):
        return [f".. autoclass:: {name}"]
    if callable(obj):
        return [f".. autofunction:: {name}"]
    return [f".. autodata:: {name}"]


def _alias_lines(name: str, obj: Any, documented_as: str) -> list[str]:
    # A second public name of an object documented above (``resnetzoo.train.Trainer`` is
    # ``resnetzoo.Trainer``): a short entry that links there. A second autodoc entry would describe
    # the same canonical object twice, which Sphinx reports as a duplicate (an error under -W).
    role = "class" if inspect.isclass(obj) else "func" if callable(obj) else "data"
    directive = {"class": "py:class", "func": "py:function", "data": "py:data"}[role]
    return [f".. {directive}:: {name}", "", f"   The same object as :{role}:`{documented_as}`."]


def api_rst(package: types.ModuleType) -> list[str]:
    """reST source of the API reference: a section per subpackage, an autodoc entry per name.

    An object with several public names is documented in full under the first one and listed
    under the others with a link to it.
    """
    lines: list[str] = []
    first_name: dict[int, str] = {}
    for section, members in api_sections(package).items():
        title = f"``{section}``"
        lines += [title, "-" * len(title), "", _summary(importlib.import_module(section)), ""]
        for name, obj in members:
            shared = callable(obj) and id(obj) in first_name  # constants may be equal by chance
            if shared:
                lines += [*_alias_lines(name, obj, first_name[id(obj)]), ""]
            else:
                first_name.setdefault(id(obj), name)
                lines += [*_autodoc_lines(name, obj), ""]
    return lines


class ApiReference(SphinxDirective):
    """``api-reference package``: autodoc for every public name of the package."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        if not isinstance(self.state, RSTState):
            raise self.error(
                "api-reference emits reST (autodoc); in a Markdown page put it in an {eval-rst} block"
            )
        package = importlib.import_module(self.arguments[0])
        lines = api_rst(package)
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source="<api-reference>"), container)
        return container.children


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("model-table", ModelTable)
    app.add_directive("weights-table", WeightsTable)
    app.add_directive("weights-files-table", WeightsFilesTable)
    app.add_directive("cli-reference", CliReference)
    app.add_directive("api-reference", ApiReference)
    app.add_directive("config-table", ConfigTable)
    app.add_directive("recipe-table", RecipeTable)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
