"""The metrics Shoal computes itself from a node's predictions (scikit-learn), and the user's metric choice.

A metric is named on the command line (``--metric rmse``) or in a workshop file. Known metrics carry their
direction; a user may name a metric of their own only when the program reports it (no held-out evaluation) and
they say which direction is better. ``score(...)`` turns held-out labels and predictions into one number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from agents.errors import UserInputError

Kind = Literal["label", "proba", "number"]


@dataclass(frozen=True)
class MetricSpec:
    name: str
    higher_is_better: bool
    kind: Kind  # what it scores: class labels, class probabilities, or numbers (regression)
    task: Literal["classification", "regression"]


METRICS: dict[str, MetricSpec] = {
    m.name: m
    for m in (
        MetricSpec("accuracy", True, "label", "classification"),
        MetricSpec("f1", True, "label", "classification"),
        MetricSpec("auc", True, "proba", "classification"),
        MetricSpec("log_loss", False, "proba", "classification"),
        MetricSpec("rmse", False, "number", "regression"),
        MetricSpec("mae", False, "number", "regression"),
        MetricSpec("r2", True, "number", "regression"),
    )
}
ALIASES = {
    "acc": "accuracy",
    "f1_score": "f1",
    "f1_macro": "f1",
    "roc_auc": "auc",
    "logloss": "log_loss",
    "cross_entropy": "log_loss",
    "r²": "r2",
    "r_squared": "r2",
    "mse_root": "rmse",
}


def canonical_name(name: str) -> str:
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    return ALIASES.get(key, key)


def resolve_metric(name: str, lower_is_better: bool | None, *, held_out: bool) -> tuple[str, bool]:
    """(metric name, higher_is_better) for the user's choice; one clear error for an unusable one."""
    key = canonical_name(name)
    known = ", ".join(METRICS)
    if not key:
        raise UserInputError(f"--metric is empty; name one of: {known}")
    spec = METRICS.get(key)
    if spec is None:
        if held_out:
            raise UserInputError(
                f"unknown metric {name!r}: Shoal computes held-out scores for {known}; choose one of them"
            )
        if lower_is_better is None:
            raise UserInputError(
                f"unknown metric {name!r}: known metrics are {known}; for a metric of your own that the program "
                "reports, add --lower-is-better or --higher-is-better"
            )
        return key, not lower_is_better
    if lower_is_better is not None and lower_is_better == spec.higher_is_better:
        better = "higher" if spec.higher_is_better else "lower"
        raise UserInputError(f"{key} is better when {better}; drop --lower-is-better/--higher-is-better")
    return key, spec.higher_is_better


def check_labels(metric: str, target: str, labels: Sequence[str], table: tuple[str, int, int] | None = None) -> None:
    """One clear error, before any model call, when the held-out target cannot be scored with ``metric``: a
    regression metric of text labels, or a classification metric of what is plainly a continuous number.
    ``table``: the target column's type, distinct values and non-missing rows in the whole table (data card)."""
    spec = METRICS[metric]
    numbers: list[float] = []
    for value in labels:
        try:
            numbers.append(float(value))
        except ValueError:
            if spec.kind == "number":
                classification = ", ".join(m for m, s in METRICS.items() if s.task == "classification")
                raise UserInputError(
                    f"--metric {metric} needs a numeric target, but {target!r} holds text such as {value[:40]!r}; "
                    f"for classes use one of: {classification}"
                ) from None
            return
    fractional = {f for f in numbers if math.isfinite(f) and f != int(f)}
    distinct, rows, where = len(set(numbers)), len(numbers), "held-out rows"
    if table is not None and table[0] == "float" and table[2] > rows:
        distinct, rows, where = table[1], table[2], "rows"
    many = distinct > 20 or (distinct >= 5 and distinct > 0.5 * rows)
    counts = distinct > 50 and distinct > 0.5 * rows  # whole numbers, nearly one per row: a quantity, not classes
    written_real = bool(fractional) or any("." in v for v in labels)  # 3.5, or 151.0: a measured quantity
    if spec.task == "classification" and ((written_real and many) or counts):
        regression = ", ".join(m for m, s in METRICS.items() if s.task == "regression")
        example = sorted(fractional or numbers)[len(fractional or numbers) // 2]
        raise UserInputError(
            f"--metric {metric} scores classes, but {target!r} is a continuous number ({distinct} distinct "
            f"values among {rows} {where}, such as {example:g}); use one of: {regression}"
        )


def canonical_label(value: str) -> str:
    """Labels compare as text, with numbers normalised (``"1.0"`` and ``"1"`` are one class)."""
    text = value.strip()
    try:
        f = float(text)
    except ValueError:
        return text
    if math.isfinite(f) and f == int(f):
        return str(int(f))
    return repr(f)


class PredictionError(ValueError):
    """The node's predictions cannot be scored (wrong length, not numbers, missing probabilities)."""


def _floats(values: Sequence[str], what: str) -> list[float]:
    out = []
    for i, v in enumerate(values):
        try:
            f = float(v)
        except ValueError:
            raise PredictionError(f"{what} row {i + 1} is not a number: {v[:40]!r}") from None
        if not math.isfinite(f):
            raise PredictionError(f"{what} row {i + 1} is not finite: {v!r}")
        out.append(f)
    return out


def score(
    metric: str,
    labels: Sequence[str],
    predictions: Sequence[str],
    probabilities: Mapping[str, Sequence[str]] | None = None,
) -> float:
    """The metric of ``predictions`` (and class ``probabilities``: class -> column) against ``labels``."""
    from sklearn import metrics as skm

    spec = METRICS[metric]
    n = len(labels)
    if len(predictions) != n:
        raise PredictionError(f"{len(predictions)} predictions for {n} held-out rows; predict every row of test.csv")
    if spec.kind == "number":
        y, p = _floats(labels, "label"), _floats(predictions, "prediction")
        if metric == "rmse":
            return math.sqrt(float(skm.mean_squared_error(y, p)))
        if metric == "mae":
            return float(skm.mean_absolute_error(y, p))
        return float(skm.r2_score(y, p))
    truth = [canonical_label(v) for v in labels]
    if spec.kind == "label":
        pred = [canonical_label(v) for v in predictions]
        if metric == "accuracy":
            return float(skm.accuracy_score(truth, pred))
        average = "binary" if len(set(truth)) == 2 and set(pred) <= set(truth) else "macro"
        pos = sorted(set(truth))[-1]
        return float(skm.f1_score(truth, pred, average=average, pos_label=pos, zero_division=0))
    if not probabilities:
        raise PredictionError(f"{metric} needs class probabilities: save_predictions(labels, probabilities=...)")
    classes = sorted(probabilities, key=canonical_label)
    cols = {canonical_label(c): _floats(probabilities[c], f"probability of {c}") for c in classes}
    missing = sorted(set(truth) - set(cols))
    if missing:
        raise PredictionError(f"no probability column for class(es) {missing[:5]}; give one per class")
    order = sorted(cols)
    if metric == "log_loss":  # rows of probabilities that do not quite sum to one are normalised
        sums = [sum(cols[c][i] for c in order) or 1.0 for i in range(n)]
        cols = {c: [v / sums[i] for i, v in enumerate(vals)] for c, vals in cols.items()}
    if len(order) == 2:
        return float(
            skm.roc_auc_score([t == order[1] for t in truth], cols[order[1]])
            if metric == "auc"
            else skm.log_loss(truth, [[cols[c][i] for c in order] for i in range(n)], labels=order)
        )
    matrix = [[cols[c][i] for c in order] for i in range(n)]
    if metric == "auc":
        return float(skm.roc_auc_score(truth, matrix, multi_class="ovr", labels=order))
    return float(skm.log_loss(truth, matrix, labels=order))
