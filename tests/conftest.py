"""Shared pytest fixtures for Shoal's tests; keep each fixture small and documented."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.settings import Settings
from agents.testing import ScriptedServer
from agents.testing.s2_replay import S2Replay
from agents.testing.shared_data import shared_data_dir


@pytest.fixture
def scripted_llm() -> Iterator[ScriptedServer]:
    """A scripted OpenAI-compatible server on 127.0.0.1; the test fails on unscripted calls or unused replies."""
    with ScriptedServer() as server:
        yield server
    server.check()


@pytest.fixture
def llm_settings(scripted_llm: ScriptedServer, tmp_path: Path) -> Settings:
    """Settings whose every role points at the scripted server, with instant backoff and a tmp workspace."""
    from agents.settings import ROLES, load_settings

    overrides = [f"models.{r}.base_url={scripted_llm.base_url}" for r in ROLES]
    overrides += [f'models.{r}.model="scripted-model"' for r in ROLES]
    overrides += ["llm.backoff_base_s=0", "llm.backoff_max_s=0", "llm.request_timeout_s=1.0"]
    return load_settings(None, overrides, workspace=tmp_path / "workspace", cache_dir=tmp_path / "cache")


SHARED_DATA = shared_data_dir()


def shared_data(*parts: str) -> Path:
    """A path under the shared test data (``agents.testing.shared_data``); skips the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data {path} is absent (put shared/ beside the checkout or set SHOAL_SHARED_DATA)")
    return path


@pytest.fixture
def s2_replay() -> Iterator[S2Replay]:
    """A fake Semantic Scholar API on 127.0.0.1 replaying the real recordings in ../shared/data/semantic_scholar."""
    from agents.testing.s2_replay import S2Replay

    with S2Replay(shared_data("semantic_scholar")) as server:
        yield server


@pytest.fixture
def s2_settings(s2_replay: S2Replay, llm_settings: Settings) -> Settings:
    """``llm_settings`` with literature pointed at the replay: no request spacing, instant backoff, short timeout."""
    overrides = {
        "api_url": s2_replay.api_url,
        "min_interval_s": 0.0,
        "backoff_base_s": 0.0,
        "timeout_s": 2.0,
    }
    return llm_settings.model_copy(update={"literature": llm_settings.literature.model_copy(update=overrides)})
