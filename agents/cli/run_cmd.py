"""``shoal run``, ``shoal resume``, ``shoal runs``, ``shoal report``: the whole pipeline from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Column, Table

from agents.cli.common import cli_errors, console, err_console, get_settings
from agents.cli.data_opts import DataOpt, GoalOpt, HoldoutOpt, LowerOpt, MetricOpt, TargetOpt, TestOpt, resolve_task
from agents.errors import BudgetExceeded, UserInputError
from agents.terminal import plain


def _drive(ctx: typer.Context, run_path: Path, inputs: dict | None, answer: str | None) -> None:
    from agents.llm import LLM, Ledger
    from agents.localmodel.server import stop_shared_servers
    from agents.pipeline.progress import Progress
    from agents.pipeline.runner import drive
    from agents.pipeline.stages import StageContext, make_stage_fns
    from agents.rundir import open_run

    settings = get_settings(ctx)
    quiet = bool(ctx.find_root().params.get("quiet"))
    run = open_run(run_path)
    llm = LLM(settings, Ledger(run.ledger_path))
    resume_cmd = f"shoal resume {run.path}"
    try:
        with Progress(console, llm.ledger, quiet=quiet) as progress:
            stage_ctx = StageContext(run=run, settings=settings, llm=llm, on_event=progress)
            outcome = drive(run, make_stage_fns(stage_ctx), inputs, approval_answer=answer)  # type: ignore[arg-type]
    except BudgetExceeded as exc:
        err_console.print(f"[yellow]stopped:[/] {escape(str(exc))}\nresume with: {resume_cmd} --budget-usd <more>")
        raise typer.Exit(3) from None
    except KeyboardInterrupt:
        err_console.print(f"[yellow]interrupted.[/] Everything finished is kept; resume with: {resume_cmd}")
        raise typer.Exit(130) from None
    finally:
        stop_shared_servers()
    if outcome.status == "awaiting-approval":
        q = outcome.pending_question or {}
        console.print(f"waiting for approval: chosen idea [bold]{q.get('idea_name')}[/] (see {run.ideas_path})")
        console.print(f"approve with: {resume_cmd} --approve   or pick another: {resume_cmd} --idea IDEA_NAME")
        return
    if "figures" not in outcome.done and "experiments" in outcome.done:
        console.print(
            "[yellow]the experiments found no working implementation[/], so no paper was written "
            "(see report.html; a stronger coder model or more stage-1 iterations may help)"
        )
    console.print(f"[green]done.[/] run directory: {run.path}")
    for label, path in (("paper", run.paper_pdf), ("review", run.review_md), ("report", run.report_html)):
        console.print(f"  {label:7} {path if path.is_file() else '(not produced)'}")


def run(
    ctx: typer.Context,
    topic: Annotated[str | None, typer.Option("--topic", help="research topic as a sentence")] = None,
    topic_file: Annotated[Path | None, typer.Option("--topic-file", help="workshop-style topic .md")] = None,
    num_ideas: Annotated[int, typer.Option("--num-ideas", min=1, max=20, help="ideas to generate")] = 2,
    idea: Annotated[str | None, typer.Option("--idea", help="run this idea (by name) instead of the best")] = None,
    stages: Annotated[str, typer.Option("--stages", help="experiment stages, e.g. 1-4 or 1")] = "1-4",
    budget_usd: Annotated[float | None, typer.Option("--budget-usd", min=0, help="stop before spending more")] = None,
    max_revisions: Annotated[int, typer.Option("--max-revisions", min=0, max=3, help="review->rewrite rounds")] = 1,
    approve: Annotated[list[str] | None, typer.Option("--approve", help="pause for approval at: ideas")] = None,
    code_to_use: Annotated[
        Path | None,
        typer.Option("--code-to-use", help="template mode: start from this program (a file or a directory)"),
    ] = None,
    executor: Annotated[
        str | None, typer.Option("--executor", help="where experiment programs run: local | ray (default: config)")
    ] = None,
    data: DataOpt = None,
    goal: GoalOpt = None,
    metric: MetricOpt = None,
    lower_is_better: LowerOpt = None,
    target: TargetOpt = None,
    test: TestOpt = None,
    holdout: HoldoutOpt = None,
) -> None:
    """Run the whole pipeline: topic -> ideas -> experiments -> figures -> paper -> review -> report."""
    from agents.data.session import check_data, save_data
    from agents.experiments.inputs import parse_stages, read_baseline
    from agents.ideation.inputs import load_topic
    from agents.rundir import create_run

    with cli_errors():
        if budget_usd is not None:
            ctx.find_root().obj.overrides.append(f"budget.max_usd={budget_usd}")
        if executor is not None:
            ctx.find_root().obj.overrides.append(f'executor="{executor}"')
        settings = get_settings(ctx)
        task = resolve_task(
            topic_file, data=data, goal=goal, metric=metric, lower_is_better=lower_is_better, target=target,
            test=test, holdout=holdout,
        )  # fmt: skip
        parsed = load_topic(topic if topic or topic_file or not task.goal else task.goal, topic_file)
        session = check_data(task, settings)  # every data problem is reported here, before any model call
        if session is not None and (note := session.split_note()):
            console.print(plain(note))
        if session is not None:
            parsed.data = session.topic_text()
        approvals = list(approve or [])
        if any(a != "ideas" for a in approvals):
            raise UserInputError("--approve takes: ideas")
        span = parse_stages(stages)
        baseline = read_baseline(code_to_use) if code_to_use is not None else None
        # below min_isolation, no experiment environment, a Ray cluster or worker that can't run programs: now
        if settings.executor == "local" or settings.ray.address == "local":
            from agents.sandbox import make_sandbox

            make_sandbox(settings.sandbox)  # this machine runs the programs
        else:
            from agents.scale.ray_executor import RayExecutor

            RayExecutor(settings).close()  # connects, asks each worker node, disconnects
        run_dir = create_run(settings, parsed.title)
        run_dir.write_topic(parsed)
        save_data(run_dir, session)
        if baseline is not None:
            run_dir.baseline_path.write_text(baseline, encoding="utf-8")
        inputs = {
            "topic": parsed.title, "num_ideas": num_ideas, "idea_name": idea, "exp_stages": list(span),
            "approve": approvals, "max_revisions": max_revisions, "revision_round": 0,
        }  # fmt: skip
        console.print(f"run directory: {run_dir.path}")
        _drive(ctx, run_dir.path, inputs, None)


def resume(
    ctx: typer.Context,
    run_path: Annotated[Path, typer.Argument(help="the run directory")],
    approve: Annotated[bool, typer.Option("--approve", help="accept the idea waiting for approval")] = False,
    idea: Annotated[
        str | None,
        typer.Option("--idea", help="choose this idea (by name): at an approval pause, or after a wrong --idea"),
    ] = None,
    budget_usd: Annotated[float | None, typer.Option("--budget-usd", min=0, help="a new USD budget")] = None,
) -> None:
    """Continue a run after a crash, Ctrl-C, a budget stop or an approval pause; finished work is not redone."""
    from agents.rundir import open_run

    with cli_errors():
        run_dir = open_run(run_path)
        root = ctx.find_root().obj
        if root.config is None:  # the run's own settings, then whatever this command line overrides
            root.config = run_dir.config_path
        if budget_usd is not None:
            root.overrides.append(f"budget.max_usd={budget_usd}")
        if run_dir.is_evolve:
            from agents.cli.evolve_cmd import drive as drive_evolve

            drive_evolve(ctx, run_dir.path, fresh=False)
            return
        from agents.pipeline.runner import not_a_pipeline_run, read_info

        if read_info(run_dir) is None:  # before anything is printed: what to run instead
            raise UserInputError(not_a_pipeline_run(run_dir))
        if idea:  # a wrong name is one message and changes nothing: the run still waits for its answer
            run_dir.idea(idea)
        answer = idea if idea else ("" if approve else None)
        _drive(ctx, run_dir.path, None, answer)


def runs(ctx: typer.Context) -> None:
    """List the runs in the workspace: topic, stage, status, best metric, spend."""
    from agents.pipeline.runs import list_runs

    settings = get_settings(ctx)
    rows = list_runs(settings.workspace)
    if not rows:
        console.print(f"no runs in {settings.workspace}")
        return
    # every cell folds onto more lines in a narrow terminal: nothing (a run's name least of all) is cut short
    table = Table(*(Column(h, overflow="fold") for h in ("run", "topic", "stage", "status", "best metric")))
    table.add_column("calls", overflow="fold", justify="right")
    table.add_column("spend", overflow="fold")
    for r in rows:
        table.add_row(r.name, r.topic[:40], r.stage, r.status, r.best_metric, str(r.calls), f"${r.spend_usd:.4f}")
    console.print(table)


def report(ctx: typer.Context, run_path: Annotated[Path, typer.Argument(help="the run directory")]) -> None:
    """(Re)write report.html for a run: idea, search tree, figures, paper, review, costs."""
    from agents.report import write_report
    from agents.rundir import open_run

    with cli_errors():
        path = write_report(open_run(run_path, exclusive=False))  # a report of a run that is still going is fine
    console.print(f"report: {path}")


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command()(resume)
    app.command()(runs)
    app.command()(report)
