"""An evolve run whose evaluations are Ray tasks on the real test cluster (a head and two worker nodes): every
candidate program and its evaluator travel to a worker and the metrics come back. Runs where evolve mode is in
the tree (skipped, saying so, before the evolve branch is merged)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.settings import Settings
from agents.testing import ScriptedServer
from agents.testing.ray_cluster import RayCluster

pytestmark = pytest.mark.slow
evolve_api = pytest.importorskip("agents.evolve", reason="evolve mode is not in this tree")
support = pytest.importorskip("tests.evolve_support", reason="evolve's test support is not in this tree")


def test_an_evolve_run_evaluates_through_ray(ray_cluster: RayCluster, tmp_path: Path) -> None:
    from agents.scale import make_executor
    from agents.scale.ray_executor import RayExecutor

    with ScriptedServer() as server:
        support.script_all(server, support.Coder(step=3, unique=True))
        settings: Settings = support.settings_for(
            server, tmp_path, "evolve.max_samples=4", "evolve.operators={rewrite = 1.0}"
        )
        ray = settings.ray.model_copy(update={"address": ray_cluster.address})
        sandbox = settings.sandbox.model_copy(update={"backend": "local"})
        settings = settings.model_copy(update={"executor": "ray", "ray": ray, "sandbox": sandbox})
        executor = make_executor(settings)
        assert isinstance(executor, RayExecutor)
        prog, ev = support.write_task(tmp_path)
        run, outcome = evolve_api.evolve(prog, ev, settings, sandbox=executor, embed=support.hash_embed)
        server.check()
    assert outcome.status == "complete"
    assert outcome.stats["evaluated"] == 4
    assert executor.bytes_received > 0 and executor.failures == 0
    evaluated = [p for p in (run.evolve_dir / "programs").iterdir() if (p / "eval.log").is_file()]
    assert len(evaluated) == 5  # the initial program and four candidates
    for p in evaluated:  # metrics written on a worker are in the run directory
        assert (p / "metrics.json").is_file()
