"""Shared pytest fixtures for Shoal's tests; keep each fixture small and documented."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from agents.settings import Settings
from agents.testing import ScriptedServer
from agents.testing.s2_replay import S2Replay
from agents.testing.shared_data import shared_data_dir

if TYPE_CHECKING:
    from agents.testing.ray_cluster import RayCluster


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


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayCluster]:
    """A real Ray cluster on this machine: a head without CPUs and two worker nodes of one CPU each (custom
    resources ``worker0``/``worker1``), this process its driver, stopped after the module. Skips, saying why,
    only where Ray cannot start (not installed, or its processes do not come up)."""
    from agents.testing.ray_cluster import RayUnavailable
    from agents.testing.ray_cluster import ray_cluster as start

    ctx = start(workers=2, cpus_per_worker=1)
    try:
        cluster = ctx.__enter__()
    except RayUnavailable as exc:
        pytest.skip(f"no Ray cluster on this machine: {exc}")
    try:
        yield cluster
    finally:
        ctx.__exit__(None, None, None)


@pytest.fixture
def ray_settings(llm_settings: Settings, ray_cluster: RayCluster) -> Settings:
    """``llm_settings`` with ``executor = "ray"`` pointed at ``ray_cluster`` and the local sandbox on its workers."""
    sandbox = llm_settings.sandbox.model_copy(update={"backend": "local", "timeout_s": 60.0, "memory_mb": 1024})
    ray = llm_settings.ray.model_copy(update={"address": ray_cluster.address, "num_cpus": 1.0})
    return llm_settings.model_copy(update={"executor": "ray", "ray": ray, "sandbox": sandbox})


@pytest.fixture(scope="session")
def writeup_run_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run directory for the writeup tests, built once per session (seven nodes and three seed runs executed
    for real); each test copies it (``writeup_support.copy_run``)."""
    from writeup_support import build_run

    from agents.rundir import create_run
    from agents.settings import load_settings

    root = tmp_path_factory.mktemp("writeup-run")
    run = create_run(load_settings(None, [], workspace=root, cache_dir=root / "cache"), "noise injection")
    build_run(run.path)
    return run.path
