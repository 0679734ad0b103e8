"""The command line, run in-process with typer's runner (real settings, real scripted model server)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from agents.cli.main import app
from agents.testing import ScriptedServer, json_reply

runner = CliRunner()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("SHOAL_CONFIG", "SHOAL_WORKSPACE"):
        monkeypatch.delenv(key, raising=False)


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in ("config", "doctor", "model", "demo"):
        assert cmd in result.output


def test_config_show_resolves_all_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "my.toml"
    cfg.write_text('[models.writer]\nmodel = "from-file"\n[budget]\nmax_usd = 4.0\n')
    monkeypatch.setenv("SHOAL_BUDGET__MAX_TOKENS", "1234")
    result = runner.invoke(
        app, ["--config", str(cfg), "--workspace", "runs", "--set", "budget.max_usd=9", "config", "show"]
    )
    assert result.exit_code == 0, result.output
    data = tomllib.loads(result.output)
    assert data["models"]["writer"]["model"] == "from-file"
    assert data["budget"] == {"max_usd": 9.0, "max_tokens": 1234}
    assert data["workspace"] == "runs"


def test_bad_settings_give_one_clear_message() -> None:
    result = runner.invoke(app, ["--set", "models.coder.temperature=7", "config", "show"])
    assert result.exit_code == 2
    assert "models.coder.temperature" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["--config", "missing.toml", "config", "show"])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_doctor_reports_each_check(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--workspace", str(tmp_path), "doctor", "--offline"])
    for name in (
        "python",
        "pdflatex",
        "latexmk",
        "docker engine",
        "sandbox network",
        "sandbox escape suite",
        "disk space",
    ):
        assert name in result.output
    assert result.exit_code in (0, 1)
    assert ("ready" in result.output) == (result.exit_code == 0)


def test_doctor_fails_on_missing_required_item(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pdflatex, latexmk, ... on PATH
    result = runner.invoke(app, ["--workspace", str(tmp_path), "doctor", "--offline"])
    assert result.exit_code == 1
    assert "FAIL pdflatex" in result.output
    assert "apt-get install" in result.output


def test_demo_runs_through_the_model_layer(scripted_llm: ScriptedServer, tmp_path: Path) -> None:
    answer = {"title": "Warm-up on MLPs", "hypothesis": "Warm-up helps deep MLPs.", "steps": ["a"], "feasibility": 8}
    scripted_llm.script("demo/hello", json_reply(answer))
    result = runner.invoke(
        app,
        [
            "--workspace", str(tmp_path / "ws"),
            "--set", f"models.ideation.base_url={scripted_llm.base_url}",
            "demo", "--topic", "warm-up",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Warm-up on MLPs" in result.output
    (run,) = (tmp_path / "ws").iterdir()
    assert json.loads((run / "demo.json").read_text())["feasibility"] == 8
    ledger = [json.loads(line) for line in (run / "llm_calls.jsonl").read_text().splitlines()]
    assert [(r["prompt"], r["outcome"]) for r in ledger] == [("demo/hello", "ok")]
    assert (run / "config.resolved.toml").is_file()


def test_error_messages_keep_their_brackets(capsys: pytest.CaptureFixture[str]) -> None:
    """A message is text, not rich markup: "[user]" or "ideas.json[2]" must reach the user as written."""
    from agents.cli.common import cli_errors
    from agents.errors import ShoalError

    with pytest.raises(typer.Exit), cli_errors():
        raise ShoalError("set sandbox.min_isolation = [user] or pick ideas.json[2]")
    err = " ".join(capsys.readouterr().err.split())
    assert "sandbox.min_isolation = [user] or pick ideas.json[2]" in err
