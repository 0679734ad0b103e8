"""``shoal ideas``: research ideas for a topic, checked against the literature; ``--show RUN`` lists a run's ideas.

Registered in ``agents/cli/main.py`` as ``app.command("ideas")(ideas_cmd.ideas)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from agents.cli.common import cli_errors, console, err_console, get_settings
from agents.cli.data_opts import DataOpt, GoalOpt, HoldoutOpt, LowerOpt, MetricOpt, TargetOpt, TestOpt, resolve_task
from agents.data.task import DataTask
from agents.errors import UserInputError
from agents.ideation.schema import Idea
from agents.settings import Settings
from agents.terminal import plain


def _run_path(run: Path, workspace: Path) -> Path:
    if run.is_dir():
        return run
    candidate = workspace / run
    if candidate.is_dir():
        return candidate
    raise UserInputError(f"run directory {run} does not exist (looked in . and {workspace})")


def ideas_table(ideas: list[Idea], chosen: str | None, title: str) -> Table:
    table = Table(title=title, show_lines=False)
    for col, kw in (
        ("#", {"justify": "right"}),
        ("name", {"no_wrap": True}),
        ("title", {"overflow": "fold"}),
        ("I", {"justify": "right"}),
        ("F", {"justify": "right"}),
        ("N", {"justify": "right"}),
        ("novelty check", {}),
        ("literature", {}),
    ):
        table.add_column(col, **kw)
    for i, idea in enumerate(ideas, 1):
        check = idea.novelty_check
        top = f" ({check.closest_papers[0].similarity:.2f})" if check.closest_papers else ""
        table.add_row(
            str(i),
            plain(("* " if idea.name == chosen else "") + idea.name),
            plain(idea.title),
            str(idea.interestingness.value),
            str(idea.feasibility.value),
            str(idea.novelty.value),
            check.decision + top,
            plain(", ".join(idea.sources_consulted) or "none"),
        )
    return table


def ideas(
    ctx: typer.Context,
    topic: Annotated[str | None, typer.Option("--topic", help="the research topic as a sentence")] = None,
    topic_file: Annotated[
        Path | None, typer.Option("--topic-file", help="a Markdown topic (# Title, ## Keywords, ## TL;DR, ## Abstract)")
    ] = None,
    num_ideas: Annotated[
        int | None, typer.Option("--num-ideas", min=1, max=50, help="default: ideation.num_ideas")
    ] = None,
    seed_ideas: Annotated[
        Path | None, typer.Option("--seed-ideas", help="JSON list of earlier ideas to differ from")
    ] = None,
    show: Annotated[Path | None, typer.Option("--show", help="list the ideas of an existing run and exit")] = None,
    data: DataOpt = None,
    goal: GoalOpt = None,
    metric: MetricOpt = None,
    lower_is_better: LowerOpt = None,
    target: TargetOpt = None,
    test: TestOpt = None,
    holdout: HoldoutOpt = None,
) -> None:
    """Generate research ideas for a topic (or list a run's ideas with --show RUN)."""
    from agents.rundir import RunDir

    settings = get_settings(ctx)
    with cli_errors():
        if show is not None:
            run_path = _run_path(show, settings.workspace)
            shown = RunDir(run_path)
            found, suggested = shown.ideas()
            chosen = shown.chosen_idea_name() or suggested
            console.print(ideas_table(found, chosen, f"ideas in {run_path}"))
            return
        task = resolve_task(
            topic_file, data=data, goal=goal, metric=metric, lower_is_better=lower_is_better, target=target,
            test=test, holdout=holdout,
        )  # fmt: skip
        _generate(settings, topic, topic_file, num_ideas, seed_ideas, task)


def _generate(
    settings: Settings,
    topic: str | None,
    topic_file: Path | None,
    num_ideas: int | None,
    seeds: Path | None,
    task: DataTask,
) -> None:
    from agents.data.session import check_data, save_data
    from agents.ideation.inputs import load_seed_ideas, load_topic
    from agents.ideation.stage import ideation_stage
    from agents.llm import LLM, Ledger
    from agents.rundir import create_run

    the_topic = load_topic(topic if topic or topic_file or not task.goal else task.goal, topic_file)
    session = check_data(task, settings)  # every data problem is reported here, before any model call
    if session is not None:
        the_topic.data = session.topic_text()
    seed_list = load_seed_ideas(seeds) if seeds is not None else []
    run = create_run(settings, the_topic.title)
    run.write_topic(the_topic)
    save_data(run, session)
    llm = LLM(settings, Ledger(run.ledger_path), context={"stage": "ideation"})
    err_console.print(f"run directory: {run.path}")

    def progress(kind: str, **data: object) -> None:
        run.event(kind, **data)
        if kind.startswith("idea_"):
            detail = data.get("title") or ""
            reason = f" ({data['reason']})" if data.get("reason") else ""
            err_console.print(
                f"idea {data.get('index')}: {kind.removeprefix('idea_')} {detail}{reason}", highlight=False
            )

    outcome = ideation_stage(run, llm, settings, the_topic, num_ideas=num_ideas, seeds=seed_list, on_event=progress)
    if outcome.suggested is not None:  # the choice step of a standalone ideation: ideation's suggestion
        run.choose_idea(outcome.suggested)
    console.print(ideas_table(outcome.ideas, outcome.suggested, f"ideas for: {the_topic.title}"))
    for notice in outcome.notices:
        err_console.print(f"[yellow]note:[/] {notice}")
    console.print(f"wrote {run.ideas_path}" + (f" and idea.md ({outcome.suggested})" if outcome.suggested else ""))
