"""``shoal figures RUN`` through typer's CliRunner on a real journal, with the scripted model server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import typer
from figures_support import build_journal, local_sandbox
from typer.testing import CliRunner

from agents.cli.common import CLIState
from agents.cli.figures_cmd import figures_command
from agents.rundir import create_run
from agents.settings import ROLES, Settings
from agents.testing import ScriptedServer, malformed_json


def make_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Test root (keeps `figures` a sub-command)."""

    app.command("figures")(figures_command)
    return app


def state_for(server: ScriptedServer, tmp_path: Path) -> CLIState:
    overrides = [f"models.{r}.base_url={server.base_url}" for r in ROLES]
    overrides += ["llm.backoff_base_s=0", "llm.max_repairs=0", "sandbox.backend=local"]
    return CLIState(overrides=overrides, workspace=tmp_path / "ws")


@pytest.mark.slow
def test_figures_command_remakes_figures(scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path) -> None:
    """Builds a real journal (7 sandboxed runs) and runs the deterministic figure script (~9 s)."""
    run = create_run(llm_settings, "cli figures")
    build_journal(run.path, local_sandbox())
    scripted_llm.script("figures/aggregate_plan", malformed_json())  # an unusable plan: deterministic figures
    result = CliRunner().invoke(
        make_app(), ["figures", str(run.path), "--max", "3"], obj=state_for(scripted_llm, tmp_path)
    )
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "fig_metric_comparison" in out and "2 figure(s), 1 model call(s)" in out, out
    assert (run.path / "figures" / "captions.json").is_file()
    shutil.rmtree(run.path / "figures")


def test_figures_command_on_a_missing_run_is_one_clear_error(scripted_llm: ScriptedServer, tmp_path: Path) -> None:
    result = CliRunner().invoke(make_app(), ["figures", str(tmp_path / "nope")], obj=state_for(scripted_llm, tmp_path))
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert "does not exist" in out and "Traceback" not in out
