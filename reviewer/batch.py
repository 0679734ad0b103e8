"""Batch scoring: ``shoal review DIR --out scores.csv``.

Every paper file in DIR (``.pdf .tex .md .txt``, sorted, not recursive) is reviewed; one CSV row per paper
(the final decision under ``review.decision_rule``, the written review's decision and scores, and the score
head's P(accept), rating, decision and top features), rewritten after each paper, so an interrupted batch
resumes where it stopped: papers with ``status == ok`` in an existing CSV are skipped, failed ones are tried
again. A bad file (corrupt, encrypted, scanned, ...) gets
``status = error`` and its one-line message; the batch goes on. Each paper's review.json/review.md goes to
``<csv stem>_reviews/<paper name>/``.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from agents.errors import BudgetExceeded, ShoalError
from agents.llm import LLM
from agents.settings import Settings
from reviewer.form import NUMERIC_FIELDS
from reviewer.head import HeadScore
from reviewer.ingest import SUFFIXES
from reviewer.pipeline import ReviewOutcome, review_paper

log = logging.getLogger(__name__)

HEAD_COLUMNS = ["head_p_accept", "head_rating", "head_decision", "head_top"]
COLUMNS = [
    "paper",
    "status",
    "error",
    "decision",
    "decision_rule",
    "review_decision",
    *HEAD_COLUMNS,
    *NUMERIC_FIELDS,
    "overall_std",
    "n_reviews",
    "seconds",
    "tokens_in",
    "tokens_out",
]


class BatchSummary(BaseModel):
    total: int
    reviewed: int
    skipped: int
    failed: int
    csv: Path


def paper_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


def _few(names: list[str], n: int = 5) -> str:
    return ", ".join(names[:n]) + (", ..." if len(names) > n else "")


def not_papers(directory: Path) -> str:
    """What a folder holds that is not reviewed (other file types, subfolders), as one line; "" when nothing."""
    others = sorted(p.name for p in directory.iterdir() if p.is_file() and p.suffix.lower() not in SUFFIXES)
    folders = sorted(p.name + "/" for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
    parts = []
    if others:
        parts.append(f"{len(others)} file(s) of another type ({_few(others)}; .pdf, .tex, .md and .txt are read)")
    if folders:
        parts.append(f"{len(folders)} subfolder(s) ({_few(folders)}; give each as its own folder)")
    return f"not reviewed: {'; '.join(parts)}" if parts else ""


def read_rows(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as fh:
        return {row["paper"]: row for row in csv.DictReader(fh) if row.get("paper")}


def write_rows(path: Path, rows: dict[str, dict[str, str]], columns: list[str] | None = None) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns or COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for name in sorted(rows):
            writer.writerow(rows[name])
    os.replace(tmp, path)


def head_row(head: HeadScore | None) -> dict[str, str]:
    if head is None:
        return {}
    return {
        "head_p_accept": f"{head.p_accept:.4f}",
        "head_rating": f"{head.rating:.3f}",
        "head_decision": head.decision,
        "head_top": "; ".join(f"{c.feature} {c.effect:+.2f}" for c in head.top[:5]),
    }


def outcome_row(outcome: ReviewOutcome) -> dict[str, str]:
    agg = outcome.aggregate
    row = {
        "paper": outcome.paper,
        "status": "ok",
        "error": "",
        "decision": outcome.decision,
        "decision_rule": outcome.verdict.rule if outcome.verdict is not None else "review",
        "review_decision": agg.decision,
        **head_row(outcome.head),
    }
    row.update({name: f"{agg.scores[name].mean:g}" for name in NUMERIC_FIELDS})
    row.update(
        overall_std=f"{agg.scores['overall'].std:g}",
        n_reviews=str(agg.n_reviews),
        seconds=f"{outcome.seconds:.1f}",
        tokens_in=str(outcome.tokens_in),
        tokens_out=str(outcome.tokens_out),
    )
    return row


def review_directory(
    directory: Path,
    out_csv: Path,
    llm: LLM,
    settings: Settings,
    *,
    files: list[Path] | None = None,
    on_progress: Callable[[Path, str], None] | None = None,
) -> BatchSummary:
    """Review every paper file in ``directory`` (or ``files``) into ``out_csv``; resumable."""
    todo = files if files is not None else paper_files(directory)
    rows = read_rows(out_csv)
    reviews_dir = out_csv.parent / f"{out_csv.stem}_reviews"
    reviewed = skipped = failed = 0
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    for path in todo:
        if rows.get(path.name, {}).get("status") == "ok":
            skipped += 1
            if on_progress:
                on_progress(path, "skipped")
            continue
        try:
            outcome = review_paper(path, llm, settings, reviews_dir / path.stem)
            rows[path.name] = outcome_row(outcome)
            reviewed += 1
            status = "ok"
        except BudgetExceeded:
            write_rows(out_csv, rows)
            raise
        except ShoalError as exc:
            log.warning("%s", exc)
            rows[path.name] = {"paper": path.name, "status": "error", "error": str(exc).replace("\n", " ")}
            failed += 1
            status = "error"
        write_rows(out_csv, rows)
        if on_progress:
            on_progress(path, status)
    return BatchSummary(total=len(todo), reviewed=reviewed, skipped=skipped, failed=failed, csv=out_csv)
