"""``shoal``: the command-line entry point. Sub-commands stay thin and call the library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel, Field

from agents import __version__
from agents.cli import (
    evolve_cmd,
    experiments_cmd,
    figures_cmd,
    ideas_cmd,
    review_cmd,
    run_cmd,
    sandbox_cmd,
    write_cmd,
)
from agents.cli.common import CLIState, cli_errors, console, get_settings, setup_logging
from agents.cli.model_cmd import model_app
from agents.runlock import release_all
from agents.terminal import plain

app = typer.Typer(
    name="shoal",
    help="Shoal: an autonomous AI-Scientist pipeline (ideas -> experiments -> paper -> review).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect the resolved settings.", no_args_is_help=True)
app.add_typer(config_app, name="config")


def _version(value: bool) -> None:
    if value:
        console.print(f"shoal {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML config file (default: $SHOAL_CONFIG or ./shoal.toml)")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="override a setting, e.g. --set budget.max_usd=2 (repeatable)")
    ] = None,
    workspace: Annotated[
        Path | None, typer.Option("--workspace", "-w", help="where runs live (default ./workspace; $SHOAL_WORKSPACE)")
    ] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="more log output (-vv for debug)")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="warnings and errors only")] = False,
    version: Annotated[
        bool | None, typer.Option("--version", callback=_version, is_eager=True, help="print the version")
    ] = None,
) -> None:
    setup_logging(verbose, quiet)
    ctx.obj = CLIState(config=config, overrides=list(set_ or []), workspace=workspace)
    ctx.call_on_close(release_all)  # the run a command held is free again when it ends


@config_app.command("show")
def config_show(ctx: typer.Context) -> None:
    """Print every setting as resolved from defaults, config file, SHOAL_ environment and --set."""
    settings = get_settings(ctx)
    console.print(settings.to_toml(), markup=False, highlight=False, soft_wrap=True)


@app.command()
def doctor(
    ctx: typer.Context,
    offline: Annotated[bool, typer.Option(help="skip network probes (endpoints, Semantic Scholar)")] = False,
) -> None:
    """Check this machine: Python, models, LaTeX, sandbox isolation, Docker, literature access, disk."""
    from agents.doctor import required_failures, run_checks

    settings = get_settings(ctx)
    with cli_errors():
        checks = run_checks(settings, probe_network=not offline)
    marks = {"ok": "[green]ok  [/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}
    for c in checks:
        name = c.name if c.required else f"{c.name} (optional)"
        console.print(f"{marks[c.status]} {name}: {c.detail}", highlight=False)
        if c.fix and c.status != "ok":
            console.print(f"       fix: {c.fix}", highlight=False, style="dim")
    failed = required_failures(checks)
    if failed:
        console.print(f"[red]{len(failed)} required item(s) missing:[/] {', '.join(c.name for c in failed)}")
        raise typer.Exit(1)
    console.print("[green]ready[/]")


class DemoAnswer(BaseModel):
    """The demo's structured answer (a real call through the model layer)."""

    title: str = Field(min_length=3, max_length=200)
    hypothesis: str = Field(min_length=10)
    steps: list[str] = Field(min_length=1, max_length=6)
    feasibility: int = Field(ge=1, le=10)


@app.command()
def demo(
    ctx: typer.Context,
    topic: Annotated[str, typer.Option(help="research topic")] = "learning-rate warm-up for small MLPs",
) -> None:
    """Run a small job on the configured models (the embedded local model by default) and print the result."""
    from agents.llm import LLM, Ledger
    from agents.rundir import create_run

    settings = get_settings(ctx)
    with cli_errors():
        run = create_run(settings, f"demo {topic}")
        llm = LLM(settings, Ledger(run.ledger_path), context={"stage": "demo"})
        with console.status("asking the model (the embedded model loads in a few seconds)..."):
            answer = llm.structured("ideation", "demo/hello", DemoAnswer, {"topic": topic})
    (run.path / "demo.json").write_text(answer.model_dump_json(indent=2), encoding="utf-8")
    console.print(plain(answer.title, style="bold"), f" (feasibility {answer.feasibility}/10)")
    console.print("hypothesis:", plain(answer.hypothesis))
    for i, step in enumerate(answer.steps, 1):
        console.print(f"  {i}.", plain(step))
    t = llm.ledger.totals()
    console.print(f"\n{t.calls} model call(s), {t.tokens_in} tokens in / {t.tokens_out} out, ${t.cost_usd:.4f}")
    console.print(f"run directory: {run.path}")


app.add_typer(model_app, name="model")
app.add_typer(sandbox_cmd.sandbox_app, name="sandbox")
app.command("ideas")(ideas_cmd.ideas)
app.command("experiments")(experiments_cmd.experiments)
app.command("figures")(figures_cmd.figures_command)
app.command("write")(write_cmd.write)
app.command("review")(review_cmd.review)
app.command("review-eval")(review_cmd.review_eval)
app.command("review-train")(review_cmd.review_train)
app.command("evolve")(evolve_cmd.evolve)
run_cmd.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
