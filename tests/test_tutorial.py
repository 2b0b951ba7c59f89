"""The tutorial notebook, docs/tutorial.md: it runs top to bottom and computes what its text says.

examples/tutorial.ipynb is the same notebook without outputs, for Jupyter; regenerate it after editing
the Markdown file with ``python tests/test_tutorial.py --update``.

Running the notebook here also stores its outputs in the docs build's notebook cache
(docs/_build/.jupyter_cache, see docs/conf.py), keyed by the code of its cells: .ci/run builds the docs
after the tests, and the build shows these outputs instead of running the notebook a second time (it
runs it itself only where the cache has no match, e.g. after an edit of a cell).
"""

from __future__ import annotations

import copy
import json
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "tutorial.md"
PAIRED = ROOT / "examples" / "tutorial.ipynb"
CACHE = ROOT / "docs" / "_build" / ".jupyter_cache"  # docs/conf.py's nb_execution_cache_path

# Run in the notebook's kernel after its last cell: the values the tests check, as one JSON line.
PROBE = """
import json as _json
print(_json.dumps({
    "cifar_sizes": [m.shape[-1] for m in cifar_maps],
    "imagenet_sizes": [m.shape[-1] for m in imagenet_maps],
    "confusion_row_sums": scratch.confusion.sum(dim=1).tolist(),
    "test_class_counts": torch.bincount(test.targets, minlength=10).tolist(),
    "scratch_top1": scratch.top1,
    "trainer_test_top1": trainer.test(test_loader)["top1"],
    "pretrained_top1": pretrained.top1,
    "wrong_normalisation_top1": wrong.top1,
    "no_normalisation_top1": raw.top1,
    "tuned_val_top1": max(e["val_top1"] for e in tuned.fine_tune_history),
    "scratch_val_top1": max(e["val_top1"] for e in from_scratch.history),
    "int8_top1": int8_top1,
    "flops": [rz.count_flops(resnet56), rz.count_flops(pruned)],
    "pytorch_first_prediction": classes[int(pretrained.predictions[0])],
    "onnxruntime_first_prediction": categories[int(probabilities.argmax())],
}))
"""


def read_notebook():
    """docs/tutorial.md as myst-nb reads it when it builds the page (the cache matches on this)."""
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    text = NOTEBOOK.read_text(encoding="utf-8")
    return read_myst_markdown_notebook(text, config=MdParserConfig(), add_source_map=True, path=str(NOTEBOOK))


def paired_notebook():
    """examples/tutorial.ipynb as it must be: the cells of docs/tutorial.md, no outputs, no cell ids."""
    import nbformat

    source = read_notebook()
    cells = [
        nbformat.v4.new_code_cell(cell.source, metadata=cell.metadata)
        if cell.cell_type == "code"
        else nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata)
        for cell in source.cells
    ]
    for cell in cells:
        cell.pop("id", None)  # nbformat 4.4: no random ids, so a regeneration changes nothing
    metadata = {"kernelspec": source.metadata["kernelspec"], "language_info": {"name": "python"}}
    return nbformat.v4.new_notebook(cells=cells, metadata=metadata, nbformat_minor=4)


def _write_paired() -> None:
    import nbformat

    nbformat.write(paired_notebook(), PAIRED)


def test_examples_ipynb_is_the_tutorial_without_outputs():
    pytest.importorskip("myst_nb", reason="the docs extra is not installed: pip install -e '.[dev]'")
    import nbformat

    stored = nbformat.read(PAIRED, as_version=4)
    expected = paired_notebook()
    assert [(c.cell_type, c.source, c.metadata) for c in stored.cells] == [
        (c.cell_type, c.source, c.metadata) for c in expected.cells
    ], "examples/tutorial.ipynb differs from docs/tutorial.md: run python tests/test_tutorial.py --update"
    code = [c for c in stored.cells if c.cell_type == "code"]
    assert len(code) >= 20
    assert all(c.outputs == [] and c.execution_count is None for c in code)  # outputs come from execution
    assert PAIRED.stat().st_size < 40_000


def test_tutorial_shows_tensorboard_without_running_it():
    notebook = NOTEBOOK.read_text(encoding="utf-8")
    assert "```python\n%load_ext tensorboard\n%tensorboard --logdir runs/scratch/tensorboard\n```" in notebook
    pytest.importorskip("myst_nb", reason="the docs extra is not installed: pip install -e '.[dev]'")
    code = "\n".join(c.source for c in read_notebook().cells if c.cell_type == "code")
    assert "tensorboard" not in code


@pytest.mark.slow
@pytest.mark.timeout(1800)  # about 3 minutes on an idle 2-core CPU; far more while other jobs share it
def test_tutorial_runs_and_computes_what_it_says(shared_akamaster, hf_home, tmp_path, monkeypatch):
    for module, extra in [
        ("myst_nb", "docs"),
        ("matplotlib", "plot"),
        ("captum", "explain"),
        ("onnxruntime", "export"),
        ("torch_pruning", "compress"),
    ]:
        pytest.importorskip(module, reason=f"the tutorial needs resnetzoo[{extra}]: pip install -e '.[dev]'")
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from nbclient import NotebookClient

    from resnetzoo.hub.pretrained import MIRROR_ENV

    # The kernel inherits the environment: the real akamaster files from the mirror, the hf_home
    # fixture's empty cache, and no Hub to reach.
    monkeypatch.setenv(MIRROR_ENV, str(shared_akamaster))
    notebook = read_notebook()
    run = copy.deepcopy(notebook)
    run.cells.append(nbformat.v4.new_code_cell(PROBE))
    start = time.perf_counter()
    # record_timing=False: timings in the cells' metadata would change the notebook's cache key.
    client = NotebookClient(
        run,
        timeout=900,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # a failing cell raises CellExecutionError with its traceback
    seconds = time.perf_counter() - start
    facts = json.loads(run.cells[-1].outputs[-1]["text"].strip().splitlines()[-1])

    assert facts["cifar_sizes"] == [32, 16, 8, 4]  # the CIFAR stem keeps the resolution
    assert facts["imagenet_sizes"] == [8, 4, 2, 1]  # torchvision's stem divides it by 4 first
    assert facts["confusion_row_sums"] == facts["test_class_counts"] == [100] * 10
    assert facts["scratch_top1"] == facts["trainer_test_top1"]
    assert facts["scratch_top1"] > 0.25  # 3 epochs on 4,500 images (~39%): well above chance (10%)
    assert 0.78 < facts["pretrained_top1"] < 0.9  # akamaster's resnet56 on the JPEG sample: ~83%
    assert facts["no_normalisation_top1"] < facts["wrong_normalisation_top1"] < facts["pretrained_top1"]
    assert facts["no_normalisation_top1"] < 0.6  # pixels in [0, 1]: ~35%
    assert facts["tuned_val_top1"] > facts["scratch_val_top1"]
    assert facts["tuned_val_top1"] > 0.85
    assert abs(facts["int8_top1"] - facts["pretrained_top1"]) <= 0.01  # what quantize checked
    assert facts["flops"][1] <= 0.5 * facts["flops"][0]
    assert facts["onnxruntime_first_prediction"] == facts["pytorch_first_prediction"]
    figures = [o for c in run.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(figures) >= 12
    errors = [o for c in run.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors

    # Keep the outputs for the docs build (without the probe), as myst-nb's "cache" mode stores them.
    run.cells.pop()
    cache = get_cache(str(CACHE))
    cache.cache_notebook_bundle(
        CacheBundleIn(run, str(NOTEBOOK), data={"execution_seconds": seconds}),
        check_validity=False,
        overwrite=True,
    )
    assert cache.match_cache_notebook(read_notebook()) is not None  # what the docs build looks up


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        _write_paired()
        print(f"wrote {PAIRED.relative_to(ROOT)}")
    else:
        sys.exit("usage: python tests/test_tutorial.py --update   (regenerates examples/tutorial.ipynb)")
