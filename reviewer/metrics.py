"""Classification and correlation metrics with bootstrap 95% intervals (numpy only; accept = positive class).

- accuracy; balanced accuracy = (TPR + TNR) / 2; F1 = 2TP / (2TP + FP + FN); FPR = FP / (FP + TN);
  FNR = FN / (FN + TP);
- ROC AUC of a score = P(score of a random accepted paper > that of a random rejected one) + 0.5 P(tie)
  (the Mann-Whitney form, exact with ties);
- Pearson r between a score and the mean human rating;
- bootstrap: resample papers with replacement (seeded), recompute, take the 2.5th and 97.5th percentiles;
  resamples where a metric is undefined (one class only, zero variance) are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from pydantic import BaseModel

NAN = float("nan")


class Estimate(BaseModel):
    value: float
    lo: float
    hi: float

    def fmt(self, digits: int = 3) -> str:
        if math.isnan(self.value):
            return "n/a"
        return f"{self.value:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"


def _div(a: float, b: float) -> float:
    return a / b if b else NAN


def confusion(y: np.ndarray, pred: np.ndarray) -> tuple[int, int, int, int]:
    """(TP, FP, TN, FN) with accept (True) as the positive class."""
    y, pred = y.astype(bool), pred.astype(bool)
    return int((y & pred).sum()), int((~y & pred).sum()), int((~y & ~pred).sum()), int((y & ~pred).sum())


def accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    return _div(float((y.astype(bool) == pred.astype(bool)).sum()), len(y))


def balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    tp, fp, tn, fn = confusion(y, pred)
    return (_div(tp, tp + fn) + _div(tn, tn + fp)) / 2


def f1(y: np.ndarray, pred: np.ndarray) -> float:
    tp, fp, _, fn = confusion(y, pred)
    return _div(2 * tp, 2 * tp + fp + fn)


def fpr(y: np.ndarray, pred: np.ndarray) -> float:
    _, fp, tn, _ = confusion(y, pred)
    return _div(fp, fp + tn)


def fnr(y: np.ndarray, pred: np.ndarray) -> float:
    tp, _, _, fn = confusion(y, pred)
    return _div(fn, fn + tp)


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    y = y.astype(bool)
    pos, neg = score[y], score[~y]
    if len(pos) == 0 or len(neg) == 0:
        return NAN
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2 or np.std(x) == 0 or np.std(y) == 0:
        return NAN
    return float(np.corrcoef(x, y)[0, 1])


def bootstrap(metric: Callable[..., float], arrays: Sequence[np.ndarray], *, n: int = 1000, seed: int = 0) -> Estimate:
    value = metric(*arrays)
    rng = np.random.default_rng(seed)
    size = len(arrays[0])
    stats = []
    for _ in range(n):
        idx = rng.integers(0, size, size)
        v = metric(*(a[idx] for a in arrays))
        if not math.isnan(v):
            stats.append(v)
    if not stats:
        return Estimate(value=value, lo=NAN, hi=NAN)
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return Estimate(value=value, lo=float(lo), hi=float(hi))


def decision_report(y: np.ndarray, pred: np.ndarray, *, n_boot: int = 1000, seed: int = 0) -> dict[str, Estimate]:
    """Every decision metric of ``pred`` against ``y`` with bootstrap intervals."""
    funcs = {
        "balanced_accuracy": balanced_accuracy,
        "accuracy": accuracy,
        "f1": f1,
        "fpr": fpr,
        "fnr": fnr,
    }
    return {name: bootstrap(fn, [y, pred], n=n_boot, seed=seed) for name, fn in funcs.items()}


def score_report(
    y: np.ndarray, score: np.ndarray, human: np.ndarray | None = None, *, n_boot: int = 1000, seed: int = 0
) -> dict[str, Estimate]:
    """ROC AUC of a score against the decisions, and Pearson r with the mean human rating."""
    out = {"roc_auc": bootstrap(roc_auc, [y, score], n=n_boot, seed=seed)}
    if human is not None:
        out["pearson_r"] = bootstrap(pearson, [score, human], n=n_boot, seed=seed)
    return out


def fit_threshold(y: np.ndarray, score: np.ndarray) -> float:
    """The threshold t (accept when score >= t) with the best balanced accuracy; the lowest of ties."""
    values = np.unique(score)
    candidates = np.concatenate([values, [values.max() + 1]]) if len(values) else np.array([6.0])
    best_t, best = float(candidates[0]), -1.0
    for t in candidates:
        ba = balanced_accuracy(y, score >= t)
        if not math.isnan(ba) and ba > best + 1e-12:
            best_t, best = float(t), ba
    return best_t
