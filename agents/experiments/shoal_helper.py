"""shoal_helper: the tiny, dependency-free module every experiment program imports.

The experiment manager copies this file into each node directory. Generated code uses::

    from shoal_helper import log_metric, save_results, get_seed
    seed = get_seed()                     # the run's seed (0 unless this is a seed re-run)
    log_metric("val_accuracy", 0.93, dataset="digits", direction="maximize")   # (re)writes metrics.json
    save_results("learning_curve", {"epoch": [1, 2, 3], "val_loss": [1.0, 0.6, 0.45]})  # results/<name>.json

With the user's data (``shoal experiments --data DIR``)::

    from shoal_helper import data_dir, test_file, save_predictions
    train = os.path.join(data_dir(), "train.csv")   # read-only; $EXPERIMENT_DATA_DIR
    ...                                             # fit on the training rows only
    save_predictions(preds, probabilities=probs, classes=model.classes_)   # one per row of test_file(), in order

Shoal, not the program, scores predictions.csv against the held-out labels.

Importing it seeds Python's ``random`` and, when numpy is installed, numpy's global RNG with ``get_seed()``.
metrics.json: ``{"metrics": [{"name", "direction", "values": {dataset: float}, "std_err": {dataset: float}}]}``;
the first metric logged is the primary one.
"""

import json
import math
import os
import random

METRICS_FILE = "metrics.json"
RESULTS_DIR = "results"
SEED_ENV = "EXPERIMENT_SEED"
SEED_FILE = "seed.txt"
DATA_ENV = "EXPERIMENT_DATA_DIR"
TEST_ENV = "EXPERIMENT_TEST_FILE"
PREDICTIONS_FILE = "predictions.csv"


def get_seed(default=0):
    """The seed for this run: $EXPERIMENT_SEED, else seed.txt beside the program, else ``default``."""
    raw = os.environ.get(SEED_ENV)
    if raw is None and os.path.isfile(SEED_FILE):
        with open(SEED_FILE, encoding="utf-8") as fh:
            raw = fh.read().strip()
    try:
        return int(raw) if raw not in (None, "") else int(default)
    except ValueError:
        return int(default)


def _write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
    os.replace(tmp, path)


def _load_metrics():
    if not os.path.isfile(METRICS_FILE):
        return {"metrics": []}
    try:
        with open(METRICS_FILE, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {"metrics": []}
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), list):
        return {"metrics": []}
    return data


def log_metric(name, value, dataset="default", direction="maximize", std_err=None):
    """Record one metric value for one dataset (later calls for the same name and dataset overwrite it)."""
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction must be 'maximize' or 'minimize', not {direction!r}")
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"metric {name!r} for {dataset!r} is not a finite number: {value!r}")
    data = _load_metrics()
    entry = None
    for m in data["metrics"]:
        if m.get("name") == name:
            entry = m
            break
    if entry is None:
        entry = {"name": str(name), "direction": direction, "values": {}, "std_err": {}}
        data["metrics"].append(entry)
    entry["direction"] = direction
    entry.setdefault("values", {})[str(dataset)] = value
    if std_err is not None:
        entry.setdefault("std_err", {})[str(dataset)] = float(std_err)
    _write_json(METRICS_FILE, data)
    print(f"metric {name}[{dataset}] = {value:.6g}")


def _clean(value):
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _clean(value.tolist())
    if isinstance(value, (list, tuple)):
        return [float(v) for v in value]
    raise TypeError(f"save_results values must be numbers, strings or lists of numbers, not {type(value).__name__}")


def save_results(name, data):
    """Write results/<name>.json: a dict of str -> list of numbers | number | str. Plots are made from these."""
    if not isinstance(data, dict):
        raise TypeError("save_results needs a dict of str -> list[float] | float | str")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(name)) or "results"
    os.makedirs(RESULTS_DIR, exist_ok=True)
    _write_json(os.path.join(RESULTS_DIR, safe + ".json"), {str(k): _clean(v) for k, v in data.items()})


def data_dir():
    """The user's data directory (read-only), or None when this run has no data."""
    return os.environ.get(DATA_ENV) or None


def test_file():
    """The held-out rows to predict (features only, no target), or None when Shoal holds nothing back."""
    return os.environ.get(TEST_ENV) or None


def _cell(value):
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    return repr(float(value)) if isinstance(value, float) else str(value)


def save_predictions(predictions, probabilities=None, classes=None):
    """Write predictions.csv: one prediction per held-out row, in the order of test_file().

    For AUC and log loss also give ``probabilities`` (one row of class probabilities per prediction) and the
    ``classes`` they belong to (e.g. ``model.classes_``).
    """
    import csv

    preds = list(predictions.tolist() if hasattr(predictions, "tolist") else predictions)
    header = ["prediction"]
    rows = [[_cell(p)] for p in preds]
    if probabilities is not None:
        probs = probabilities.tolist() if hasattr(probabilities, "tolist") else list(probabilities)
        if classes is None:
            raise ValueError("save_predictions: give classes=[...] with probabilities (e.g. model.classes_)")
        names = [_cell(c) for c in (classes.tolist() if hasattr(classes, "tolist") else classes)]
        if len(probs) != len(rows):
            raise ValueError(f"save_predictions: {len(probs)} probability rows for {len(rows)} predictions")
        header += ["proba:" + c for c in names]
        for row, p in zip(rows, probs):  # noqa: B905 (lengths checked above; the helper supports old Pythons)
            p = list(p) if hasattr(p, "__len__") else [1.0 - float(p), float(p)]
            if len(p) != len(names):
                raise ValueError(f"save_predictions: {len(p)} probabilities for {len(names)} classes")
            row += [repr(float(v)) for v in p]
    with open(PREDICTIONS_FILE + ".tmp", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(PREDICTIONS_FILE + ".tmp", PREDICTIONS_FILE)
    print(f"saved {len(rows)} predictions to {PREDICTIONS_FILE}")


def _seed_everything():
    seed = get_seed()
    random.seed(seed)
    try:
        import numpy
    except ImportError:
        return
    numpy.random.seed(seed % (2**32))


_seed_everything()
