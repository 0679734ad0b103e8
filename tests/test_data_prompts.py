"""The user's goal and data card reach ideation (front matter in a workshop file, or options) and the writer;
``shoal run`` stops on bad data input before anything is created."""

from __future__ import annotations

import json
import re
from pathlib import Path

import data_support as D
import pytest
import typer
from typer.testing import CliRunner

from agents.cli.common import CLIState
from agents.cli.ideas_cmd import ideas
from agents.cli.run_cmd import run
from agents.data.session import check_data, data_summary, save_data
from agents.data.task import make_task
from agents.prompts import render_text
from agents.rundir import create_run
from agents.settings import Settings
from agents.testing import ScriptedServer, json_reply, tool_calls
from tests.ideation_helpers import WARMUP, with_ideation

TOPIC = """---
data: ./wine
goal: predict the wine cultivar
metric: accuracy
target: target
holdout: 0.25
---
# Title: Small models for wine chemistry

## Abstract
Which simple models classify wines from their chemistry?
"""


def make_app(settings: Settings) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = CLIState(_settings=settings)

    app.command("ideas")(ideas)
    app.command("run")(run)
    return app


def test_ideas_see_the_goal_and_the_data_card(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    settings = with_ideation(llm_settings, reflections=1, judge_threshold=1.0, duplicate_threshold=1.0)
    settings.literature.semantic_scholar = False
    D.write_dataset("wine", tmp_path / "wine")
    (tmp_path / "topic.md").write_text(TOPIC, encoding="utf-8")
    scripted_llm.script("ideation/agent", tool_calls([{"name": "finalize_idea", "arguments": {"idea": WARMUP}}]))
    scripted_llm.always("ideation/reflect", json_reply({"critique": "fine", "done": True}))
    args = ["ideas", "--topic-file", str(tmp_path / "topic.md"), "--num-ideas", "1"]
    result = CliRunner().invoke(make_app(settings), args)
    assert result.exit_code == 0, result.output
    prompt = scripted_llm.requests_for("ideation/agent")[0].messages[-1]["content"]
    assert "Small models for wine chemistry" in prompt and "data: ./wine" not in prompt
    assert "Goal: predict the wine cultivar" in prompt and "Metric: accuracy (higher is better)" in prompt
    assert "wine.csv (" in prompt and "alcohol (float" in prompt
    m = re.search(r"wine\.csv \([\d.]+ KB, (\d+) rows\): the rows not held out \((\d+) held out by Shoal\)", prompt)
    assert m and int(m[1]) + int(m[2]) == 178 and 30 < int(m[2]) < 60  # the training part's rows, not all 178
    [run_dir] = list((tmp_path / "workspace").iterdir())
    task = json.loads((run_dir / "data_task.json").read_text())
    assert task["data_dir"] == str((tmp_path / "wine").resolve()) and task["holdout"] == 0.25


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "nowhere", "--goal", "g"], "does not exist"),
        (["--data", "wine", "--goal", "g", "--metric", "accuracy", "--target", "colour", "--holdout", "0.2"],
         "--target 'colour'"),
        (["--data", "wine", "--metric", "mape", "--target", "target", "--test", "test.csv"], "unknown metric"),
    ],
)  # fmt: skip
def test_run_stops_on_bad_data_input(
    llm_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    D.write_dataset("wine", tmp_path / "wine")
    D.write_dataset("wine", tmp_path / "elsewhere")
    (tmp_path / "elsewhere" / "wine.csv").rename(tmp_path / "test.csv")
    result = CliRunner().invoke(make_app(llm_settings), ["run", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and result.output.count("error:") == 1
    assert not (tmp_path / "workspace").exists()


def test_writer_sees_the_goal_metric_and_card(llm_settings: Settings, tmp_path: Path) -> None:
    D.write_dataset("diabetes", tmp_path / "d")
    task = make_task(data=tmp_path / "d", goal="predict progression", metric="rmse", target="target", holdout=0.2)
    run_dir = create_run(llm_settings, "t")
    assert data_summary(run_dir) == ""
    save_data(run_dir, check_data(task, llm_settings))
    text = data_summary(run_dir)
    assert "Goal: predict progression" in text and "Metric: rmse (lower is better)" in text and "442 rows" in text
    ctx = {"idea": {"title": "T", "hypothesis": "H"}, "key_results": [], "tables": [], "figures": [], "data": text}
    assert "Goal: predict progression" in render_text("_partials/writeup_context", ctx)
