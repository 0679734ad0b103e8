"""Shared pytest fixtures for Shoal's tests; keep each fixture small and documented."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.settings import Settings
from agents.testing import ScriptedServer


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
