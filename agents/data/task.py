"""The user's data task: a data directory, a goal, a metric, and how honest scores are kept.

Given on the command line (``--data DIR --goal ... --metric rmse --lower-is-better --target price --holdout 0.2``)
or in a workshop Markdown file's front matter::

    ---
    data: ./house_prices
    goal: predict the price
    metric: rmse
    lower_is_better: true
    target: price
    holdout: 0.2
    ---
    # Title: ...

``check_task`` turns every bad input (a missing or empty data directory, an unreadable file, an unknown metric,
a target column that does not exist) into one ``UserInputError`` before any model call. The task is saved in the
run directory (``RunDir.data_task_path``); the data itself is never copied there.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agents.data.metrics import resolve_metric
from agents.errors import UserInputError

FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.S)
_KEYS = ("data", "goal", "metric", "lower_is_better", "higher_is_better", "target", "test", "holdout")


class DataTask(BaseModel):
    """Everything Shoal needs to run research on the user's data (absolute paths, resolved at creation)."""

    data_dir: str | None = None
    goal: str = ""
    metric: str | None = None
    higher_is_better: bool = True
    target: str | None = Field(default=None, description="the column to predict (held-out evaluation)")
    test_file: str | None = Field(default=None, description="the user's own test table (labels held back)")
    holdout: float | None = Field(default=None, description="fraction of the table's rows held back")
    split_format: int = Field(
        default=2, description="how the held-out rows are chosen (agents.data.split.FORMAT when the run began)"
    )

    @property
    def held_out(self) -> bool:
        return self.test_file is not None or self.holdout is not None

    @property
    def direction(self) -> str:
        return "maximize" if self.higher_is_better else "minimize"

    @property
    def active(self) -> bool:
        return bool(self.data_dir or self.goal or self.metric)


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """(``key: value`` pairs of a leading ``---`` block, the rest of the text); no block -> ({}, text)."""
    m = FRONT_MATTER.match(text)
    if not m:
        return {}, text
    pairs: dict[str, str] = {}
    for line in m.group(1).splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition(":")
        key = key.strip().lower().replace("-", "_")
        if not sep or key not in _KEYS:
            raise UserInputError(
                f"front matter line {line.strip()!r}: expected 'key: value' with a key among {', '.join(_KEYS)}"
            )
        pairs[key] = value.strip().strip("\"'")
    return pairs, text[m.end() :]


def _bool(value: str, key: str) -> bool:
    low = value.strip().lower()
    if low in ("true", "yes", "1", "on"):
        return True
    if low in ("false", "no", "0", "off"):
        return False
    raise UserInputError(f"front matter {key}: {value!r} is not true or false")


def front_matter_options(pairs: dict[str, str], base: Path) -> dict[str, Any]:
    """Front-matter pairs as ``make_task`` keyword arguments; relative paths are relative to the .md file."""
    out: dict[str, Any] = {}
    for key in ("data", "test"):
        if pairs.get(key):
            p = Path(os.path.expanduser(pairs[key]))
            out[key] = p if p.is_absolute() else base / p
    for key in ("goal", "metric", "target"):
        if pairs.get(key):
            out[key] = pairs[key]
    if "lower_is_better" in pairs:
        out["lower_is_better"] = _bool(pairs["lower_is_better"], "lower_is_better")
    if "higher_is_better" in pairs:
        out["lower_is_better"] = not _bool(pairs["higher_is_better"], "higher_is_better")
    if pairs.get("holdout"):
        try:
            out["holdout"] = float(pairs["holdout"])
        except ValueError:
            raise UserInputError(f"front matter holdout: {pairs['holdout']!r} is not a number like 0.2") from None
    return out


def _readable_dir(path: Path) -> Path:
    if not path.exists():
        raise UserInputError(f"--data {path}: the directory does not exist")
    if not path.is_dir():
        raise UserInputError(f"--data {path}: not a directory; put the data files in a directory and pass that")
    if not os.access(path, os.R_OK | os.X_OK):
        raise UserInputError(f"--data {path}: the directory is not readable (check its permissions)")
    if not any(p.is_file() for p in path.rglob("*") if not _hidden(p, path)):
        raise UserInputError(f"--data {path}: the directory holds no files; put the data set in it")
    return path.resolve()


def _hidden(p: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in p.relative_to(root).parts)


def make_task(
    *,
    data: Path | None = None,
    goal: str | None = None,
    metric: str | None = None,
    lower_is_better: bool | None = None,
    target: str | None = None,
    test: Path | None = None,
    holdout: float | None = None,
) -> DataTask:
    """A validated task from the user's options (files are checked for existence here, content in ``check``)."""
    if (test is not None or holdout is not None or target is not None) and data is None:
        raise UserInputError("--test, --holdout and --target need --data DIR (the training data)")
    if test is not None and holdout is not None:
        raise UserInputError("give either --test FILE or --holdout FRACTION, not both")
    if holdout is not None and not 0.0 < holdout < 1.0:
        raise UserInputError(f"--holdout {holdout}: give the fraction of rows to hold back, e.g. 0.2")
    held_out = test is not None or holdout is not None
    # without --target the labels are class folders' names (agents.data.folder_split): --holdout, or --test DIR
    if test is not None and not target and not Path(test).expanduser().is_dir():
        raise UserInputError("--test FILE needs --target COLUMN: the column Shoal scores predictions against")
    if test is not None and target and Path(test).expanduser().is_dir():
        raise UserInputError(
            f"--test {test} is a folder: give the test table's file with --target, or a folder of class folders "
            "without --target (the folder names are the labels)"
        )
    if held_out and not metric:
        raise UserInputError("--test/--holdout need --metric (e.g. rmse, accuracy, f1, auc, mae, r2, log_loss)")
    if lower_is_better is not None and not metric:
        raise UserInputError("--lower-is-better/--higher-is-better need --metric NAME")
    from agents.data.split import FORMAT  # a new task splits the current way; a run's recorded task keeps its own

    task = DataTask(goal=" ".join((goal or "").split()), target=target or None, holdout=holdout, split_format=FORMAT)
    if data is not None:
        task.data_dir = str(_readable_dir(Path(data).expanduser()))
    if test is not None:
        test = Path(test).expanduser()
        if not test.is_file() and not test.is_dir():
            raise UserInputError(f"--test {test}: the file does not exist")
        resolved = test.resolve()
        data_dir = Path(task.data_dir or "/nonexistent")
        if data_dir in resolved.parents or resolved == data_dir or resolved in data_dir.parents:
            raise UserInputError(
                f"--test {test} lies inside --data {task.data_dir} (or holds it): the program would see its "
                "labels; move the test data out of the data directory"
            )
        task.test_file = str(resolved)
    if metric:
        task.metric, task.higher_is_better = resolve_metric(metric, lower_is_better, held_out=held_out)
    return task
