"""``shoal evolve PROGRAM --evaluator EVALUATE.py``: evolve the code in a program's EVOLVE-BLOCKs, with a live
view (generation, best score, valid rate, apply rate, spend); ``shoal resume RUN`` continues an evolve run."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from agents.cli.common import cli_errors, console, err_console, get_settings
from agents.terminal import plain


class EvolveProgress:
    """The live view of an evolve run."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}
        self.last = "evaluating the initial program"
        self._mu = threading.Lock()
        self.live: Live | None = None

    def render(self) -> Table:
        with self._mu:
            s, last = dict(self.state), self.last
        best = s.get("best")
        t = Table.grid(padding=(0, 2))
        t.add_row(
            "samples", f"{s.get('samples', 0)} ({s.get('evaluated', 0)} evaluated, {s.get('in_flight', 0)} running)"
        )
        t.add_row("generation", str(s.get("generation", 0)))
        t.add_row("best", f"{best:.6g} ({s.get('best_id')})" if best is not None else "-")
        t.add_row("valid rate", f"{s.get('valid_rate', 0.0):.0%}")
        t.add_row("apply rate", f"{s.get('apply_rate', 0.0):.0%}")
        t.add_row("mix", ", ".join(f"{k} {v:.0%}" for k, v in (s.get("mix") or {}).items()))
        t.add_row("spend", f"${s.get('spend_usd', 0.0):.4f}, {s.get('tokens', 0):,} tokens, {s.get('calls', 0)} calls")
        t.add_row("last", plain(last))
        return t

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        with self._mu:
            self.state = data.get("progress", self.state)
            if event == "evaluated":
                verdict = f"{data['score']:.6g}" if data.get("correct") else "invalid"
                self.last = f"sample {data['sample']} ({data['op']}) -> {data['id']}: {verdict}"
            elif event == "proposing":
                self.last = f"sample {data['sample']}: {data['op']} of {data['parent']} on island {data['island']}"
            elif event == "discarded":
                self.last = f"sample {data['sample']} {data['outcome']}: {data.get('detail', '')}"[:160]
            elif event in ("migrated", "scratchpad", "initial"):
                self.last = f"{event}: {data.get('moved', data.get('notes', data.get('score', '')))}"[:160]
        if self.live is not None:
            self.live.update(self.render())


@contextmanager
def _null() -> Iterator[None]:
    yield


def drive(ctx: typer.Context, run_path: Path, fresh: bool) -> None:
    """Run (or continue) the evolve run in ``run_path`` with the live view; exits non-zero on a stop."""
    from agents.errors import ConfigError, UserInputError
    from agents.evolve import make_engine
    from agents.localmodel.server import stop_shared_servers
    from agents.rundir import open_run
    from agents.sandbox import make_sandbox

    settings = get_settings(ctx)
    quiet = bool(ctx.find_root().params.get("quiet"))
    progress = EvolveProgress()
    with cli_errors():
        run = open_run(run_path)
        try:  # a sandbox that cannot run here, or an unusable initial program: no run is left behind
            engine = make_engine(run, settings, make_sandbox(settings.sandbox), on_event=progress)
            with console.status("evaluating the initial program...", spinner="dots") if not quiet else _null():
                engine.start()
        except (UserInputError, ConfigError):
            if fresh:
                shutil.rmtree(run.path, ignore_errors=True)
            raise
        if fresh:
            console.print(f"run directory: {run.path}")
        try:
            if quiet:
                outcome = engine.run()
            else:
                with Live(progress.render(), console=console, refresh_per_second=2, transient=False) as live:
                    progress.live = live
                    outcome = engine.run()
        except KeyboardInterrupt:
            err_console.print(
                f"[yellow]interrupted.[/] Evaluated programs are kept; resume with: shoal resume {run.path}"
            )
            raise typer.Exit(130) from None
        finally:
            progress.live = None
            stop_shared_servers()
    stats = outcome.stats
    if outcome.status in ("budget", "error"):
        err_console.print(f"[yellow]stopped ({outcome.status}):[/]", plain(outcome.message))
        err_console.print(f"resume with: shoal resume {run.path}")
        raise typer.Exit(3 if outcome.status == "budget" else 1)
    console.print(f"[green]done[/] ({outcome.status}):", plain(outcome.message))
    console.print(
        f"valid rate {stats['valid_rate']:.0%}, apply rate {stats['apply_rate']:.0%}, "
        f"{stats['calls']} model calls, ${stats['spend_usd']:.4f}"
    )
    if stats.get("best_id"):
        console.print(f"best program: {run.evolve_dir / 'programs' / stats['best_id'] / 'program.py'}")
    console.print(f"run directory: {run.path}   (shoal report {run.path} draws it)")


def evolve(
    ctx: typer.Context,
    program: Annotated[Path, typer.Argument(help="the initial program, with EVOLVE-BLOCK-START/END markers")],
    evaluator: Annotated[Path, typer.Option("--evaluator", help="EVALUATE.py: scores a candidate into metrics.json")],
    max_samples: Annotated[int | None, typer.Option("--max-samples", min=0, help="proposals to make")] = None,
    time_budget: Annotated[
        float | None, typer.Option("--time-budget", min=0.1, help="minutes before no new proposal starts")
    ] = None,
    budget_usd: Annotated[float | None, typer.Option("--budget-usd", min=0, help="stop before spending more")] = None,
) -> None:
    """Evolve the code between EVOLVE-BLOCK markers with models, ShinkaEvolve style, scored by your evaluator."""
    from agents.evolve import create_evolve_run

    overrides = ctx.find_root().obj.overrides
    if max_samples is not None:
        overrides.append(f"evolve.max_samples={max_samples}")
    if time_budget is not None:
        overrides.append(f"evolve.time_budget_min={time_budget}")
    if budget_usd is not None:
        overrides.append(f"budget.max_usd={budget_usd}")
    settings = get_settings(ctx)
    with cli_errors():
        run = create_evolve_run(settings, program, evaluator)
    drive(ctx, run.path, fresh=True)
