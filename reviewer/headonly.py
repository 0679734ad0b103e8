"""Scoring with the score head alone (``shoal review --head-only``): no model call, about 0.1 s per paper.

A folder is scored into a CSV the same way as the batch reviewer (one row per file, resumable, a bad file gets
``status = error`` and the batch goes on), with the head's columns only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from agents.errors import ShoalError
from agents.settings import Settings
from reviewer.batch import HEAD_COLUMNS, BatchSummary, head_row, paper_files, read_rows, write_rows
from reviewer.blind import blind_clean
from reviewer.head import HeadScore
from reviewer.ingest import load_paper
from reviewer.verdict import load_head

log = logging.getLogger(__name__)
COLUMNS = ["paper", "status", "error", "title", *HEAD_COLUMNS]


def score_file(path: Path, settings: Settings) -> tuple[str, HeadScore]:
    """(title, head score) of one paper file, blind-cleaned first."""
    cfg = settings.review
    paper = blind_clean(load_paper(path, max_file_mb=cfg.max_file_mb, max_pages=cfg.max_pages))[0]
    return paper.title, load_head(cfg).score(paper)


def score_directory(
    directory: Path,
    out_csv: Path,
    settings: Settings,
    *,
    files: list[Path] | None = None,
    on_progress: Callable[[Path, str], None] | None = None,
) -> BatchSummary:
    """Head scores of every paper file in ``directory`` (or ``files``) into ``out_csv``; resumable."""
    todo = files if files is not None else paper_files(directory)
    rows = read_rows(out_csv)
    done = skipped = failed = 0
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(todo):
        if rows.get(path.name, {}).get("status") == "ok" and rows[path.name].get("head_p_accept"):
            skipped += 1
            if on_progress:
                on_progress(path, "skipped")
            continue
        try:
            title, head = score_file(path, settings)
            rows[path.name] = {"paper": path.name, "status": "ok", "error": "", "title": title, **head_row(head)}
            done += 1
            status = "ok"
        except ShoalError as exc:
            log.warning("%s", exc)
            rows[path.name] = {"paper": path.name, "status": "error", "error": str(exc).replace("\n", " ")}
            failed += 1
            status = "error"
        if i % 25 == 0 or i == len(todo) - 1:
            write_rows(out_csv, rows, COLUMNS)
        if on_progress:
            on_progress(path, status)
    write_rows(out_csv, rows, COLUMNS)
    return BatchSummary(total=len(todo), reviewed=done, skipped=skipped, failed=failed, csv=out_csv)
