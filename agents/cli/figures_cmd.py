"""``shoal figures RUN``: re-make a run's final figures (plan, script, lint, critique) from its journal.

Registered by the lead in ``agents/cli/main.py``::

    from agents.cli.figures_cmd import figures_command
    app.command("figures")(figures_command)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table


def figures_command(
    ctx: typer.Context,
    run_dir: Annotated[Path, typer.Argument(help="the run directory (workspace/<stamp>-<slug>)")],
    max_figures: Annotated[
        int | None, typer.Option("--max", min=1, max=20, help="cap on figures (default figures.max_final_figures)")
    ] = None,
    rounds: Annotated[
        int | None,
        typer.Option("--rounds", min=1, max=6, help="script/lint/critique rounds (figures.aggregate_rounds)"),
    ] = None,
) -> None:
    """Re-make the final figures of RUN: figures/*.png, *.pdf and figures/captions.json."""
    from agents.cli.common import cli_errors, console, get_settings
    from agents.figures.aggregate import aggregate_figures
    from agents.llm import LLM, Ledger
    from agents.rundir import open_run
    from agents.sandbox import make_sandbox

    settings = get_settings(ctx)
    with cli_errors():
        if max_figures is not None:
            settings.figures.max_final_figures = max_figures
        if rounds is not None:
            settings.figures.aggregate_rounds = rounds
        run = open_run(run_dir)
        llm = LLM(settings, Ledger(run.ledger_path), context={"stage": "figures"})
        llm, meter = llm.metered()
        with console.status("making figures (plan, script, lint, critique)..."):
            captions = aggregate_figures(run, llm, make_sandbox(settings.sandbox), settings)
    table = Table(show_header=True, box=None)
    for col in ("figure", "lint", "critique"):
        table.add_column(col, overflow="fold")
    for f in captions.figures:
        lint = ", ".join(sorted({x.code for x in f.lint})) or "clean"
        table.add_row(escape(f.name), escape(lint), escape(f.critique[:160]))
    console.print(table)
    calls = meter.requests  # requests sent
    console.print(f"{len(captions.figures)} figure(s), {calls} model call(s); see {escape(str(run.figures_dir))}")
