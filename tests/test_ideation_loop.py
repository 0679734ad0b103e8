"""The ideation loop with the scripted model through the real openai client: tool calls and the JSON-action
fallback, bad tool calls fed back, the step bound, reflection, and provenance; literature from the S2 replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.ideation.generate import generate_ideas
from agents.ideation.inputs import topic_from_text
from agents.ideation.schema import Idea
from agents.literature import make_literature
from agents.llm import LLM, Ledger, read_ledger
from agents.settings import Settings
from agents.testing import ScriptedServer, error, json_reply, malformed_json, text, tool_calls
from agents.testing.s2_replay import S2Replay
from tests.ideation_helpers import LABEL_SMOOTHING, WARMUP, with_ideation

TURING_ID = "2d5673caa9e6af3a7b82a43f19ee920992db07ad"
TOPIC = topic_from_text("Learning-rate schedules for small transformers trained on a CPU")


@pytest.fixture(autouse=True)
def _free_text_searches(request: pytest.FixtureRequest) -> None:
    """The final novelty search uses the idea's title, which no recording has: the replay answers it empty."""
    if "s2_replay" in request.fixturenames:
        request.getfixturevalue("s2_replay").empty_for_unrecorded_searches = True


def run(settings: Settings, tmp_path: Path, **kw: object) -> tuple[list[Idea], LLM]:
    llm = LLM(settings, Ledger(tmp_path / "llm_calls.jsonl"))
    lit = make_literature(settings, tmp_path / "cache")
    result = generate_ideas(TOPIC, llm, lit, settings, num_ideas=1, **kw)  # type: ignore[arg-type]
    return result.ideas, llm


def no_judging(settings: Settings, **changes: object) -> Settings:
    """Novelty decided by embeddings only (no judge calls to script)."""
    return with_ideation(settings, judge_threshold=1.0, duplicate_threshold=1.0, **changes)


def test_tool_calls_search_read_finalize_then_reflect(
    scripted_llm: ScriptedServer, s2_replay: S2Replay, s2_settings: Settings, tmp_path: Path
) -> None:
    scripted_llm.script(
        "ideation/agent",
        tool_calls([{"name": "search_literature", "arguments": {"query": "turing"}}]),
        tool_calls([{"name": "read_abstract", "arguments": {"paper_id": TURING_ID}}]),
        tool_calls([{"name": "finalize_idea", "arguments": {"idea": WARMUP}}]),
    )
    scripted_llm.script("ideation/reflect", json_reply({"critique": "Specific and cheap.", "done": True}))
    ideas, _ = run(no_judging(s2_settings, reflections=3), tmp_path)

    assert len(ideas) == 1
    idea = ideas[0]
    assert idea.title == WARMUP["title"] and idea.name == "depth_scaled_learning_rate_war"
    assert idea.queries == ["turing"] and idea.papers_read == [TURING_ID]
    assert idea.sources_consulted == ["semantic_scholar"] and idea.literature_notes == []
    assert (idea.steps, idea.tool_mode, idea.reflections) == (3, "tools", 1)  # reflection stopped at "done"
    assert idea.novelty_check.decision == "novel" and idea.novelty_check.closest_papers

    requests = scripted_llm.requests_for("ideation/agent")
    assert [t["function"]["name"] for t in requests[0].body["tools"]] == [
        "search_literature",
        "read_abstract",
        "finalize_idea",
    ]
    tool_results = [m["content"] for m in requests[2].messages if m["role"] == "tool"]
    assert "Neural Turing Machines" in tool_results[0]  # a recorded search result
    assert tool_results[1].startswith(f"[{TURING_ID}] Computing Machinery and Intelligence (1950")
    assert "Can machines think?" in tool_results[1]
    reflect_prompt = scripted_llm.requests_for("ideation/reflect")[0].messages[-1]["content"]
    assert "Round 1 of 3" in reflect_prompt and WARMUP["hypothesis"] in reflect_prompt
    assert "Computing Machinery and Intelligence" in reflect_prompt


def test_json_actions_when_the_model_has_no_tools(
    scripted_llm: ScriptedServer, s2_replay: S2Replay, s2_settings: Settings, tmp_path: Path
) -> None:
    settings = no_judging(s2_settings, tool_mode="json", reflections=2)
    improved = {**WARMUP, "title": "Depth-scaled warmup for tiny transformers"}
    scripted_llm.script(
        "ideation/agent",
        json_reply({"thought": "look for prior work", "action": "search_literature", "query": "kubernetes"}),
        json_reply({"thought": "done", "action": "finalize_idea", "idea": WARMUP}),
    )
    scripted_llm.script(
        "ideation/reflect",
        json_reply({"critique": "Title too vague.", "done": False, "idea": improved}),
        json_reply({"critique": "Good now.", "done": True}),
    )
    ideas, _ = run(settings, tmp_path)
    assert ideas[0].title == improved["title"]
    assert (ideas[0].steps, ideas[0].tool_mode, ideas[0].reflections) == (2, "json", 2)
    requests = scripted_llm.requests_for("ideation/agent")
    assert all("tools" not in r.body for r in requests)
    assert requests[0].body["response_format"]["type"] == "json_schema"
    observation = requests[1].messages[-1]
    assert observation["role"] == "user" and "Kubernetes" in observation["content"]
    assert json.loads(requests[1].messages[-2]["content"])["action"] == "search_literature"


def test_auto_mode_uses_json_actions_for_a_role_without_tools(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    models = llm_settings.models.model_copy(
        update={"ideation": llm_settings.models.ideation.model_copy(update={"supports_tools": False})}
    )
    settings = no_judging(llm_settings, reflections=0).model_copy(update={"models": models})
    settings.literature.semantic_scholar = False
    scripted_llm.script("ideation/agent", json_reply({"thought": "t", "action": "finalize_idea", "idea": WARMUP}))
    ideas, _ = run(settings, tmp_path)
    assert ideas[0].tool_mode == "json" and ideas[0].sources_consulted == []
    assert len(ideas[0].literature_notes) == 1
    assert ideas[0].literature_notes[0].startswith("no literature source configured")


def test_bad_tool_calls_are_fed_back_and_the_loop_continues(
    scripted_llm: ScriptedServer, s2_replay: S2Replay, s2_settings: Settings, tmp_path: Path
) -> None:
    broken = {k: v for k, v in WARMUP.items() if k != "experiments"}
    scripted_llm.script(
        "ideation/agent",
        tool_calls([{"name": "search_literature", "arguments": '{"query": "turing'}]),
        tool_calls([{"name": "read_abstract", "arguments": {"paper_id": "no-such-id"}}]),
        tool_calls([{"name": "browse_web", "arguments": {}}, {"name": "finalize_idea", "arguments": {"idea": broken}}]),
        tool_calls([{"name": "finalize_idea", "arguments": {"idea": json.dumps(WARMUP)}}]),
    )
    ideas, _ = run(no_judging(s2_settings, reflections=0), tmp_path)
    assert ideas[0].title == WARMUP["title"] and ideas[0].steps == 4
    last = scripted_llm.requests_for("ideation/agent")[-1].messages
    results = [m["content"] for m in last if m["role"] == "tool"]
    assert "arguments are not valid JSON" in results[0]
    assert "no paper with id 'no-such-id'" in results[1]
    assert "unknown tool" in results[2]
    assert "experiments: Field required" in results[3]
    assert [r.path for r in s2_replay.requests] == ["/graph/v1/paper/no-such-id", "/graph/v1/paper/search"]


def test_the_last_step_forces_finalize_then_a_final_call_writes_the_idea(
    scripted_llm: ScriptedServer, s2_replay: S2Replay, s2_settings: Settings, tmp_path: Path
) -> None:
    scripted_llm.script(
        "ideation/agent",
        tool_calls([{"name": "search_literature", "arguments": {"query": "turing"}}]),
        tool_calls([{"name": "search_literature", "arguments": {"query": "kubernetes"}}]),
    )
    scripted_llm.script("ideation/finalize", json_reply(LABEL_SMOOTHING))
    ideas, _ = run(no_judging(s2_settings, max_steps=2, reflections=0), tmp_path)
    assert ideas[0].title == LABEL_SMOOTHING["title"] and ideas[0].steps == 2
    first, last = scripted_llm.requests_for("ideation/agent")
    assert "tool_choice" not in first.body
    assert last.body["tool_choice"] == {"type": "function", "function": {"name": "finalize_idea"}}
    assert "last step" in last.messages[-1]["content"]
    final_prompt = scripted_llm.requests_for("ideation/finalize")[0].messages[-1]["content"]
    assert "Neural Turing Machines" in final_prompt and "Kubernetes" in final_prompt


def test_a_text_answer_in_tools_mode_is_read_as_an_idea(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    settings = no_judging(llm_settings, reflections=0)
    settings.literature.semantic_scholar = False
    scripted_llm.script(
        "ideation/agent",
        text("I think I should look around first."),
        text("Here it is:\n```json\n" + json.dumps(WARMUP) + "\n```"),
    )
    ideas, _ = run(settings, tmp_path)
    assert ideas[0].title == WARMUP["title"] and ideas[0].steps == 2
    nudge = scripted_llm.requests_for("ideation/agent")[1].messages[-1]
    assert nudge["role"] == "user" and "call one of the tools" in nudge["content"]


def test_reflection_that_stays_invalid_keeps_the_idea(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    settings = no_judging(llm_settings, reflections=2)
    settings.literature.semantic_scholar = False
    scripted_llm.script("ideation/agent", tool_calls([{"name": "finalize_idea", "arguments": {"idea": WARMUP}}]))
    repairs = settings.llm.max_repairs + 1
    scripted_llm.script("ideation/reflect", *[malformed_json('{"critique": ') for _ in range(repairs)])
    ideas, _ = run(settings, tmp_path)
    assert ideas[0].title == WARMUP["title"] and ideas[0].reflections == 0
    outcomes = [r.outcome for r in read_ledger(tmp_path / "llm_calls.jsonl") if r.prompt == "ideation/reflect"]
    assert outcomes.count("invalid") == repairs


def test_every_call_is_in_the_ledger_with_the_stage(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    settings = no_judging(llm_settings, reflections=1)
    settings.literature.semantic_scholar = False
    scripted_llm.script("ideation/agent", tool_calls([{"name": "finalize_idea", "arguments": {"idea": WARMUP}}]))
    scripted_llm.script("ideation/reflect", json_reply({"critique": "ok", "done": True}))
    run(settings, tmp_path)
    records = [r for r in read_ledger(tmp_path / "llm_calls.jsonl") if r.outcome == "ok"]
    assert [r.prompt for r in records] == ["ideation/agent", "ideation/reflect"]
    assert all(r.context.get("stage") == "ideation" and r.tokens_in > 0 for r in records)


@pytest.mark.parametrize("mode", ["tools", "json"])
def test_tool_mode_tools_on_a_role_without_tools_is_a_config_error(
    llm_settings: Settings, tmp_path: Path, mode: str
) -> None:
    from agents.errors import ConfigError
    from agents.ideation.agent import resolve_tool_mode

    models = llm_settings.models.model_copy(
        update={"ideation": llm_settings.models.ideation.model_copy(update={"supports_tools": False})}
    )
    settings = with_ideation(llm_settings, tool_mode=mode).model_copy(update={"models": models})
    if mode == "tools":
        with pytest.raises(ConfigError, match="supports_tools is false"):
            resolve_tool_mode(settings)
    else:
        assert resolve_tool_mode(settings) == "json"


def test_an_endpoint_failure_keeps_the_ideas_already_finished(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    from agents.errors import ModelCallError

    settings = no_judging(llm_settings, reflections=0)
    settings.literature.semantic_scholar = False
    attempts = settings.llm.max_retries + 1
    scripted_llm.script(
        "ideation/agent",
        tool_calls([{"name": "finalize_idea", "arguments": {"idea": WARMUP}}]),
        *[error(500) for _ in range(attempts)],
    )
    llm = LLM(settings, Ledger(tmp_path / "llm_calls.jsonl"))
    result = generate_ideas(TOPIC, llm, make_literature(settings, tmp_path), settings, num_ideas=3)
    assert [i.title for i in result.ideas] == [WARMUP["title"]]
    assert any(n.startswith("stopped after 1 idea(s)") for n in result.notices)
    scripted_llm.script("ideation/agent", *[error(500) for _ in range(attempts)])
    with pytest.raises(ModelCallError):  # nothing finished: the error is the answer
        generate_ideas(TOPIC, llm, make_literature(settings, tmp_path), settings, num_ideas=1)
