"""``shoal ideas`` end to end with the scripted model (a configured remote endpoint, used unchanged), the files
it writes, ``--show``, and one clear message for each kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from agents.cli import common
from agents.cli.common import CLIState
from agents.cli.ideas_cmd import ideas
from agents.errors import UserInputError
from agents.ideation.inputs import load_seed_ideas, load_topic, topic_from_markdown
from agents.settings import Settings
from agents.testing import ScriptedServer, json_reply, tool_calls
from tests.ideation_helpers import LABEL_SMOOTHING, WARMUP, with_ideation

WORKSHOP = """# Title: I Can't Believe It's Not Better: Negative Results in Deep Learning

## Keywords
negative results, failure modes, deep learning

## TL;DR
We call for papers on ideas that should have worked but did not.

## Abstract
Deep learning research reports successes. This workshop invites careful studies of methods that failed,
with analysis of why.
"""


def make_app(settings: Settings) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = CLIState(_settings=settings)

    app.command("ideas")(ideas)
    return app


def invoke(settings: Settings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(make_app(settings), ["ideas", *args])
    return result.exit_code, result.output


def offline(settings: Settings) -> Settings:
    settings = with_ideation(settings, reflections=1, judge_threshold=1.0, duplicate_threshold=1.0)
    settings.literature.semantic_scholar = False
    return settings


def test_ideas_writes_json_markdown_and_the_chosen_idea(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common.console, "_width", 200)  # the table is not folded into an 80-column test terminal
    settings = offline(llm_settings)
    better = {**LABEL_SMOOTHING, "feasibility": {"value": 10, "why": "minutes on a CPU"}}
    scripted_llm.script(
        "ideation/agent",
        tool_calls([{"name": "finalize_idea", "arguments": {"idea": WARMUP}}]),
        tool_calls([{"name": "finalize_idea", "arguments": {"idea": better}}]),
    )
    scripted_llm.always("ideation/reflect", json_reply({"critique": "fine", "done": True}))
    topic_file = tmp_path / "topic.md"
    topic_file.write_text(WORKSHOP, encoding="utf-8")
    code, out = invoke(settings, "--topic-file", str(topic_file), "--num-ideas", "2")
    assert code == 0, out
    [run] = list((tmp_path / "workspace").iterdir())
    data = json.loads((run / "ideas.json").read_text())
    assert [i["title"] for i in data["ideas"]] == [WARMUP["title"], LABEL_SMOOTHING["title"]]
    assert data["chosen"] == data["ideas"][1]["name"]
    assert data["topic"]["keywords"] == ["negative results", "failure modes", "deep learning"]
    for idea in data["ideas"]:
        assert (run / "ideas" / f"{idea['name']}.md").is_file()
        assert idea["novelty_check"]["decision"] == "novel" and idea["topic"].startswith("I Can't Believe")
    chosen_md = (run / "idea.md").read_text()
    assert chosen_md.startswith(f"# {LABEL_SMOOTHING['title']}") and "## Novelty check" in chosen_md
    prompt = scripted_llm.requests_for("ideation/agent")[0].messages[-1]["content"]
    assert "Keywords: negative results" in prompt and "TL;DR: We call for papers" in prompt
    assert scripted_llm.requests_for("ideation/agent")[0].body["model"] == "scripted-model"
    events = [json.loads(line)["event"] for line in (run / "events.jsonl").read_text().splitlines()]
    assert events == ["ideation_started", "idea_accepted", "idea_accepted", "ideation_finished"]
    assert (run / "llm_calls.jsonl").is_file() and (run / "config.resolved.toml").is_file()

    code, out = invoke(settings, "--show", str(run))
    assert code == 0, out
    assert "depth_scaled" in out and "novel" in out and "* label_smoothing" in out
    code, out = invoke(settings, "--show", run.name)  # a run name is looked up in the workspace
    assert code == 0 and "label_smoothing" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--topic", "   "], "the topic is empty"),
        ([], "no topic"),
        (["--topic", "x", "--topic-file", "t.md"], "either --topic or --topic-file"),
        (["--topic-file", "missing.md"], "does not exist"),
        (["--topic-file", "."], "is a folder"),
        (["--topic-file", "binary.md"], "is not UTF-8 text"),
        (["--topic-file", "empty.md"], "is empty"),
        (["--topic", "t", "--seed-ideas", "seeds_bad.json"], "is not valid JSON (line 1"),
        (["--topic", "t", "--seed-ideas", "seeds_shape.json"], "expected a JSON list"),
        (["--topic", "t", "--seed-ideas", "seeds_notitle.json"], 'item 1 has no "title"'),
        (["--show", "nowhere"], "does not exist"),
        (["--show", "."], "has no ideas.json"),
    ],
)
def test_bad_input_gets_one_clear_message(
    llm_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "binary.md").write_bytes(b"# Caf\xe9 \x81\x00bad")
    (tmp_path / "empty.md").write_text("  \n", encoding="utf-8")
    (tmp_path / "seeds_bad.json").write_text("{'title': 1}", encoding="utf-8")
    (tmp_path / "seeds_shape.json").write_text('{"ideas": 3}', encoding="utf-8")
    (tmp_path / "seeds_notitle.json").write_text('[{"Title": "ok"}, {"Name": "x"}]', encoding="utf-8")
    code, out = invoke(llm_settings, *args)
    assert code == 2
    assert message in out and "Traceback" not in out
    assert out.count("error:") == 1
    assert not (tmp_path / "workspace").exists()  # nothing is created before the input is valid


def test_seed_ideas_in_ai_scientist_format(tmp_path: Path) -> None:
    path = tmp_path / "seeds.json"
    path.write_text(
        json.dumps(
            [{"Name": "learning_rate_schedule", "Title": "LR schedules", "Experiment": "Compare cosine and step."}]
        ),
        encoding="utf-8",
    )
    [seed] = load_seed_ideas(path)
    assert (seed.name, seed.title, seed.summary) == (
        "learning_rate_schedule",
        "LR schedules",
        "Compare cosine and step.",
    )
    path.write_text(json.dumps({"ideas": [WARMUP]}), encoding="utf-8")
    assert load_seed_ideas(path)[0].summary == WARMUP["hypothesis"]


def test_topic_markdown_without_sections_and_long_sentences() -> None:
    topic = topic_from_markdown("Sparse mixture of experts\n\nRouting collapse in small MoE models on CPUs.")
    assert topic.title == "Sparse mixture of experts" and "Routing collapse" in topic.abstract
    topic = topic_from_markdown("# Robust fine-tuning\nSome text about it.\n## Keywords\n- a\n- b\n")
    assert (
        topic.title == "Robust fine-tuning" and topic.keywords == ["a", "b"] and topic.abstract == "Some text about it."
    )
    long = load_topic("word " * 100, None)
    assert len(long.title) <= 120 and long.title.endswith("...") and long.abstract.count("word") == 100
    with pytest.raises(UserInputError):
        load_topic(None, None)
