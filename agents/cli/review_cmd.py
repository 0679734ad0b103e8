"""``shoal review`` and ``shoal review-eval``: thin CLI over the ``reviewer`` package.

Register in agents/cli/main.py with::

    from agents.cli import review_cmd
    app.command("review")(review_cmd.review)
    app.command("review-eval")(review_cmd.review_eval)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agents.cli.common import cli_errors, console, err_console, get_settings
from agents.errors import UserInputError
from agents.llm import LLM, Ledger
from agents.settings import Settings

app = typer.Typer(help="Automated reviewer: review papers, score folders, calibrate against human decisions.")


def _apply(settings: Settings, reviews: int | None, reflections: int | None, no_blind: bool) -> None:
    if reviews is not None:
        settings.review.num_reviews = reviews
    if reflections is not None:
        settings.review.num_reflections = reflections
    if no_blind:
        settings.review.blind = False


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[current]}"),
        console=err_console,
    )


@app.command("review")
def review(
    ctx: typer.Context,
    target: Annotated[Path, typer.Argument(help="a paper (.pdf .tex .md .txt) or a folder of papers")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="paper: output folder (default ./reviews/<name>/); folder: CSV (default scores.csv)"
        ),
    ] = None,
    reviews: Annotated[int | None, typer.Option("--reviews", help="ensemble size (review.num_reviews)")] = None,
    reflections: Annotated[
        int | None, typer.Option("--reflections", help="reflection rounds (review.num_reflections)")
    ] = None,
    no_blind: Annotated[bool, typer.Option("--no-blind", help="do not remove author/decision cues")] = False,
) -> None:
    """Review one paper, or score every paper in a folder into a CSV (resumable)."""
    from reviewer.batch import paper_files, review_directory
    from reviewer.ingest import load_paper
    from reviewer.pipeline import review_paper

    settings = get_settings(ctx)
    with cli_errors():
        _apply(settings, reviews, reflections, no_blind)
        if target.is_dir():
            out_csv = out or Path("scores.csv")
            files = paper_files(target)
            if not files:
                raise UserInputError(f"{target}: no .pdf/.tex/.md/.txt files to review")
            ledger = Ledger(out_csv.parent / f"{out_csv.stem}_reviews" / "llm_calls.jsonl")
            llm = LLM(settings, ledger, context={"stage": "review"})
            with _progress() as bar:
                task = bar.add_task("reviewing", total=len(files), current="")

                def tick(path: Path, status: str) -> None:
                    bar.update(task, advance=1, current=f"{path.name}: {status}")

                summary = review_directory(target, out_csv, llm, settings, files=files, on_progress=tick)
            console.print(
                f"{summary.reviewed} reviewed, {summary.skipped} already done, {summary.failed} failed -> {out_csv}"
            )
            if summary.failed:
                raise typer.Exit(1)
            return
        load_paper(target, max_file_mb=settings.review.max_file_mb, max_pages=settings.review.max_pages)  # fail early
        out_dir = out or Path("reviews") / target.stem
        llm = LLM(settings, Ledger(out_dir / "llm_calls.jsonl"), context={"stage": "review"})
        outcome = review_paper(target, llm, settings, out_dir)
    table = Table(title=f"{outcome.title or outcome.paper}")
    table.add_column("score")
    table.add_column("mean", justify="right")
    table.add_column("spread", justify="right")
    for name, stats in outcome.aggregate.scores.items():
        table.add_row(name, f"{stats.mean:.2f}", f"{stats.min}-{stats.max}" if stats.min != stats.max else "-")
    table.add_row("decision", outcome.decision, f"{outcome.aggregate.accept_votes}/{outcome.aggregate.n_reviews}")
    console.print(table)
    for req in outcome.revision_requests[:5]:
        console.print(f"  - {req}")
    console.print(
        f"{len(outcome.reviews)} review(s), {outcome.seconds:.0f} s, {outcome.tokens_in}+{outcome.tokens_out} tokens"
        f" -> {out_dir / 'review.md'}"
    )


@app.command("review-eval")
def review_eval(
    ctx: typer.Context,
    labels: Annotated[Path, typer.Option("--labels", help="JSON lines: paper_id, accept, mean_rating, split")],
    texts: Annotated[Path, typer.Option("--texts", help="folder with <paper_id>.txt (or .pdf/.md/.tex)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for scores_*.csv, calibration.json")] = Path(
        "review-eval"
    ),
    split: Annotated[str, typer.Option("--split", help="evaluation split")] = "dev40",
    fit_split: Annotated[str, typer.Option("--fit-split", help="split the Overall threshold is fitted on")] = "train",
    limit: Annotated[int | None, typer.Option("--limit", help="papers per split (balanced)")] = None,
    fit_limit: Annotated[
        int | None, typer.Option("--fit-limit", help="papers of the fit split (default: --limit)")
    ] = None,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="bootstrap resamples for the 95% intervals")] = 1000,
    no_model: Annotated[
        bool, typer.Option("--no-model", help="review nothing; report existing scores + leak baseline")
    ] = False,
) -> None:
    """Agreement of the reviewer with human decisions and ratings, with the leak-detector baseline."""
    from reviewer.calibrate import evaluate, report_lines

    settings = get_settings(ctx)
    with cli_errors():
        llm = None if no_model else LLM(settings, Ledger(out / "llm_calls.jsonl"), context={"stage": "review-eval"})
        with _progress() as bar:
            task = bar.add_task("reviewing", total=None, current="")

            def tick(path: Path, status: str) -> None:
                bar.update(task, advance=1, current=f"{path.name}: {status}")

            report = evaluate(
                labels, texts, out, llm, settings, eval_split=split, fit_split=fit_split, limit=limit,
                fit_limit=fit_limit, n_boot=bootstrap, on_progress=tick,
            )  # fmt: skip
    table = Table(title=f"review-eval on {split} (threshold {report.threshold_source or 'n/a'})")
    for col in ("what", "metric", "value [95% CI]"):
        table.add_column(col)
    for row in report_lines(report):
        table.add_row(*row)
    console.print(table)
    if report.failed:
        console.print(f"{len(report.failed)} paper(s) failed to review: {', '.join(report.failed[:5])}")
    console.print(f"-> {out / 'calibration.json'}")
