"""``shoal experiments`` through typer's CliRunner: inputs, a stage-1 run with the scripted model and the real
sandbox, resume, and clean messages for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import exp_support as S
import pytest
import typer
from typer.testing import CliRunner

from agents.cli.experiments_cmd import experiments
from agents.errors import UserInputError
from agents.experiments.inputs import load_idea_file, load_idea_ref, parse_stages
from agents.experiments.journal import Journal
from agents.pipeline.runs import list_runs
from agents.settings import ROLES
from agents.testing import ScriptedServer

app = typer.Typer()
app.command("experiments")(experiments)
app.command("noop")(lambda: None)  # a second command keeps "experiments" a sub-command


@pytest.fixture
def cli_env(scripted_llm: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for role in ROLES:
        monkeypatch.setenv(f"SHOAL_MODELS__{role.upper()}__BASE_URL", scripted_llm.base_url)
        monkeypatch.setenv(f"SHOAL_MODELS__{role.upper()}__MODEL", "scripted-model")
    monkeypatch.setenv("SHOAL_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("SHOAL_SANDBOX__BACKEND", "local")
    monkeypatch.setenv("SHOAL_SEARCH__NUM_DRAFTS", "1")
    monkeypatch.setenv("SHOAL_SEARCH__NUM_SEEDS", "1")
    monkeypatch.setenv("SHOAL_SEARCH__DEBUG_PROB", "1.0")
    monkeypatch.setenv("SHOAL_SEARCH__STAGE_ITERS", "[3, 1, 1, 1]")
    monkeypatch.delenv("SHOAL_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_parse_stages() -> None:
    assert parse_stages("1-4") == (1, 4) and parse_stages("1") == (1, 1) and parse_stages(" 2-3 ") == (2, 3)
    for bad in ("0", "3-2", "1-5", "x", "1-2-3", ""):
        with pytest.raises(UserInputError, match="--stages"):
            parse_stages(bad)


def test_load_ideas(tmp_path: Path) -> None:
    other = {**S.IDEA, "name": "other"}
    (tmp_path / "ideas.json").write_text(json.dumps({"ideas": [S.IDEA, other]}))
    run, idea = load_idea_ref(f"{tmp_path}/ideas.json#other")
    assert run == tmp_path and idea.name == "other"
    assert load_idea_ref(f"{tmp_path}#momentum_gd")[1].name == "momentum_gd"
    with pytest.raises(UserInputError, match="choose one with #name"):
        load_idea_ref(str(tmp_path / "ideas.json"))
    with pytest.raises(UserInputError, match="no idea named 'x'"):
        load_idea_ref(f"{tmp_path}/ideas.json#x")
    (tmp_path / "one.json").write_text(json.dumps(S.IDEA))
    assert load_idea_file(tmp_path / "one.json").title == S.IDEA["title"]
    (tmp_path / "bad.json").write_text(json.dumps({"name": "x"}))
    with pytest.raises(UserInputError, match="not a valid idea"):
        load_idea_file(tmp_path / "bad.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(UserInputError, match="not valid JSON"):
        load_idea_file(tmp_path / "broken.json")


def test_cli_runs_stage_1_and_resumes(cli_env: Path, scripted_llm: ScriptedServer) -> None:
    from pipeline_support import CRITIQUE, NODE_PLOT

    S.Coder().install(scripted_llm)
    scripted_llm.always("feedback/review", S.review_ok)
    scripted_llm.always("experiments/proposals", S.proposals)
    scripted_llm.always("figures/node_plot", S.text(NODE_PLOT))  # the same entry as `shoal run`: per-node plots
    scripted_llm.always("figures/fix_plot", S.text(NODE_PLOT))
    scripted_llm.always("figures/critic_text", S.json_reply(CRITIQUE))
    (cli_env / "idea.json").write_text(json.dumps(S.IDEA))
    result = CliRunner().invoke(app, ["experiments", "--idea-file", "idea.json", "--stages", "1"])
    assert result.exit_code == 0, result.output
    assert "search complete" in result.output and "best node" in result.output
    (run,) = (cli_env / "ws").iterdir()
    j = Journal.load(run / "journal.json")
    assert [n.kind for n in j.nodes] == ["draft", "debug", "seed"]
    assert j.nodes[1].plots_status == "ok" and j.nodes[1].plots and j.nodes[1].plot_critique
    assert json.loads((run / "ideas.json").read_text())["ideas"][0]["name"] == "momentum_gd"
    (row,) = list_runs(cli_env / "ws")  # `shoal runs` knows a run made by `shoal experiments` alone
    assert (row.topic, row.stage, row.status) == (S.IDEA["title"], "experiments 1", "done")
    assert row.best_metric and row.calls > 0
    again = CliRunner().invoke(app, ["experiments", "--idea", f"{run}/ideas.json#momentum_gd"])
    assert again.exit_code == 2 and "already has an experiment search" in again.output
    resumed = CliRunner().invoke(app, ["experiments", "--resume", str(run), "--stages", "1-2"])
    assert resumed.exit_code == 0, resumed.output
    j2 = Journal.load(run / "journal.json")
    assert [r.stage for r in j2.stages] == [1, 2] and j2.nodes[:3] == j.nodes
    assert any(n.kind == "tune" for n in j2.nodes)


def test_cli_template_mode_and_failure_exit(cli_env: Path, scripted_llm: ScriptedServer) -> None:
    scripted_llm.always("coder/patch", lambda r: S.text(S.patch("w = undefined_name", "w = still_undefined")))
    scripted_llm.always("coder/edit", lambda r: S.text(S.fenced(S.program(bug=True))))
    (cli_env / "ideas.json").write_text(json.dumps({"ideas": [S.IDEA]}))
    (cli_env / "config.resolved.toml").write_text("")
    (cli_env / "base.py").write_text(S.program(bug=True))
    args = ["experiments", "--idea", "ideas.json#momentum_gd", "--code-to-use", "base.py", "--stages", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "no working implementation" in result.output, result.output
    j = Journal.load(cli_env / "journal.json")
    assert j.nodes[0].model == "user" and (cli_env / "baseline.py").read_text() == S.program(bug=True)
    assert len(j.nodes) == 3 and all(n.is_buggy for n in j.nodes)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["experiments"], "exactly one of"),
        (["experiments", "--idea-file", "missing.json"], "does not exist"),
        (["experiments", "--resume", "nowhere"], "does not exist"),
        (["experiments", "--idea-file", "x.json", "--stages", "5"], "--stages"),
        (["experiments", "--idea-file", "x.json", "--code-to-use", "nope.py"], "--code-to-use nope.py does not exist"),
    ],
)
def test_cli_bad_input_is_one_clear_message(cli_env: Path, args: list[str], message: str) -> None:
    (cli_env / "x.json").write_text(json.dumps(S.IDEA))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
