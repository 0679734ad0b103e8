"""``shoal write RUN``: (re-)run just the writeup stage of a run (the logic lives in ``agents.writeup``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape

from agents.cli.common import cli_errors, console, get_settings
from agents.literature.base import LiteratureBackend
from agents.settings import Settings

log = logging.getLogger(__name__)


def make_backend(settings: Settings) -> LiteratureBackend:
    """The configured literature backend: Semantic Scholar, then the local library, then none."""
    from agents.ideation.stage import literature_cache
    from agents.literature.factory import make_literature

    return make_literature(settings, literature_cache(settings))


def write(
    ctx: typer.Context,
    run: Annotated[Path, typer.Argument(help="the run directory (workspace/<stamp>-<slug>)")],
    layout: Annotated[
        Literal["workshop", "conference"] | None,
        typer.Option(help="workshop (4 pages, one column) or conference (8 pages, two columns)"),
    ] = None,
) -> None:
    """Write the paper of RUN again: citations, sections, checks, LaTeX build -> RUN/paper/paper.pdf."""
    from agents.llm import LLM, Ledger
    from agents.rundir import open_run
    from agents.writeup import write_paper

    settings = get_settings(ctx)
    with cli_errors():
        if layout is not None:
            settings.writeup.layout = layout
        rd = open_run(run)
        llm = LLM(settings, Ledger(rd.ledger_path), context={"stage": "writeup"})
        with console.status("writing the paper..."):
            pdf = write_paper(rd, llm, settings, make_backend(settings))
    from agents.writeup import WriteupReport

    r = WriteupReport.model_validate_json((pdf.parent / "report.json").read_text(encoding="utf-8"))
    console.print(f"[green]paper:[/] {escape(str(pdf))}")
    console.print(
        f"{r.pages_body} body pages of {r.page_limit} allowed ({r.pages_total} in all), "
        f"{r.compile_attempts} LaTeX build(s), {r.latex_repairs} repair(s), {len(r.references)} reference(s), "
        f"{len(r.integrity_dropped)} unverified number(s) dropped, {r.seconds:.0f} s; details in paper/report.json",
        highlight=False,
    )
