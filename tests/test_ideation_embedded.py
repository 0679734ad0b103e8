"""Smoke test: one idea from the real embedded model (Qwen2.5-Coder-1.5B, CPU), offline, through ``LLM`` with no
endpoint configured, with the JSON-action protocol and the local library of a real PDF."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agents.errors import ModelUnavailable
from agents.ideation import Idea, generate_ideas, load_topic
from agents.literature import make_literature
from agents.llm import LLM, Ledger, read_ledger
from agents.localmodel import weights
from agents.settings import load_settings
from tests.conftest import shared_data


@pytest.mark.embedded
@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_embedded_model_generates_one_schema_valid_idea(tmp_path: Path) -> None:
    """Slow: 3-6 model calls of up to ~400 tokens each at ~20 tokens/s (1-3 minutes on an idle 2-core machine;
    much longer when other embedded models share the cores)."""
    lib = tmp_path / "library"
    lib.mkdir()
    shutil.copy(shared_data("pdfs", "ai_scientist_generated", "rl_lr_adaptation.pdf"), lib / "rl_lr.pdf")
    settings = load_settings(
        None,
        [
            "literature.semantic_scholar=false",
            f'literature.local_library="{lib}"',
            "ideation.max_steps=3",
            "ideation.reflections=1",
        ],
        workspace=tmp_path / "workspace",
    )
    assert settings.models.ideation.is_embedded
    try:
        weights.ensure_model_file(settings.cache_dir)
    except ModelUnavailable as exc:
        pytest.skip(f"embedded weights not available: {exc}")
    llm = LLM(settings, Ledger(tmp_path / "llm_calls.jsonl"))
    topic = load_topic("Learning-rate warmup for small transformers trained on a CPU", None)
    result = generate_ideas(topic, llm, make_literature(settings, tmp_path / "cache"), settings, num_ideas=1)

    produced = result.ideas + result.rejected
    assert produced, f"no idea after the bounded attempts ({result.failed_attempts} failed)"
    idea = produced[0]
    assert Idea.model_validate_json(idea.model_dump_json()) == idea
    assert idea.title.strip() and idea.hypothesis.strip() and idea.experiments
    assert idea.tool_mode == "json" and 1 <= idea.steps <= 3
    assert idea.novelty_check.decision != "unchecked"
    records = read_ledger(tmp_path / "llm_calls.jsonl")
    calls = [r for r in records if r.outcome != "invalid"]  # "invalid" marks an answer that failed validation
    assert calls and all(r.endpoint == "embedded" for r in calls), [(r.prompt, r.endpoint, r.outcome) for r in calls]
