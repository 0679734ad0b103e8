"""The chosen idea is decided once, by the choice step, and every later artefact is about it: `shoal run` with two
ideas and ``--idea`` set to the second; and a wrong name at the approval pause (scripted model, real sandbox,
real pdflatex)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from ideation_helpers import LABEL_SMOOTHING, WARMUP
from pipeline_support import pipeline_settings, script_pipeline
from typer.testing import CliRunner

from agents.cli.main import app
from agents.pipeline.runner import read_info
from agents.rundir import RunDir
from agents.testing import RecordedRequest, Reply, ScriptedServer, json_reply, text, tool_calls

SECOND_TITLE = LABEL_SMOOTHING["title"]


def _user(req: RecordedRequest) -> str:
    return " ".join(str(m.get("content", "")) for m in req.messages if m.get("role") == "user")


def _abstract(req: RecordedRequest) -> Reply:
    """The abstract names the idea its prompt carries (so the test sees which idea the writer was given)."""
    title = re.search(r"Paper title: (.+)", _user(req))
    return text(f"We study {title.group(1).strip() if title else 'nothing'} with an automated experiment search.")


def _plan(req: RecordedRequest) -> Reply:
    user = _user(req)
    title = re.search(r"Research idea: (.+)", user)
    return json_reply(
        {
            "figures": [
                {
                    "name": "fig_training_curves",
                    "description": "training MSE per step",
                    "nodes": re.findall(r"id=(\w+)", user)[:4],
                    "caption": f"Training curves for {title.group(1).strip() if title else 'the idea'}.",
                }
            ]
        }
    )


def _script(server: ScriptedServer) -> None:
    script_pipeline(server)
    server.script(
        "ideation/agent",
        tool_calls([{"name": "finalize_idea", "arguments": {"idea": WARMUP}}]),
        tool_calls([{"name": "finalize_idea", "arguments": {"idea": LABEL_SMOOTHING}}]),
    )
    server.always("writeup/abstract", _abstract)
    server.always("figures/aggregate_plan", _plan)


def _args(server: ScriptedServer, tmp_path: Path) -> list[str]:
    settings = pipeline_settings(server, str(tmp_path / "ws"), str(tmp_path / "cache"))
    config = tmp_path / "shoal.toml"
    config.write_text(settings.to_toml())
    return ["--config", str(config), "-q"]


RUN = ["run", "--topic", "momentum on least squares", "--num-ideas", "2", "--stages", "1", "--max-revisions", "0"]


@pytest.mark.slow
def test_run_with_the_second_idea_writes_about_the_second_idea(scripted_llm: ScriptedServer, tmp_path: Path) -> None:
    _script(scripted_llm)
    second = "label_smoothing_for_calibratio"  # the schema's normalised name of LABEL_SMOOTHING
    result = CliRunner().invoke(app, [*_args(scripted_llm, tmp_path), *RUN, "--idea", second])
    assert result.exit_code == 0, result.output
    (path,) = (tmp_path / "ws").iterdir()
    run = RunDir(path)
    ideas, suggested = run.ideas()
    assert [i.name for i in ideas] == ["depth_scaled_learning_rate_war", second] and suggested != second
    assert run.chosen_idea().name == second
    assert run.journal().idea["name"] == second  # type: ignore[index]
    tex = (run.paper_dir / "paper.tex").read_text()
    assert f"\\title{{{SECOND_TITLE}}}" in tex or SECOND_TITLE in tex.split("\\begin{abstract}")[0]
    abstract = tex.split("\\begin{abstract}")[1].split("\\end{abstract}")[0]
    assert SECOND_TITLE in abstract and WARMUP["title"] not in tex
    captions = json.loads(run.captions_path.read_text())["figures"]
    assert captions and all(SECOND_TITLE in f["caption"] for f in captions)
    html = run.report_html.read_text()
    assert SECOND_TITLE in html.split("<body")[1][:3000] and "status: done" in html
    assert "where it came from" in html  # provenance: every number of the paper with its source
    assert run.writeup_findings()["numbers"]
    notes = html.split("Stage decisions")[1].split("</ul>")[0]
    assert "over 3 seed(s): train_mse synthetic" in notes and "{'" not in notes and "['" not in notes


@pytest.mark.slow
def test_a_wrong_name_at_the_approval_changes_nothing(scripted_llm: ScriptedServer, tmp_path: Path) -> None:
    _script(scripted_llm)
    args = _args(scripted_llm, tmp_path)
    runner = CliRunner()
    paused = runner.invoke(app, [*args, *RUN, "--approve", "ideas"])
    assert paused.exit_code == 0 and "waiting for approval" in paused.output, paused.output
    (path,) = (tmp_path / "ws").iterdir()
    run = RunDir(path)
    before = sorted(p.name for p in path.iterdir())
    wrong = runner.invoke(app, [*args, "resume", str(path), "--idea", "labelsmoothing"])
    assert wrong.exit_code == 2 and "no idea named 'labelsmoothing'" in wrong.output
    assert "label_smoothing_for_calibratio" in wrong.output and "Traceback" not in wrong.output
    assert sorted(p.name for p in path.iterdir()) == before and not run.chosen_idea_path.exists()
    assert read_info(run).status == "awaiting-approval"  # type: ignore[union-attr]
    right = runner.invoke(app, [*args, "resume", str(path), "--idea", "label_smoothing_for_calibratio"])
    assert right.exit_code == 0, right.output
    assert run.chosen_idea().title == SECOND_TITLE and read_info(run).status == "done"  # type: ignore[union-attr]
