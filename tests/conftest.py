"""Shared fixtures. Hub-related for now: the fake Hub server and an isolated Hub cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from fakehub import FakeHub
from huggingface_hub import close_session, constants

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
    """Run torch on one intra-op thread during the test.

    The hub tests push a few 32x32 images through small models: a second thread only adds
    barriers, and on a busy 2-core machine each barrier waits for a time slice (the hub suite
    took 65 s with torch's default threads, 38 s with one, on the shared development machine).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
