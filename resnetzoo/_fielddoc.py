"""The comments next to a dataclass's fields, read from its source: one text for the docs and the CLI's help.

``TrainConfig`` documents each field with a comment beside it or above it (nanoGPT's style), grouped
under ``# --- group ---`` headings. The docs' field tables and ``resnetzoo train --help`` both read
them here, so the two never disagree.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import re
import textwrap
import tokenize
from dataclasses import dataclass

__all__ = ["FieldDoc", "dataclass_fields"]

_GROUP = re.compile(r"^#\s*---\s*(.+?)\s*---\s*$")  # a "# --- group ---" heading in a class body


@dataclass(frozen=True)
class FieldDoc:
    """One field of a documented dataclass."""

    name: str
    type: str  # the annotation as written, e.g. "int | None"
    default: str  # repr of the default value ("required" when there is none)
    doc: str  # the comment above and/or beside the field in the source
    group: str  # the "# --- group ---" heading it sits under ("" before the first)


def dataclass_fields(cls: type) -> list[FieldDoc]:
    """The fields of dataclass ``cls`` documented by the comments in its source.

    A field's text is the run of comment lines right above it plus the comment at the end of its
    line; ``# --- name ---`` lines start a group. A field with no comment gets an empty text, which
    ``test_docs.py`` refuses for ``TrainConfig``. Without the source (an install of bytecode only), the
    fields come back with empty texts.

    Raises:
        TypeError: If ``cls`` is not a dataclass.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return [FieldDoc(f.name, str(f.type), _default(f), "", "") for f in dataclasses.fields(cls)]
    comments: dict[int, str] = {}  # line number -> comment text without "#"
    code_lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string
        elif token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            code_lines.update(range(token.start[0], token.end[0] + 1))
    (class_node,) = ast.parse(source).body
    defaults = {f.name: f for f in dataclasses.fields(cls)}
    docs, group, previous_end = [], "", class_node.body[0].lineno - 1
    for node in class_node.body:
        between = range(previous_end + 1, node.lineno)
        above: list[str] = []
        for line in between:
            text = comments.get(line)
            if text is None or line in code_lines:
                above = []
                continue
            heading = _GROUP.match(text)
            if heading:
                group, above = heading.group(1), []
            else:
                above.append(text.lstrip("#").strip())
        previous_end = node.end_lineno or node.lineno
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        name = node.target.id
        if name not in defaults:  # a ClassVar
            continue
        beside = comments.get(node.end_lineno or node.lineno, "").lstrip("#").strip()
        text = " ".join([*above, beside]).strip()
        docs.append(FieldDoc(name, ast.unparse(node.annotation), _default(defaults[name]), text, group))
    return docs


def _default(spec: dataclasses.Field) -> str:
    if spec.default is not dataclasses.MISSING:
        return repr(spec.default)
    if spec.default_factory is not dataclasses.MISSING:
        return repr(spec.default_factory())
    return "required"
