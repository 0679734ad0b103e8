"""Smoke test: stage 1 on a tiny idea with the real embedded model (Qwen2.5-Coder-1.5B on CPU) and the real
sandbox. It must end in a defined state within its cap: a good node, or a clean "no working implementation"."""

from __future__ import annotations

import json
from pathlib import Path

import exp_support as S
import pytest

from agents.errors import ModelUnavailable
from agents.experiments.journal import Journal
from agents.experiments.manager import ExperimentManager
from agents.llm import LLM, Ledger, read_ledger
from agents.rundir import create_run
from agents.settings import load_settings

TINY_IDEA = {
    "name": "median_vs_mean",
    "title": "Median versus mean under outliers",
    "hypothesis": "With 10% outliers, the sample median estimates the centre of normal data better than the mean.",
    "abstract": "A tiny robustness check.",
    "experiments": [
        "Draw 200 normal samples with 10% large outliers; over 50 trials compare the absolute error of the mean "
        "and of the median."
    ],
    "interestingness": {"value": 3, "why": "textbook"},
    "feasibility": {"value": 10, "why": "numpy only"},
    "novelty": {"value": 1, "why": "known"},
}
CAP = 3


@pytest.mark.embedded
@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_stage1_with_the_embedded_model(tmp_path: Path) -> None:
    """Slow (2-10 min on 2 idle cores, far more on a busy machine): up to 3 coder calls and a review by the 1.5B
    model on CPU, each program run in the sandbox."""
    from agents.localmodel import weights

    settings = load_settings(
        None,
        [
            "models.coder.max_tokens=700",
            "models.feedback.max_tokens=300",
            "llm.request_timeout_s=1800",  # a busy 2-core machine generates ~1 token/s
            "llm.max_retries=1",
            'sandbox.backend="local"',
        ],
        workspace=tmp_path / "ws",
    )
    try:
        weights.ensure_model_file(settings.cache_dir)
    except ModelUnavailable as exc:
        pytest.skip(f"embedded weights not available: {exc}")
    settings = S.search_settings(
        settings, num_drafts=1, debug_prob=1.0, max_debug_depth=3, stage_iters=[CAP, 1, 1, 1], num_seeds=1
    )
    assert settings.models.coder.is_embedded
    run = create_run(settings, "embedded smoke")
    manager = ExperimentManager(
        run, settings, LLM(settings, Ledger(run.ledger_path)), S.sandbox(60), TINY_IDEA, stages=(1, 1)
    )
    outcome = manager.run()

    j = Journal.load(run.file("journal.json"))
    work = [n for n in j.nodes if n.kind != "seed"]
    assert 1 <= len(work) <= CAP and all(n.status == "done" for n in j.nodes)
    assert j.stage_record(1) is not None and j.stage_record(1).reason
    if outcome.status == "complete":
        best = j.get(outcome.best)
        assert best.is_good and (run.path / "nodes" / best.id / "metrics.json").is_file()
        assert j.stage_record(1).status == "done"
    else:
        assert outcome.status == "no_working_implementation" and len(work) == CAP
        assert all(n.is_buggy and n.bug_reason for n in work)
        assert j.stage_record(1).status == "failed"
    calls = read_ledger(run.ledger_path)
    assert calls and all(c.endpoint == "embedded" for c in calls)
    stats = j.coder_stats[next(iter(j.coder_stats))]
    assert stats.valid_programs <= stats.programs and stats.patches_applied <= stats.patch_attempts
    # The measured rates, for docs/experiments.md (visible with pytest -s).
    print(json.dumps({"outcome": outcome.status, "nodes": len(work), "stats": stats.model_dump()}))
