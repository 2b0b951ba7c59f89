"""Shared fixtures: the fake Hub server, an isolated Hub cache, the real weight files of ../shared,
one torch thread, a scoped registry.

Plain helper functions (inputs, logits, tiny models, the thread-pinning context manager) are in
helpers.py; the fixtures here are built from them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakehub import FakeHub
from helpers import pinned_threads
from huggingface_hub import close_session, constants

from resnetzoo.models import registry_scope

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
_skipped_for_shared: list[str] = []


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
    _skipped_for_shared.append(request.node.nodeid)
    pytest.skip(why)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say at the end of the run, where nobody can miss it, which tests on real weights did not run."""
    if _skipped_for_shared:
        terminalreporter.write_sep(
            "!", f"{len(_skipped_for_shared)} tests on REAL WEIGHTS were SKIPPED", red=True
        )
        terminalreporter.write_line(
            f"{shared_root()} is missing: put ../shared beside the checkout or set ${SHARED_ENV}; "
            f"CI sets {REQUIRE_SHARED_ENV}=1 so that this fails instead"
        )
        for nodeid in _skipped_for_shared:
            terminalreporter.write_line(f"  skipped: {nodeid}")
