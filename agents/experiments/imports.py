"""Missing imports of well-known names, added before a program runs.

Small models often use ``np``, ``os`` or ``data_dir`` without importing them (in the embedded model's runs on
user data, 2 of 5 programs died of a NameError on such a name; in the demo, ``plt``). That is a slip, not a
wrong idea, and a debug round for it costs a model call. So before a coder-written program runs, a name that the
program reads, never binds, and that has one conventional meaning (below) gets its import line at the top,
marked ``# added by Shoal``. Names with no entry, programs with ``import *``, and programs that do not parse are
left alone (a syntax error is the coder's to fix). The user's own baseline program is never changed.
"""

from __future__ import annotations

import ast
import builtins

from agents.experiments.program import is_bundle, join_bundle, split_bundle

MARK = "  # added by Shoal: the program used this name without importing it"

_MODULES = ("os", "sys", "json", "math", "time", "random", "re", "csv", "glob", "shutil", "itertools", "pickle")
_FROM: dict[str, tuple[str, ...]] = {
    "shoal_helper": ("log_metric", "save_results", "get_seed", "data_dir", "test_file", "save_predictions"),
    "pathlib": ("Path",),
    "collections": ("Counter", "defaultdict", "OrderedDict"),
    "sklearn.model_selection": ("train_test_split", "KFold", "StratifiedKFold", "cross_val_score", "GridSearchCV"),
    "sklearn.linear_model": ("LinearRegression", "LogisticRegression", "Ridge", "Lasso", "ElasticNet"),
    "sklearn.ensemble": (
        "RandomForestRegressor",
        "RandomForestClassifier",
        "GradientBoostingRegressor",
        "GradientBoostingClassifier",
    ),
    "sklearn.preprocessing": ("StandardScaler", "MinMaxScaler", "PolynomialFeatures", "OneHotEncoder"),
    "sklearn.pipeline": ("make_pipeline", "Pipeline"),
    "sklearn.metrics": (
        "mean_squared_error",
        "mean_absolute_error",
        "r2_score",
        "accuracy_score",
        "f1_score",
        "roc_auc_score",
        "log_loss",
    ),
}
KNOWN: dict[str, str] = {
    **{m: f"import {m}" for m in _MODULES},
    "np": "import numpy as np",
    "pd": "import pandas as pd",
    "plt": "import matplotlib.pyplot as plt",
    **{name: f"from {mod} import {name}" for mod, names in _FROM.items() for name in names},
}


def _bound_and_read(tree: ast.Module) -> tuple[set[str], set[str], bool]:
    """Names the program binds anywhere, names it reads, and whether it has a star import."""
    bound: set[str] = set()
    read: set[str] = set()
    star = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    star = True
                bound.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            bound.update(node.names)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            bound.add(node.name)
    return bound, read, star


def _insert_at(tree: ast.Module) -> int:
    """The line index after the module docstring and ``from __future__`` imports."""
    line = 0
    for i, stmt in enumerate(tree.body):
        docstring = i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        future = isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"
        if not (docstring or future):
            break
        line = stmt.end_lineno or line
    return line


def _fix_file(text: str) -> tuple[str, list[str]]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return text, []
    bound, read, star = _bound_and_read(tree)
    if star:
        return text, []
    missing = sorted(n for n in read - bound if n in KNOWN and not hasattr(builtins, n))
    if not missing:
        return text, []
    lines = text.splitlines(keepends=True)
    at = _insert_at(tree)
    added = [KNOWN[n] + MARK + "\n" for n in missing]
    return "".join(lines[:at] + added + lines[at:]), missing


def add_missing_imports(code: str) -> tuple[str, list[str]]:
    """``code`` with the import of every well-known name it reads but never binds; and those names."""
    if not is_bundle(code):
        return _fix_file(code)
    files, names = [], []
    for name, text in split_bundle(code):
        fixed, added = _fix_file(text) if name.endswith(".py") else (text, [])
        files.append((name, fixed))
        names += added
    return join_bundle(files), names
