"""Sphinx configuration of the resnetzoo documentation.

Build (as README.md and .ci/run do)::

    sphinx-build -W --keep-going -b html -d docs/_build/doctrees docs docs/_build/html
    sphinx-build -W --keep-going -b doctest -d docs/_build/doctrees docs docs/_build/doctest

The second reuses the first's parsed pages and runs the ``{doctest}`` examples on them.

Offline builds: Sphinx 9 reports an unreachable intersphinx inventory as a plain warning with no
type, so ``suppress_warnings`` cannot silence it and ``-W`` turns it into an error. With
``RESNETZOO_DOCS_OFFLINE=1`` (set by ``.ci/run``, whose machines have no internet) the mapping is
left empty: references to Python, PyTorch and huggingface_hub objects render as plain text instead
of links, and nothing else changes.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from pathlib import Path

_DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(_DOCS / "_ext"))

import resnetzoo  # noqa: E402 (after the path set-up above, like every Sphinx conf.py)

# -- Project -----------------------------------------------------------------------------------------

project = "resnetzoo"
author = "resnetzoo developers"
copyright = "resnetzoo developers"
try:
    release = _dist_version("resnetzoo")  # the installed package's metadata, i.e. pyproject.toml
except PackageNotFoundError:  # a source tree on sys.path that was never installed
    release = resnetzoo.__version__
version = ".".join(release.split(".")[:2])

# -- Extensions --------------------------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "sphinx.ext.doctest",
    "myst_parser",
    "resnetzoo_tables",  # docs/_ext: model table, CLI reference and API reference built from the code
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# Markdown pages: ``{directive}`` fences, ``:::`` colon fences for admonitions, and anchors for
# headings up to level 3 so that ``[text](page.md#heading)`` links resolve.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- autodoc / napoleon ------------------------------------------------------------------------------

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"  # types come from the annotations, shown with each argument
autodoc_typehints_description_target = "documented"
autodoc_inherit_docstrings = False  # an undocumented forward() should not show torch's docstring
autodoc_preserve_defaults = True  # defaults as written in the source, not their repr
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# -- intersphinx -------------------------------------------------------------------------------------

if os.environ.get("RESNETZOO_DOCS_OFFLINE") == "1":
    intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
else:
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "torch": ("https://docs.pytorch.org/docs/stable/", None),
        "huggingface_hub": ("https://huggingface.co/docs/huggingface_hub/main/en/", None),
    }
intersphinx_timeout = 15

# -- doctest -----------------------------------------------------------------------------------------

# Only the ``{doctest}`` blocks of the pages; the ``>>>`` examples in docstrings run under pytest
# (``--doctest-modules``), with their module's globals.
doctest_test_doctest_blocks = ""
doctest_global_setup = """
import torch
import resnetzoo as rz
torch.manual_seed(0)
"""

# -- HTML --------------------------------------------------------------------------------------------

html_theme = "furo"
html_title = f"resnetzoo {release}"
html_static_path: list[str] = []
