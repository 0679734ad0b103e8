"""`shoal run`, `shoal runs`, `shoal report` and `shoal resume` through the real CLI and the scripted model."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_support import pipeline_settings, script_pipeline
from typer.testing import CliRunner

from agents.cli.main import app
from agents.testing import ScriptedServer

REPO = Path(__file__).resolve().parents[1]


def _overrides(server: ScriptedServer, tmp_path: Path) -> list[str]:
    settings = pipeline_settings(server, str(tmp_path / "ws"), str(tmp_path / "cache"))
    config = tmp_path / "shoal.toml"
    config.write_text(settings.to_toml())
    return ["--config", str(config)]


@pytest.mark.slow
def test_run_in_template_mode_then_runs_and_report(scripted_llm: ScriptedServer, tmp_path: Path) -> None:
    """The whole pipeline from the command line, stage 1 only, starting from the demo baseline (~30 s)."""
    script_pipeline(scripted_llm)
    args = _overrides(scripted_llm, tmp_path)
    runner = CliRunner()
    result = runner.invoke(
        app,
        [*args, "-q", "run", "--topic", "momentum on least squares", "--num-ideas", "1", "--stages", "1",
         "--max-revisions", "0", "--code-to-use", str(REPO / "configs" / "demo_baseline.py")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "ws").iterdir()
    assert "done." in result.output and "paper/paper.pdf" in result.output
    assert (run / "baseline.py").read_text() == (REPO / "configs" / "demo_baseline.py").read_text()
    assert (run / "paper" / "paper.pdf").is_file() and (run / "report.html").is_file()

    listing = runner.invoke(app, [*args, "runs"])
    assert listing.exit_code == 0 and "done" in listing.output
    (run / "report.html").unlink()
    assert runner.invoke(app, [*args, "report", str(run)]).exit_code == 0
    assert (run / "report.html").is_file()
    again = runner.invoke(app, [*args, "resume", str(run)])  # a finished run: nothing to do, nothing redone
    assert again.exit_code == 0, again.output


def test_bad_run_input_is_one_message(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--workspace", str(tmp_path), "run", "--topic", "   "])
    assert result.exit_code == 2 and "Traceback" not in result.output
    result = runner.invoke(app, ["--workspace", str(tmp_path), "run", "--topic", "x", "--stages", "5"])
    assert result.exit_code == 2 and "--stages" in result.output
    result = runner.invoke(app, ["--workspace", str(tmp_path), "resume", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "does not" in result.output and "shoal runs" in result.output


@pytest.mark.parametrize(
    ("made_by", "message"),
    [
        ("journal.json", "was started by `shoal experiments`; continue its search with `shoal experiments --resume"),
        ("ideas.json", "holds ideas from `shoal ideas`, with nothing to resume; run one with `shoal experiments"),
        (None, "it was not started by `shoal run`, so there is nothing to resume"),
    ],
)
def test_resume_of_a_run_that_shoal_run_did_not_start(tmp_path: Path, made_by: str | None, message: str) -> None:
    from agents.settings import Settings

    run = tmp_path / "r"
    run.mkdir()
    (run / "config.resolved.toml").write_text(Settings().to_toml())
    if made_by:
        (run / made_by).write_text("{}")
    result = CliRunner().invoke(app, ["--workspace", str(tmp_path), "resume", str(run)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert message in " ".join(result.output.split()), result.output
