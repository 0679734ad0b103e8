"""``shoal review-eval`` for the score head: held-out scoring, nested cross-validation, calibration, the
leakage guard, and the AI Scientist's generated papers.

- ``held_out``: the shipped (or given) head on a labelled split it was not trained on; refuses any paper whose id
  or text hash is among the head's training papers. Beside it, the written review alone and the two combined
  (``reviewer.verdict``) when the batch CSV of reviews is given.
- ``cross_validated``: nested k-fold CV of the whole head (refit in every fold) on a labelled split, and a head
  fitted on that split scored on another (the shared ``dev40``).
- the leakage guard: a front-matter-only classifier (first 1,500 characters) cross-validated on the same papers.
- ``reliability_plot``: predicted P(accept) against the observed accept rate by bins (PNG), with the Brier score.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from agents.errors import UserInputError
from reviewer.calibrate import load_labels
from reviewer.form import NUMERIC_FIELDS
from reviewer.head import HeadConfig, ScoreHead, sigmoid_p
from reviewer.head_data import training_set
from reviewer.head_fit import TrainingSet, cross_validate, fit_head, front_matter_model, head_predict
from reviewer.metrics import (
    Estimate,
    balanced_accuracy,
    bootstrap,
    brier,
    decision_report,
    pearson,
    roc_auc,
)

AI_REVIEWER_NOTE = (
    "AI Scientist reviewer scores are model outputs (GPT-4o), not human labels: they show agreement between "
    "automated reviewers, not correctness"
)


class EvalLine(BaseModel):
    what: str
    metric: str
    value: Estimate


class HeadEvalReport(BaseModel):
    lines: list[EvalLine] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    plots: list[str] = Field(default_factory=list)
    ai_generated: list[dict[str, str]] = Field(default_factory=list)

    def add(self, what: str, metrics: dict[str, Estimate]) -> None:
        self.lines += [EvalLine(what=what, metric=k, value=v) for k, v in metrics.items()]


def head_metrics(
    y: np.ndarray, p: np.ndarray, decision: np.ndarray, rating: np.ndarray, human: np.ndarray, n_boot: int
) -> dict[str, Estimate]:
    out = {
        "balanced_accuracy": bootstrap(balanced_accuracy, [y, decision], n=n_boot),
        "roc_auc": bootstrap(roc_auc, [y, p], n=n_boot),
        "brier": bootstrap(brier, [y, p], n=n_boot),
        "pearson_r_rating": bootstrap(pearson, [rating, human], n=n_boot),
    }
    rest = decision_report(y, decision, n_boot=n_boot)
    out.update({k: v for k, v in rest.items() if k != "balanced_accuracy"})
    return out


def front_guard(ts: TrainingSet, k: int, n_boot: int, seed: int = 0) -> dict[str, Estimate]:
    """Cross-validated front-matter-only classifier (first 1,500 cleaned characters) on ``ts``."""
    from sklearn.model_selection import StratifiedKFold

    from reviewer.features import front_text

    fronts = np.array([front_text(p) for p in ts.papers], dtype=object)
    p = np.zeros(len(ts))
    k = min(k, int(ts.accept.sum()), int((~ts.accept).sum()))
    if k < 2:
        return {}
    for a, b in StratifiedKFold(k, shuffle=True, random_state=seed).split(fronts, ts.accept):
        model = front_matter_model(seed).fit(list(fronts[a]), ts.accept[a])  # type: ignore[attr-defined]
        p[b] = model.predict_proba(list(fronts[b]))[:, 1]  # type: ignore[attr-defined]
    return {
        "balanced_accuracy": bootstrap(balanced_accuracy, [ts.accept, p >= 0.5], n=n_boot),
        "roc_auc": bootstrap(roc_auc, [ts.accept, p], n=n_boot),
    }


def reliability_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, bins: int = 10) -> Path:
    """Reliability diagram (``sklearn.calibration.calibration_curve``, quantile bins) of each named curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve

    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=120)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfectly calibrated")
    for name, (y, p) in curves.items():
        frac, mean = calibration_curve(y, p, n_bins=min(bins, max(2, len(y) // 8)), strategy="quantile")
        ax.plot(mean, frac, marker="o", label=f"{name} (Brier {brier(y, p):.3f}, n={len(y)})")
    ax.set_xlabel("predicted P(accept)")
    ax.set_ylabel("observed accept rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _review_rows(csv_path: Path | None) -> dict[str, dict[str, str]]:
    if csv_path is None or not csv_path.is_file():
        return {}
    with csv_path.open(newline="", encoding="utf-8") as fh:
        return {Path(r["paper"]).stem: r for r in csv.DictReader(fh) if r.get("status") == "ok"}


def held_out(
    head: ScoreHead,
    labels: Path,
    texts: Path,
    split: str,
    out_dir: Path,
    *,
    reviews_csv: Path | None = None,
    n_boot: int = 1000,
    folds: int = 5,
) -> HeadEvalReport:
    """The head on ``split`` of a labelled set it was not trained on (+ the review alone and combined)."""
    rows_all = [r for r in load_labels(labels) if not split or r.split == split]
    if not rows_all:
        raise UserInputError(f"{labels}: no papers in split {split!r}")
    seen = set(head.meta.train_ids)
    overlap = [r.paper_id for r in rows_all if r.paper_id in seen]
    if overlap:
        raise UserInputError(
            f"{len(overlap)} of the {len(rows_all)} papers (e.g. {', '.join(overlap[:3])}) were used to train this "
            f"head; score papers it has not seen (--split dev40 on the shared data) or use --cv"
        )
    ts, hashes, _ = training_set(
        labels, texts, splits=[split] if split else None, ngram_max=head.meta.config.ngram_max,
        embeddings=head.uses_embeddings, cache_dir=None,
    )  # fmt: skip
    trained = set(head.meta.train_hashes)
    dup = [ts.ids[i] for i, h in enumerate(hashes) if h in trained]
    if dup:
        raise UserInputError(
            f"{len(dup)} paper(s) (e.g. {', '.join(dup[:3])}) have the same text as papers the head was trained on; "
            "remove them from the evaluation set"
        )
    report = HeadEvalReport()
    rows = np.arange(len(ts))
    rating, p, decision = head_predict(head, ts, rows)
    report.add(
        f"score head (n={len(ts)}, {split or 'all'})", head_metrics(ts.accept, p, decision, rating, ts.rating, n_boot)
    )
    curves = {"score head": (ts.accept, p)}
    reviews = _review_rows(reviews_csv)
    have = np.array([pid in reviews for pid in ts.ids])
    if have.any():
        idx = np.flatnonzero(have)
        y = ts.accept[idx]
        overall = np.array([float(reviews[ts.ids[i]]["overall"]) for i in idx])
        said = np.array(
            [(reviews[ts.ids[i]].get("review_decision") or reviews[ts.ids[i]]["decision"]) == "Accept" for i in idx]
        )
        report.add(
            f"written review alone (n={len(idx)})",
            {"balanced_accuracy": bootstrap(balanced_accuracy, [y, said], n=n_boot),
             "roc_auc": bootstrap(roc_auc, [y, overall], n=n_boot),
             "pearson_r_rating": bootstrap(pearson, [overall, ts.rating[idx]], n=n_boot)},
        )  # fmt: skip
        if head.meta.stacker_llm is not None:
            llm = np.array([[float(reviews[ts.ids[i]][n]) for n in NUMERIC_FIELDS] for i in idx])
            sub = TrainingSet(**{**ts.__dict__, "llm": np.full((len(ts), len(NUMERIC_FIELDS)), np.nan)})
            assert sub.llm is not None
            sub.llm[idx] = llm
            c_rating, c_p, c_dec = head_predict(head, sub, idx, use_llm=True)
            what = "combined (head's stacker with the review's sub-scores)"
        else:
            c_rating = (rating[idx] + overall) / 2
            c_p = sigmoid_p(head.meta.stacker, c_rating)
            c_dec = c_p >= head.meta.stacker.threshold
            what = "combined (mean of head rating and review overall)"
        report.add(f"{what} (n={len(idx)})", head_metrics(y, c_p, c_dec, c_rating, ts.rating[idx], n_boot))
        curves["combined"] = (y, c_p)
    elif reviews_csv is not None:
        report.notes.append(f"{reviews_csv}: no reviewed paper of split {split!r}; the review columns are empty")
    report.add(
        f"leakage guard: front-matter-only classifier, {folds}-fold CV (n={len(ts)})", front_guard(ts, folds, n_boot)
    )
    report.plots.append(str(reliability_plot(curves, out_dir / f"reliability_{split or 'all'}.png")))
    return report


def cross_validated(
    labels: Path,
    texts: Path,
    cfg: HeadConfig,
    out_dir: Path,
    *,
    fit_split: str = "train",
    test_split: str = "dev40",
    folds: int = 5,
    n_boot: int = 1000,
    cache_dir: Path | None = None,
) -> HeadEvalReport:
    """Nested ``folds``-fold CV of the head on ``fit_split``, the leakage guard beside it, and a head fitted on
    ``fit_split`` scored on ``test_split``."""
    splits = [s for s in (fit_split, test_split) if s]
    ts, _, _ = training_set(
        labels, texts, splits=splits, ngram_max=cfg.ngram_max, embeddings=cfg.embeddings, cache_dir=cache_dir
    )
    split_of = {r.paper_id: r.split for r in load_labels(labels)}
    fit_rows = np.array([i for i, pid in enumerate(ts.ids) if split_of[pid] == fit_split])
    test_rows = np.array([i for i, pid in enumerate(ts.ids) if split_of[pid] == test_split], dtype=int)
    fit_ts = TrainingSet(
        ids=[ts.ids[i] for i in fit_rows], papers=[ts.papers[i] for i in fit_rows], accept=ts.accept[fit_rows],
        rating=ts.rating[fit_rows], counts=ts.counts[fit_rows], terms=ts.terms, structure=ts.structure[fit_rows],
        embedding=None if ts.embedding is None else ts.embedding[fit_rows],
    )  # fmt: skip
    report = HeadEvalReport()
    res = cross_validate(fit_ts, cfg, k=folds)
    report.add(
        f"score head, {folds}-fold nested CV on {fit_split} (n={len(fit_ts)})",
        head_metrics(fit_ts.accept, res.p_accept, res.decision, res.rating, fit_ts.rating, n_boot),
    )
    report.add(
        f"leakage guard: front-matter-only classifier, same folds (n={len(fit_ts)})",
        {"balanced_accuracy": bootstrap(balanced_accuracy, [fit_ts.accept, res.front_p >= 0.5], n=n_boot),
         "roc_auc": bootstrap(roc_auc, [fit_ts.accept, res.front_p], n=n_boot)},
    )  # fmt: skip
    report.notes.append("thresholds chosen on the training folds: " + ", ".join(f"{t:.3f}" for t in res.thresholds))
    curves = {f"CV on {fit_split}": (fit_ts.accept, res.p_accept)}
    if len(test_rows):
        head = fit_head(ts, fit_rows, cfg)
        rating, p, decision = head_predict(head, ts, test_rows)
        y = ts.accept[test_rows]
        report.add(
            f"score head fitted on {fit_split}, scored on {test_split} (n={len(test_rows)})",
            head_metrics(y, p, decision, rating, ts.rating[test_rows], n_boot),
        )
        curves[test_split] = (y, p)
    report.plots.append(str(reliability_plot(curves, out_dir / "reliability_cv.png")))
    return report


def ai_generated_rows(folder: Path, head: ScoreHead, llm_overall: dict[str, str] | None = None) -> list[dict[str, str]]:
    """The head's (and the written review's, when given) scores of the AI Scientist's generated papers, beside the
    AI Scientist reviewer's own scores (``manual_paper_ratings_ai_reviewer.csv`` and ``<name>.ai_review.json``)."""
    from reviewer.blind import blind_clean
    from reviewer.ingest import load_paper

    table: dict[str, dict[str, str]] = {}
    ratings = folder / "manual_paper_ratings_ai_reviewer.csv"
    if ratings.is_file():
        with ratings.open(newline="", encoding="utf-8") as fh:
            table = {r["paper_id"]: r for r in csv.DictReader(fh)}
    out = []
    for pdf in sorted(folder.glob("*.pdf")):
        score = head.score(blind_clean(load_paper(pdf))[0])
        own = table.get(pdf.stem, {})
        review_json = pdf.with_suffix(".ai_review.json")
        if not own and review_json.is_file():
            own = {k: str(v) for k, v in json.loads(review_json.read_text(encoding="utf-8")).items()}
        out.append(
            {
                "paper": pdf.stem,
                "head_p_accept": f"{score.p_accept:.2f}",
                "head_rating": f"{score.rating:.1f}",
                "head_decision": score.decision,
                "review_overall": (llm_overall or {}).get(pdf.stem, "-"),
                "ai_scientist_overall": own.get("Overall", "-"),
                "ai_scientist_decision": own.get("Decision", "-"),
            }
        )
    return out
