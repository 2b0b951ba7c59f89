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
    "myst_nb",  # Markdown pages (it includes myst_parser) and the notebook pages, executed at build time
    "resnetzoo_tables",  # docs/_ext: model table, CLI reference and API reference built from the code
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build"]

# Markdown pages: ``{directive}`` fences, ``:::`` colon fences for admonitions, and anchors for
# headings up to level 3 so that ``[text](page.md#heading)`` links resolve.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- Notebooks (myst-nb) -----------------------------------------------------------------------------

# tutorial.md is a notebook (its jupytext top matter says so): executed when the page is built, an error in
# any cell fails the build. "cache": the outputs are kept in jupyter-cache under docs/_build/.jupyter_cache,
# keyed by the code of the cells, and reused while the code is unchanged. tests/test_tutorial.py executes
# the notebook and stores its outputs there, so that .ci/run, which builds the docs after the tests, runs
# the notebook once, not twice. A cell's source unchanged but the library changed: delete the cache (or
# run that test) to see new outputs.
nb_execution_mode = "cache"
nb_execution_cache_path = str(_DOCS / "_build" / ".jupyter_cache")
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 900  # seconds per cell; the slowest trains for a minute or two on a 2-core CPU
nb_execution_in_temp = True  # the notebook writes its run folders and files in a temporary folder
nb_merge_streams = True

# The tutorial downloads pretrained weights. Offline (RESNETZOO_DOCS_OFFLINE=1) it reads them from the
# mirror of their files (RESNETZOO_WEIGHTS_MIRROR, else ../shared/weights/akamaster beside the checkout or
# under $RESNETZOO_SHARED, as the tests find them); with none, the notebook cannot run, and its page is
# built without outputs, saying so.
_SHARED = Path(os.environ.get("RESNETZOO_SHARED") or _DOCS.parents[1] / "shared")
_SHARED_WEIGHTS = _SHARED / "weights" / "akamaster"
if os.environ.get("RESNETZOO_DOCS_OFFLINE") == "1" and "RESNETZOO_WEIGHTS_MIRROR" not in os.environ:
    if _SHARED_WEIGHTS.is_dir():
        os.environ["RESNETZOO_WEIGHTS_MIRROR"] = str(_SHARED_WEIGHTS)  # the notebook's kernel inherits it
    else:
        nb_execution_mode = "off"
        print(
            f"docs/conf.py: offline and no weights mirror ({_SHARED_WEIGHTS} is missing): the tutorial "
            "notebook is NOT executed; its page has no outputs",
            file=sys.stderr,
        )

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
