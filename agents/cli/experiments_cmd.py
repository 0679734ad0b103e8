"""``shoal experiments``: run (or resume) the four-stage experiment search for one idea, with a live view.

Register in ``agents/cli/main.py``::

    from agents.cli.experiments_cmd import experiments
    app.command("experiments")(experiments)
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from agents.cli.common import cli_errors, console, get_settings
from agents.cli.data_opts import DataOpt, GoalOpt, HoldoutOpt, LowerOpt, MetricOpt, TargetOpt, TestOpt, resolve_task
from agents.errors import UserInputError
from agents.terminal import plain


class _Progress:
    """The live view: stage, nodes done / buggy / running, best metric, spend, last event."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}
        self.last = ""
        self._mu = threading.Lock()
        self.live: Live | None = None

    def render(self) -> Table:
        with self._mu:
            s, last = dict(self.state), self.last
        t = Table.grid(padding=(0, 2))
        t.add_row("stage", str(s.get("current_stage") or "-"))
        t.add_row("nodes", f"{s.get('done', 0)} done, {s.get('buggy', 0)} buggy, {s.get('running', 0)} running")
        t.add_row("best", plain(s.get("best", "-")))
        t.add_row("spend", f"${s.get('spend_usd', 0.0):.4f}, {s.get('tokens', 0):,} tokens")
        t.add_row("last", plain(last))
        return t

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        with self._mu:
            if "progress" in data:
                self.state = data["progress"]
            if event == "node_done":
                verdict = f"buggy: {data.get('reason', '')}" if data.get("is_buggy") else data.get("metric", "")
                self.last = f"node {data['id']} ({data['node_kind']}, stage {data['stage']}) {verdict}"[:160]
            elif event == "node_start":
                self.last = f"node {data['id']} ({data['node_kind']}, stage {data['stage']}) running"
            elif event == "note":
                self.last = str(data.get("text", ""))[:160]
        if self.live is not None:
            self.live.update(self.render())


def experiments(
    ctx: typer.Context,
    idea: Annotated[
        str | None, typer.Option("--idea", help="RUN/ideas.json#name: an idea from an ideation run (runs in RUN)")
    ] = None,
    idea_file: Annotated[
        Path | None, typer.Option("--idea-file", help="an idea as JSON (runs in a new run directory)")
    ] = None,
    stages: Annotated[str, typer.Option("--stages", help="stages to run: 1-4, 1, 2-3 ...")] = "1-4",
    code_to_use: Annotated[
        Path | None,
        typer.Option("--code-to-use", help="start stage 1 from this program: a file, or a directory with main.py"),
    ] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="continue the search in this run directory")] = None,
    executor: Annotated[
        str | None, typer.Option("--executor", help="where programs run: local | ray (default: the config's)")
    ] = None,
    data: DataOpt = None,
    goal: GoalOpt = None,
    metric: MetricOpt = None,
    lower_is_better: LowerOpt = None,
    target: TargetOpt = None,
    test: TestOpt = None,
    holdout: HoldoutOpt = None,
) -> None:
    """Run the experiment tree search (initial implementation, tuning, research, ablations) for one idea."""
    from agents.data.idea import idea_from_goal
    from agents.data.session import check_data, save_data
    from agents.experiments.inputs import load_idea_file, load_idea_ref, parse_stages, read_baseline
    from agents.experiments.stage import experiments_stage
    from agents.llm import LLM, Ledger
    from agents.rundir import create_run, open_run
    from agents.sandbox import make_sandbox
    from agents.scale import make_executor

    if executor is not None:
        ctx.find_root().obj.overrides.append(f'executor="{executor}"')
    settings = get_settings(ctx)
    with cli_errors():
        task = resolve_task(
            data=data, goal=goal, metric=metric, lower_is_better=lower_is_better, target=target, test=test,
            holdout=holdout,
        )  # fmt: skip
        given = sum(x is not None for x in (idea, idea_file, resume))
        if given > 1 or (given == 0 and not (task.data_dir and task.goal)):
            raise UserInputError(
                "give exactly one of --idea RUN/ideas.json#name, --idea-file FILE, --resume RUN, "
                "or --data DIR with --goal TEXT"
            )
        if resume is not None and task.active:
            raise UserInputError("--resume continues with the run's own data task; drop --data/--goal/--metric")
        span = parse_stages(stages)
        # before any run directory exists: a Ray cluster that cannot be reached leaves nothing behind
        runner = make_sandbox(settings.sandbox) if settings.executor == "local" else make_executor(settings)
        baseline = read_baseline(code_to_use) if code_to_use is not None else None
        session = check_data(task, settings)  # every data problem is reported here, before any model call
        if session is not None and (note := session.split_note()):
            console.print(plain(note))
        if resume is not None:
            run = open_run(resume)
            if not run.has_journal():
                raise UserInputError(f"{resume} has no experiment journal to resume; start with --idea or --idea-file")
        elif idea is not None:
            run_path, picked = load_idea_ref(idea)
            run = open_run(run_path)
            if run.has_journal():
                raise UserInputError(
                    f"{run_path} already has an experiment search; continue it with --resume {run_path}"
                )
            run.choose_idea(picked.name)  # the choice step of this command
        else:
            if idea_file is not None:
                picked = load_idea_file(idea_file)
            else:
                assert session is not None
                picked = idea_from_goal(session)
            run = create_run(settings, picked.title)
            run.write_ideas({"ideas": [picked.model_dump(mode="json")], "chosen": picked.name})
            run.choose_idea(picked.name)
        save_data(run, session)
        if baseline is not None:
            run.baseline_path.write_text(baseline, encoding="utf-8")
        llm = LLM(settings, Ledger(run.ledger_path), context={"stage": "experiments"})
        progress = _Progress()
        console.print(f"run directory: {run.path}")
        try:
            with Live(progress.render(), console=console, refresh_per_second=4, transient=False) as live:
                progress.live = live
                result = experiments_stage(run, settings, llm, runner, stages=span, on_event=progress)
        except KeyboardInterrupt:
            console.print(f"[yellow]interrupted[/]; continue with: shoal experiments --resume {run.path}")
            raise typer.Exit(130) from None
        finally:
            progress.live = None
    outcome = result.outcome
    if outcome.status != "complete":
        console.print("[red]no working implementation:[/]", plain(outcome.message))
        console.print(f"journal: {run.journal_path}")
        raise typer.Exit(1)
    best = result.best
    console.print("[green]search complete[/]", plain(f"({outcome.message})"))
    if best is not None:
        from agents.experiments.coder import metrics_text

        console.print(plain(f"best node {best.id} (stage {best.stage}, {best.kind}): {metrics_text(best)}"))
        console.print(f"code: {run.node_dir(best.id) / 'code.py'}")
    console.print(f"journal: {run.journal_path}")
