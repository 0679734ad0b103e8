"""``shoal review-eval``: how well the reviewer agrees with human decisions and ratings.

Labels are JSON lines ``{"paper_id", "accept", "mean_rating", "split", ...}``; texts are ``<paper_id>.txt`` (or
``.pdf/.md/.tex``) in the texts folder. Papers of the evaluation split (default ``dev40``) and of the fit split
(default ``train``) are reviewed through the batch scorer (``scores_<split>.csv`` in the output folder, resumable;
``--limit N`` takes N papers per split, alternating accepted and rejected so small samples stay balanced).

Reported on the evaluation split, with bootstrap 95% intervals:
- the model's Decision: balanced accuracy, accuracy, F1, FPR, FNR;
- Overall: ROC AUC against the decisions, Pearson r with the mean human rating;
- a threshold on Overall fitted (best balanced accuracy) on the fit split and applied to the evaluation split; it
  is saved to ``calibration.json``. Without fit-split scores the threshold is fitted in-sample and says so.
- the trivial leak detector (``reviewer.leaks``) on the raw and on the blind-cleaned texts: if it beats chance
  after cleaning, the cleaning leaks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from agents.errors import UserInputError
from agents.llm import LLM
from agents.settings import Settings
from reviewer.batch import read_rows, review_directory
from reviewer.blind import blind_clean
from reviewer.ingest import SUFFIXES, load_paper
from reviewer.leaks import detect_leaks
from reviewer.metrics import Estimate, decision_report, fit_threshold, score_report


class Label(BaseModel):
    paper_id: str
    accept: bool
    mean_rating: float
    split: str = ""
    title: str = ""


class CalibrationReport(BaseModel):
    eval_split: str
    fit_split: str
    n_eval: int = 0
    n_fit: int = 0
    failed: list[str] = Field(default_factory=list)
    model_decision: dict[str, Estimate] = Field(default_factory=dict)
    overall: dict[str, Estimate] = Field(default_factory=dict)
    threshold: float | None = None
    threshold_source: str = ""
    threshold_metrics: dict[str, Estimate] = Field(default_factory=dict)
    leak_n: int = 0
    leak_before: dict[str, Estimate] = Field(default_factory=dict)
    leak_after: dict[str, Estimate] = Field(default_factory=dict)


def load_labels(path: Path) -> list[Label]:
    if not path.is_file():
        raise UserInputError(f"{path}: labels file not found")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(Label.model_validate_json(line))
        except ValueError as exc:
            raise UserInputError(f"{path}:{n}: not a label line ({str(exc).splitlines()[0]})") from exc
    if not out:
        raise UserInputError(f"{path}: no labels")
    return out


def select(labels: list[Label], split: str, limit: int | None) -> list[Label]:
    """The split's labels; with a limit, alternate accepted and rejected papers (sorted by id)."""
    rows = sorted((r for r in labels if r.split == split), key=lambda r: r.paper_id)
    if limit is None or limit >= len(rows):
        return rows
    acc = [r for r in rows if r.accept]
    rej = [r for r in rows if not r.accept]
    mixed = [r for pair in zip(acc, rej, strict=False) for r in pair]
    mixed += acc[len(rej) :] + rej[len(acc) :]
    return mixed[:limit]


def text_file(texts: Path, paper_id: str) -> Path:
    for suffix in SUFFIXES:
        path = texts / f"{paper_id}{suffix}"
        if path.is_file():
            return path
    raise UserInputError(f"no text for paper {paper_id} in {texts} (looked for {paper_id}.txt/.pdf/.md/.tex)")


def leak_baseline(labels: list[Label], texts: Path, n_boot: int = 1000) -> tuple[dict, dict]:
    """The leak detector's decision metrics (and ROC AUC of its score) before and after blind cleaning."""
    y, before, after, s_before, s_after = [], [], [], [], []
    for label in labels:
        paper = load_paper(text_file(texts, label.paper_id))
        raw = detect_leaks(paper.full_text(with_references=False))
        clean = detect_leaks(blind_clean(paper)[0].full_text(with_references=False))
        y.append(label.accept)
        before.append(raw.predicts_accept)
        after.append(clean.predicts_accept)
        s_before.append(raw.score)
        s_after.append(clean.score)
    ya = np.array(y)
    out = []
    for pred, score in ((before, s_before), (after, s_after)):
        rep = decision_report(ya, np.array(pred), n_boot=n_boot)
        rep.update(score_report(ya, np.array(score, dtype=float), n_boot=n_boot))
        out.append(rep)
    return out[0], out[1]


def _scores(rows: dict[str, dict[str, str]], labels: list[Label], texts: Path) -> tuple[list[Label], list[dict]]:
    ok_labels, ok_rows = [], []
    for label in labels:
        row = rows.get(text_file(texts, label.paper_id).name)
        if row and row.get("status") == "ok":
            ok_labels.append(label)
            ok_rows.append(row)
    return ok_labels, ok_rows


def report_from_scores(
    eval_labels: list[Label],
    eval_rows: list[dict],
    fit_labels: list[Label],
    fit_rows: list[dict],
    report: CalibrationReport,
    n_boot: int = 1000,
) -> CalibrationReport:
    """Fill the model metrics of ``report`` from scored rows (pure: no model calls)."""
    report.n_eval, report.n_fit = len(eval_rows), len(fit_rows)
    if not eval_rows:
        return report
    y = np.array([r.accept for r in eval_labels])
    overall = np.array([float(r["overall"]) for r in eval_rows])
    decision = np.array([(r.get("review_decision") or r["decision"]) == "Accept" for r in eval_rows])
    human = np.array([r.mean_rating for r in eval_labels])
    report.model_decision = decision_report(y, decision, n_boot=n_boot)
    report.overall = score_report(y, overall, human, n_boot=n_boot)
    if fit_rows and len({r.accept for r in fit_labels}) == 2:
        fy = np.array([r.accept for r in fit_labels])
        report.threshold = fit_threshold(fy, np.array([float(r["overall"]) for r in fit_rows]))
        report.threshold_source = f"fitted on {report.fit_split} ({len(fit_rows)} papers)"
    else:
        report.threshold = fit_threshold(y, overall)
        report.threshold_source = f"fitted in-sample on {report.eval_split} (optimistic: no {report.fit_split} scores)"
    report.threshold_metrics = decision_report(y, overall >= report.threshold, n_boot=n_boot)
    return report


def evaluate(
    labels_path: Path,
    texts: Path,
    out_dir: Path,
    llm: LLM | None,
    settings: Settings,
    *,
    eval_split: str = "dev40",
    fit_split: str = "train",
    limit: int | None = None,
    fit_limit: int | None = None,
    n_boot: int = 1000,
    on_progress: Callable[[Path, str], None] | None = None,
) -> CalibrationReport:
    """Review the selected papers (resumable) and compute the calibration report; ``llm=None`` scores nothing
    new and reports on what the score CSVs already hold (and the leak baseline)."""
    if not texts.is_dir():
        raise UserInputError(f"{texts}: texts folder not found")
    labels = load_labels(labels_path)
    ev = select(labels, eval_split, limit)
    if not ev:
        raise UserInputError(f"{labels_path}: no papers in split {eval_split!r}")
    fit = select(labels, fit_split, fit_limit if fit_limit is not None else limit) if fit_split else []
    out_dir.mkdir(parents=True, exist_ok=True)
    report = CalibrationReport(eval_split=eval_split, fit_split=fit_split)
    before, after = leak_baseline(select(labels, eval_split, None), texts, n_boot)
    report.leak_before, report.leak_after = before, after
    report.leak_n = len(select(labels, eval_split, None))
    rows_by_split = {}
    for split, chosen in ((eval_split, ev), (fit_split, fit)):
        if not chosen:
            continue
        csv_path = out_dir / f"scores_{split}.csv"
        if llm is not None:
            files = [text_file(texts, r.paper_id) for r in chosen]
            review_directory(texts, csv_path, llm, settings, files=files, on_progress=on_progress)
        rows = read_rows(csv_path)
        rows_by_split[split] = rows
        report.failed += [n for n, r in rows.items() if r.get("status") != "ok"]
    eval_labels, eval_rows = _scores(rows_by_split.get(eval_split, {}), ev, texts)
    fit_labels, fit_rows = _scores(rows_by_split.get(fit_split, {}), fit, texts) if fit else ([], [])
    report = report_from_scores(eval_labels, eval_rows, fit_labels, fit_rows, report, n_boot)
    (out_dir / "calibration.json").write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return report


def report_lines(report: CalibrationReport) -> list[tuple[str, str, str]]:
    """(what, metric, value [95% CI]) rows for a table."""
    rows: list[tuple[str, str, str]] = []
    for what, metrics in (
        (f"model Decision (n={report.n_eval})", report.model_decision),
        ("model Overall", report.overall),
        (f"Overall >= {report.threshold:g}" if report.threshold is not None else "threshold", report.threshold_metrics),
        (f"leak detector, raw text (n={report.leak_n})", report.leak_before),
        (f"leak detector, blind-cleaned (n={report.leak_n})", report.leak_after),
    ):
        rows += [(what, name, est.fmt()) for name, est in metrics.items()]
    return rows


def save_json(report: CalibrationReport, path: Path) -> None:
    path.write_text(json.dumps(report.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
