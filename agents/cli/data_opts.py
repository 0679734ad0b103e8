"""The user-data options shared by ``shoal run``, ``shoal experiments`` and ``shoal ideas`` (and the same keys
in a workshop file's front matter; the command line wins), turned into one checked ``DataTask``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from agents.data.task import DataTask, front_matter_options, make_task, split_front_matter
from agents.errors import UserInputError
from agents.textfile import read_user_text

DataOpt = Annotated[Path | None, typer.Option("--data", help="your data directory (mounted read-only at /data)")]
GoalOpt = Annotated[str | None, typer.Option("--goal", help='what to achieve, e.g. "predict the price"')]
MetricOpt = Annotated[
    str | None, typer.Option("--metric", help="the metric to optimise: accuracy f1 auc log_loss rmse mae r2")
]
LowerOpt = Annotated[
    bool | None,
    typer.Option("--lower-is-better/--higher-is-better", help="direction of your own --metric", show_default=False),
]
TargetOpt = Annotated[
    str | None, typer.Option("--target", help="the column to predict (none: the class folder names, with --holdout)")
]
TestOpt = Annotated[Path | None, typer.Option("--test", help="a test table; its labels are never shown to the code")]
HoldoutOpt = Annotated[
    float | None,
    typer.Option(
        "--holdout", help="hold back this fraction of rows (or of each class folder's files) for Shoal's score"
    ),
]


def resolve_task(topic_file: Path | None = None, **cli: Any) -> DataTask:
    """The task from the topic file's front matter, overridden by the command-line options that were given."""
    merged: dict[str, Any] = {}
    if topic_file is not None and topic_file.is_file():
        try:
            pairs, _ = split_front_matter(read_user_text(topic_file, "topic file"))
        except UserInputError:
            pairs = {}  # load_topic reports an unreadable topic file
        merged = front_matter_options(pairs, topic_file.resolve().parent)
    merged.update({k: v for k, v in cli.items() if v is not None})
    return make_task(**merged)
