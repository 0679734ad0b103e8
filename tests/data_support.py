"""Helpers for the user-data tests and bench: real scikit-learn data sets written to CSV, and a scripted coder
that writes honest (and, on request, cheating) programs against the data contract."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from exp_support import fenced, last_user, parent_code

from agents.testing import RecordedRequest, Reply, ScriptedServer, text

DATASETS = {
    "diabetes": ("target", "rmse", False),
    "wine": ("target", "accuracy", True),
    "digits": ("target", "accuracy", True),  # 8x8 images as 64 pixel columns: a linear model is not the ceiling
}


def write_dataset(name: str, directory: Path) -> Path:
    """``directory/<name>.csv`` from scikit-learn's bundled copy (no download); the label column is 'target'."""
    from sklearn import datasets

    loader = {"diabetes": datasets.load_diabetes, "wine": datasets.load_wine, "digits": datasets.load_digits}[name]
    classes = DATASETS[name][1] == "accuracy"
    bunch = loader()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*(str(n).replace("/", "_") for n in bunch.feature_names), "target"])
        for x, y in zip(bunch.data, bunch.target, strict=True):
            w.writerow([f"{v:.6g}" for v in x] + [int(y) if classes else float(y)])
    return path


PROGRAM = """import os
import numpy as np
from sklearn.linear_model import Ridge, LogisticRegression
from sklearn.preprocessing import StandardScaler
from shoal_helper import data_dir, test_file, save_predictions, save_results, log_metric

alpha = {alpha}
names = sorted(f for f in os.listdir(data_dir()) if f.endswith(".csv"))
train = np.genfromtxt(os.path.join(data_dir(), names[0]), delimiter=",", names=True)
cols = [c for c in train.dtype.names if c != "target"]
X = np.column_stack([train[c] for c in cols])
y = train["target"]
test = np.genfromtxt(test_file(), delimiter=",", names=True)
X_test = np.column_stack([test[c] for c in cols])
scaler = StandardScaler().fit(X)
model = {model}
model.fit(scaler.transform(X), y)
save_predictions(model.predict(scaler.transform(X_test)))
fit = model.predict(scaler.transform(X))
save_results("loss_curve", {{"step": [0, 1], "train_mse": [float(np.var(y)), float(np.mean((fit - y) ** 2))]}})
log_metric("val_{metric}", {fake}, direction="{direction}")
"""


def program(kind: str, alpha: float = 1.0, fake: float = 0.5, bug: bool = False) -> str:
    model = "Ridge(alpha=alpha)" if kind == "regression" else "LogisticRegression(C=1.0 / alpha, max_iter=500)"
    metric, direction = ("rmse", "minimize") if kind == "regression" else ("accuracy", "maximize")
    code = PROGRAM.format(alpha=alpha, model=model, metric=metric, direction=direction, fake=fake)
    return code.replace("y = train", "y = train_labels") if bug else code


class DataCoder:
    """Answers every coder prompt: drafts a (first buggy, then) scikit-learn program; edits change ``alpha``."""

    def __init__(self, kind: str = "regression", buggy_drafts: int = 1, fake: float = 0.5) -> None:
        self.kind, self.buggy_drafts, self.fake = kind, buggy_drafts, fake
        self.drafts = 0
        self.prompts: list[str] = []

    def draft(self, req: RecordedRequest) -> Reply:
        self.prompts.append(last_user(req))
        self.drafts += 1
        return text(fenced(program(self.kind, fake=self.fake, bug=self.drafts <= self.buggy_drafts), "ridge"))

    def edit(self, req: RecordedRequest) -> Reply:
        self.prompts.append(last_user(req))
        code = parent_code(req)
        if "failed. Fix the bug" in last_user(req):
            return text(fenced(code.replace("y = train_labels", "y = train"), "fix the name"))
        m = re.search(r"^alpha = ([0-9.]+)$", code, re.M)
        alpha = float(m.group(1)) if m else 1.0
        return text(fenced(re.sub(r"^alpha = .*$", f"alpha = {alpha / 10:g}", code, flags=re.M), "less shrinkage"))

    def install(self, server: ScriptedServer) -> None:
        server.always("coder/draft", self.draft)
        server.always("coder/edit", self.edit)
        server.always("coder/patch", self.edit)  # a whole program where edits were asked for: it is used as is
