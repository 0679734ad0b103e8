"""Runs (or resumes) an experiment search in its own process, for the kill -9 test.

Usage: python tests/exp_driver.py RUN_DIR BASE_URL [RAY_ADDRESS]   (with RAY_ADDRESS: executor = "ray" there)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import exp_support as S

from agents.experiments.manager import ExperimentManager
from agents.llm import LLM, Ledger
from agents.rundir import open_run
from agents.settings import ROLES, load_settings


def main(run_path: str, base_url: str, ray_address: str = "") -> None:
    overrides = [f"models.{r}.base_url={base_url}" for r in ROLES] + [f'models.{r}.model="m"' for r in ROLES]
    overrides += ["llm.backoff_base_s=0", "llm.backoff_max_s=0", "llm.request_timeout_s=10"]
    settings = load_settings(None, overrides, workspace=Path(run_path).parent)
    settings = S.search_settings(
        settings, num_drafts=1, debug_prob=1.0, stage_iters=[3, 3, 3, 2], num_seeds=1, workers=2, patience=9
    )
    run = open_run(Path(run_path))
    llm = LLM(settings, Ledger(run.ledger_path))
    runner: Any = S.sandbox()
    if ray_address:
        from agents.scale import make_executor

        ray = settings.ray.model_copy(update={"address": ray_address})
        sandbox = settings.sandbox.model_copy(update={"backend": "local", "memory_mb": 1024})
        runner = make_executor(settings.model_copy(update={"executor": "ray", "ray": ray, "sandbox": sandbox}))
    outcome = ExperimentManager(run, settings, llm, runner, S.IDEA).run()
    print(outcome.status, outcome.best)


if __name__ == "__main__":
    main(*sys.argv[1:4])
