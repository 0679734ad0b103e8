"""Benchmark the reviewer: ingestion speed, the leak-detector baseline, one review, and review-eval.

    PYTHONPATH=. python bench/bench_reviewer.py                       # ingestion + leak baseline (seconds)
    PYTHONPATH=. python bench/bench_reviewer.py --review [PDF]        # + one review on the configured model
    PYTHONPATH=. python bench/bench_reviewer.py --eval --limit 4      # + review-eval on dev40 (slow on CPU)
    PYTHONPATH=. python bench/bench_reviewer.py --head                # + the score head: CV, dev40, speed
    ... --json                                                        # machine-readable figures

- ingestion: every PDF under ../shared/data/pdfs (pypdf + cleanup + sections), pages per second; blind cleaning
  of the 519 ICLR 2022 texts, papers per second.
- leak baseline: the trivial leak detector's balanced accuracy on all 519 labelled texts, raw and blind-cleaned.
- review: seconds, calls and tokens of ``review_paper`` with the default procedure (embedded model unless a
  reviewer endpoint is configured).
- head: the score head (no model call). Nested 5-fold CV of a freshly fitted head on the 479 train papers
  (everything refit inside each fold), a head fitted on train scored on dev40, the front-matter-only leakage guard
  on the same folds, and seconds per paper of the shipped head (load + blind-clean + score) over dev40.
- eval: ``reviewer.calibrate.evaluate`` on dev40 (``--limit`` papers, balanced; the Overall threshold is fitted on
  ``--fit-limit`` train papers), scores kept in ``--out`` so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from agents.llm import LLM, Ledger
from agents.settings import load_settings
from agents.testing.shared_data import shared_data_dir
from reviewer.blind import blind_clean
from reviewer.calibrate import evaluate, load_labels, report_lines, text_file
from reviewer.ingest import load_paper
from reviewer.leaks import detect_leaks
from reviewer.metrics import balanced_accuracy
from reviewer.pipeline import review_paper

DATA = shared_data_dir()
ICLR = DATA / "reviewer" / "iclr2022"
DEFAULT_PDF = DATA / "pdfs" / "ai_scientist_generated" / "rl_lr_adaptation.pdf"
console = Console(stderr=True)


def bench_ingest() -> dict[str, Any]:
    pdfs = sorted((DATA / "pdfs").rglob("*.pdf"))
    start = time.perf_counter()
    pages = sum(load_paper(p).pages or 0 for p in pdfs)
    pdf_s = time.perf_counter() - start
    texts = sorted((ICLR / "texts").glob("*.txt"))
    start = time.perf_counter()
    for path in texts:
        blind_clean(load_paper(path))
    text_s = time.perf_counter() - start
    return {
        "pdfs": len(pdfs),
        "pages": pages,
        "pdf_seconds": round(pdf_s, 2),
        "pages_per_s": round(pages / pdf_s, 1),
        "iclr_texts": len(texts),
        "texts_per_s_load_and_blind": round(len(texts) / text_s, 1),
    }


def bench_leaks() -> dict[str, Any]:
    labels = load_labels(ICLR / "labels.jsonl")
    y, raw, clean = [], [], []
    for label in labels:
        paper = load_paper(text_file(ICLR / "texts", label.paper_id))
        y.append(label.accept)
        raw.append(detect_leaks(paper.full_text(with_references=False)).predicts_accept)
        clean.append(detect_leaks(blind_clean(paper)[0].full_text(with_references=False)).predicts_accept)
    ya = np.array(y)
    return {
        "papers": len(labels),
        "balanced_accuracy_raw": round(balanced_accuracy(ya, np.array(raw)), 3),
        "balanced_accuracy_blind": round(balanced_accuracy(ya, np.array(clean)), 3),
    }


def bench_review(pdf: Path) -> dict[str, Any]:
    settings = load_settings()
    with tempfile.TemporaryDirectory() as tmp:
        llm = LLM(settings, Ledger(Path(tmp) / "llm_calls.jsonl"), context={"stage": "bench"})
        outcome = review_paper(pdf, llm, settings, Path(tmp) / "out")
    return {
        "paper": pdf.name,
        "pages": outcome.pages,
        "model": outcome.model,
        "reviews": len(outcome.reviews),
        "reflection_rounds": len(outcome.reflections),
        "seconds": outcome.seconds,
        "calls": outcome.calls,
        "tokens_in": outcome.tokens_in,
        "tokens_out": outcome.tokens_out,
        "digest_tokens_est": outcome.digest.tokens_est,
        "overall": outcome.overall,
        "decision": outcome.decision,
        "errors": outcome.errors,
    }


def bench_eval(out: Path, limit: int, fit_limit: int) -> dict[str, Any]:
    settings = load_settings()
    llm = LLM(settings, Ledger(out / "llm_calls.jsonl"), context={"stage": "bench-eval"})
    start = time.perf_counter()

    def tick(path: Path, status: str) -> None:
        console.print(f"  {path.name}: {status} ({time.perf_counter() - start:.0f} s)")

    report = evaluate(
        ICLR / "labels.jsonl", ICLR / "texts", out, llm, settings, limit=limit, fit_limit=fit_limit, on_progress=tick
    )
    return {"report": report.model_dump(mode="json"), "lines": report_lines(report)}


def bench_head(out: Path, folds: int) -> dict[str, Any]:
    from reviewer.head import HeadConfig, ScoreHead
    from reviewer.head_eval import cross_validated

    start = time.perf_counter()
    report = cross_validated(ICLR / "labels.jsonl", ICLR / "texts", HeadConfig(), out, folds=folds)
    cv_s = time.perf_counter() - start
    head = ScoreHead.load()
    dev = [r for r in load_labels(ICLR / "labels.jsonl") if r.split == "dev40"]
    start = time.perf_counter()
    for label in dev:
        head.score(blind_clean(load_paper(text_file(ICLR / "texts", label.paper_id)))[0])
    per_paper = (time.perf_counter() - start) / len(dev)
    figures: dict[str, Any] = {
        f"{x.what.split(' (')[0]} | {x.metric}": x.value.fmt() for x in report.lines if x.metric != "accuracy"
    }
    figures.update(
        seconds_per_paper=round(per_paper, 3), cv_seconds=round(cv_s, 1), notes=report.notes, plots=report.plots
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--review", nargs="?", const=str(DEFAULT_PDF), default=None, help="review one PDF")
    parser.add_argument("--eval", action="store_true", help="review-eval on dev40 with the configured model")
    parser.add_argument("--limit", type=int, default=4, help="dev40 papers for --eval (balanced)")
    parser.add_argument("--fit-limit", type=int, default=0, help="train papers to fit the Overall threshold on")
    parser.add_argument("--out", type=Path, default=Path("workspace/bench-review-eval"), help="--eval scores folder")
    parser.add_argument("--head", action="store_true", help="the score head: nested CV on train, dev40, speed")
    parser.add_argument("--folds", type=int, default=5, help="folds of the --head cross-validation")
    parser.add_argument("--json", action="store_true", help="print figures as JSON")
    args = parser.parse_args()
    if not ICLR.is_dir():
        raise SystemExit(f"shared data not found at {DATA}")
    figures: dict[str, Any] = {"ingest": bench_ingest(), "leaks": bench_leaks()}
    if args.review:
        figures["review"] = bench_review(Path(args.review))
    if args.eval:
        figures["eval"] = bench_eval(args.out, args.limit, args.fit_limit)
    if args.head:
        figures["head"] = bench_head(Path("docs/figures/reviewer"), args.folds)
    if args.json:
        print(json.dumps(figures, indent=2, default=str))
        return
    for section, values in figures.items():
        if section == "eval":
            for what, metric, value in values["lines"]:
                print(f"eval  {what:45s} {metric:18s} {value}")
            continue
        for key, value in values.items():
            print(f"{section:7s} {key:28s} {value}")


if __name__ == "__main__":
    main()
