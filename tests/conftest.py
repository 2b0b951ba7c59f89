"""Shared fixtures: the fake Hub server, an isolated Hub cache, the real weight files of ../shared,
one torch thread, a scoped registry; and the threads of a pytest-xdist worker.

Plain helper functions (inputs, logits, tiny models, the thread-pinning context manager) are in
helpers.py; the fixtures here are built from them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from fakehub import FakeHub
from helpers import pinned_threads
from huggingface_hub import close_session, constants

from resnetzoo.models import registry_scope


def pytest_configure(config: pytest.Config) -> None:
    """In a pytest-xdist worker (``pytest -n N``), give torch its share of the cores, not all of them.

    Each worker would start as many intra-op threads as the machine has cores: with ``-n 2`` on the
    2-core CI machine that is four threads spinning on two cores (see :func:`helpers.pinned_threads`).
    ``OMP_NUM_THREADS`` passes the same share to the processes the tests start (CLI, examples, torchrun).
    A test that pins its own count (``single_thread``) still gets it; a run without ``-n`` is unchanged.
    """
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers is None:
        return
    share = max(1, (os.cpu_count() or 1) // int(workers))
    torch.set_num_threads(share)
    os.environ.setdefault("OMP_NUM_THREADS", str(share))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist, the files holding ``slow`` tests first, each file's tests in their order.

    ``--dist loadfile`` hands out whole files in collection order: a file of several minutes handed out
    last would run alone on one core while the other waits. Every worker collects, and must get the
    same order: this sort is stable and depends on the items only. A run without ``-n`` keeps pytest's order.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


# Where the Hub client points when no fake Hub runs: a closed local port, so that a test can
# never reach the real Hub (huggingface_hub also fetches small registries from its endpoint).
_NO_HUB = "http://127.0.0.1:9"


def _point_client_at(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    )


@pytest.fixture
def hf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``HF_HOME`` in ``tmp_path``, online, with no token, and no Hub to reach."""
    home = tmp_path / "hf_home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    # huggingface_hub reads the environment once, when imported, into module constants that it
    # consults at call time: patch those too, or the env vars above have no effect.
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    _point_client_at(monkeypatch, _NO_HUB)
    return home


@pytest.fixture
def fake_hub(hf_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A :class:`FakeHub` on 127.0.0.1 that ``HF_ENDPOINT`` points at, with the cache in ``hf_home``."""
    hub = FakeHub().start()
    _point_client_at(monkeypatch, hub.url)
    yield hub
    hub.stop()
    close_session()  # drop the client's pooled connections to this server


@pytest.fixture
def single_thread() -> Iterator[None]:
    """Run torch on one intra-op thread during the test (see :func:`helpers.pinned_threads` for why).

    A module asks for it with ``pytestmark = pytest.mark.usefixtures("single_thread")``.
    """
    with pinned_threads(1):
        yield


@pytest.fixture
def scoped_registry() -> Iterator[None]:
    """Whatever a test registers or replaces in the model/weights registry is gone after it."""
    with registry_scope():
        yield


# The real weight files: ../shared beside the checkout (RESNETZOO_SHARED names another place). A test
# on them skips where they are absent, loudly (a section at the end of the run); with
# RESNETZOO_REQUIRE_SHARED=1, as .ci/run sets, it fails instead, so CI cannot pass without running them.
SHARED_ENV, REQUIRE_SHARED_ENV = "RESNETZOO_SHARED", "RESNETZOO_REQUIRE_SHARED"
# The skip is noted on the test's report, which pytest-xdist carries from its worker to the main process,
# where the summary is written (a list in this module would stay in the worker).
_SKIPPED_FOR_SHARED = "resnetzoo_skipped_for_shared"


def shared_root() -> Path:
    """Where the real files are looked for: ``$RESNETZOO_SHARED``, else ``../shared`` beside the checkout."""
    return Path(os.environ.get(SHARED_ENV) or Path(__file__).resolve().parents[2] / "shared")


@pytest.fixture
def shared_akamaster(request: pytest.FixtureRequest) -> Path:
    """The folder of akamaster's real ``.th`` files; skips (or fails under RESNETZOO_REQUIRE_SHARED=1)
    where it is absent."""
    folder = shared_root() / "weights" / "akamaster"
    if folder.is_dir():
        return folder
    why = f"the real akamaster weights are not at {folder} (../shared beside the checkout, or ${SHARED_ENV})"
    if os.environ.get(REQUIRE_SHARED_ENV) == "1":
        pytest.fail(
            f"{why}; {REQUIRE_SHARED_ENV}=1 forbids skipping the tests on real weights", pytrace=False
        )
    request.node.user_properties.append((_SKIPPED_FOR_SHARED, True))
    pytest.skip(why)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say at the end of the run, where nobody can miss it, which tests on real weights did not run."""
    skipped = [
        report.nodeid
        for report in terminalreporter.stats.get("skipped", [])
        if any(tuple(prop) == (_SKIPPED_FOR_SHARED, True) for prop in getattr(report, "user_properties", ()))
    ]
    if skipped:
        terminalreporter.write_sep("!", f"{len(skipped)} tests on REAL WEIGHTS were SKIPPED", red=True)
        terminalreporter.write_line(
            f"{shared_root()} is missing: put ../shared beside the checkout or set ${SHARED_ENV}; "
            f"CI sets {REQUIRE_SHARED_ENV}=1 so that this fails instead"
        )
        for nodeid in skipped:
            terminalreporter.write_line(f"  skipped: {nodeid}")
