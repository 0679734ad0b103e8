"""Classification, ranking and calibration metrics with bootstrap 95% intervals (accept = positive class).

The metrics are scikit-learn's and scipy's; this module only fixes the conventions:

- accuracy, balanced accuracy (mean of TPR and TNR), F1, FPR = FP / (FP + TN), FNR = FN / (FN + TP) from
  ``sklearn.metrics``; a rate whose denominator is empty is NaN (not 0);
- ROC AUC (``roc_auc_score``; ties count half) and the Brier score (``brier_score_loss``); NaN with one class;
- Pearson r (``scipy.stats.pearsonr``) between a score and the mean human rating; NaN for constant input;
- bootstrap (``scipy.stats.bootstrap``, paired resampling of papers, seeded): the 2.5th and 97.5th percentiles of
  the bootstrap distribution, resamples where the metric is undefined (one class, constant input) left out.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
from pydantic import BaseModel
from scipy import stats
from sklearn import metrics as skm

NAN = float("nan")


class Estimate(BaseModel):
    value: float
    lo: float
    hi: float

    def fmt(self, digits: int = 3) -> str:
        if math.isnan(self.value):
            return "n/a"
        if math.isnan(self.lo):
            return f"{self.value:.{digits}f}"
        return f"{self.value:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"


def _both_classes(y: np.ndarray) -> bool:
    return len(np.unique(y.astype(bool))) == 2


def confusion(y: np.ndarray, pred: np.ndarray) -> tuple[int, int, int, int]:
    """(TP, FP, TN, FN) with accept (True) as the positive class."""
    tn, fp, fn, tp = skm.confusion_matrix(y.astype(bool), pred.astype(bool), labels=[False, True]).ravel()
    return int(tp), int(fp), int(tn), int(fn)


def accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    return float(skm.accuracy_score(y.astype(bool), pred.astype(bool))) if len(y) else NAN


def balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    if not _both_classes(y):
        return NAN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(skm.balanced_accuracy_score(y.astype(bool), pred.astype(bool)))


def f1(y: np.ndarray, pred: np.ndarray) -> float:
    tp, fp, _, fn = confusion(y, pred)
    if 2 * tp + fp + fn == 0:
        return NAN
    return float(skm.f1_score(y.astype(bool), pred.astype(bool), zero_division=np.nan))


def fpr(y: np.ndarray, pred: np.ndarray) -> float:
    _, fp, tn, _ = confusion(y, pred)
    return fp / (fp + tn) if fp + tn else NAN


def fnr(y: np.ndarray, pred: np.ndarray) -> float:
    tp, _, _, fn = confusion(y, pred)
    return fn / (fn + tp) if fn + tp else NAN


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    return float(skm.roc_auc_score(y.astype(bool), score)) if _both_classes(y) else NAN


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(skm.brier_score_loss(y.astype(bool), np.clip(p, 0.0, 1.0))) if len(y) else NAN


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2 or np.std(x) == 0 or np.std(y) == 0:
        return NAN
    return float(stats.pearsonr(x, y).statistic)


def bootstrap(metric: Callable[..., float], arrays: Sequence[np.ndarray], *, n: int = 1000, seed: int = 0) -> Estimate:
    value = metric(*arrays)
    if len(arrays[0]) < 2 or n < 1:
        return Estimate(value=value, lo=NAN, hi=NAN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.bootstrap(
            tuple(arrays), metric, paired=True, vectorized=False, n_resamples=n, method="percentile", random_state=seed
        )
    dist = np.asarray(res.bootstrap_distribution, dtype=float)
    dist = dist[~np.isnan(dist)]
    if not len(dist):
        return Estimate(value=value, lo=NAN, hi=NAN)
    lo, hi = np.percentile(dist, [2.5, 97.5])
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
