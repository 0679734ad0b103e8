"""One run's user-data task at work: the card, the mounts and environment of every node, Shoal's own scoring.

``check_data(task, settings)`` is called by the commands before any model call (building the card reads every
file's header, the split checks the target column); ``save_data(run, session)`` records the task and the card in
the run directory. ``DataSession.for_run(run, settings)`` is what the experiment manager, the coder and
the writer use later (None when the run has no data task).

What a node sees: the training data read-only at ``/data`` (``$EXPERIMENT_DATA_DIR``) and, with held-out
scoring, the held-out rows without their target at ``/heldout/test.<ext>`` (``$EXPERIMENT_TEST_FILE``). The
node writes ``predictions.csv``; ``evaluate`` scores it against labels no node ever sees.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from agents.data.card import IMAGE_EXT, DataCard, build_card
from agents.data.dialect import Dialect, open_text
from agents.data.folder_split import read_counts
from agents.data.label_copies import label_copies, named_copies
from agents.data.layout import TEXT_EXT, text_sample
from agents.data.metrics import PredictionError, check_labels, score
from agents.data.render import card_text
from agents.data.split import Split, make_split, source_table
from agents.data.task import DataTask
from agents.errors import UserInputError
from agents.experiments.journal import Metric
from agents.rundir import RunDir
from agents.sandbox.base import ReadOnlyMount
from agents.settings import Settings

log = logging.getLogger(__name__)

DATA_TARGET = "/data"
HELDOUT_TARGET = "/heldout"
PREDICTIONS = "predictions.csv"
MAX_PREDICTION_BYTES = 512 * 1024 * 1024
HELDOUT_DATASET = "held-out"


@dataclass
class DataSession:
    task: DataTask
    card: DataCard | None
    split: Split | None
    settings: Settings

    # -- setup ---------------------------------------------------------------------------------------------------

    @classmethod
    def for_run(cls, run: RunDir, settings: Settings) -> DataSession | None:
        path = run.data_task_path
        if not path.is_file():
            return None
        task = DataTask.model_validate_json(path.read_text(encoding="utf-8"))
        for given in (task.data_dir, task.test_file):
            if given and not Path(given).exists():
                raise UserInputError(f"{run.path} works on {given}, which is gone; put it back to continue this run")
        card = _load_card(run, task, settings)
        split = _split(task, card, settings)
        return cls(task, card, split, settings)

    # -- what a node gets ----------------------------------------------------------------------------------------

    @property
    def scored_by_shoal(self) -> bool:
        """Held-out rows: a node's primary metric is Shoal's own score of its predictions."""
        return self.split is not None

    @property
    def holdout(self) -> Split | None:
        """The split when Shoal holds rows out of the user's own table (``--holdout``), else None."""
        return self.split if self.split is not None and self.task.holdout is not None else None

    @property
    def legacy_layout(self) -> bool:
        """A holdout run begun before split format 3: its nodes saw only ``/data/train.<ext>`` and still do when it
        is resumed (their programs read that name)."""
        return self.holdout is not None and self.task.split_format < 3

    def hidden_tables(self) -> list[str]:
        """Holdout mode: the other files that have or may hold the target column (a second copy of the table, the
        table compressed, the archive it came from: they could show the held-out rows' labels), which programs
        see empty."""
        return list(self._label_copies)

    @cached_property
    def _label_copies(self) -> dict[str, str]:
        held = self.holdout
        if held is None or not self.task.data_dir or self.legacy_layout:
            return {}
        if held.by_folder:
            return named_copies(Path(self.task.data_dir), self._folder_counts["names"], held.classes)
        assert self.task.target is not None
        return label_copies(Path(self.task.data_dir), self.task.target, held.source_rel)

    @cached_property
    def _folder_counts(self) -> dict[str, Any]:
        """Held-out files of class folders: what the split recorded (``folder_split.read_counts``), read once."""
        assert self.split is not None and self.split.by_folder
        return read_counts(self.split.root)

    def mounts(self) -> list[ReadOnlyMount]:
        """The user's directory at /data; with held-out rows, its table replaced by the rows not held out (under
        the table's own name, so that the card's files are all there) and the held-out features at /heldout."""
        if self.legacy_layout:
            assert self.split is not None
            return [
                ReadOnlyMount(self.split.train_dir, DATA_TARGET),
                ReadOnlyMount(self.split.features.parent, HELDOUT_TARGET),
            ]
        out = [ReadOnlyMount(Path(self.task.data_dir), DATA_TARGET)] if self.task.data_dir else []
        if (held := self.holdout) is not None and held.by_folder:  # each class folder without its held-out files
            out += [ReadOnlyMount(held.train_dir / rel, f"{DATA_TARGET}/{rel}") for rel in held.classes]
        elif held is not None:
            out.append(ReadOnlyMount(held.train_file, f"{DATA_TARGET}/{held.source_rel}"))
        if held is not None:
            for i, path in enumerate(self.hidden_tables()):  # one empty file each: Docker binds a source once
                empty = held.root / f"hidden-{i}.empty"
                empty.touch(exist_ok=True)
                out.append(ReadOnlyMount(empty, f"{DATA_TARGET}/{path}"))
        if self.split is not None:
            out.append(ReadOnlyMount(self.split.features.parent, HELDOUT_TARGET))
        return out

    def split_note(self) -> str:
        """One line for the user on what Shoal holds back ('' when nothing)."""
        held = self.split
        if held is not None and held.by_folder and self.task.test_file is not None:
            return f"Shoal scores predictions of the {held.rows:,} files of {self.task.test_file}'s class folders"
        if held is None or self.task.holdout is None:
            return ""
        if held.by_folder:
            names = [Path(c).name for c in held.classes]
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            return (
                f"held out {held.rows:,} of {held.rows + held.kept:,} files of {held.source_name} for Shoal's own "
                f"score; the label is the class folder's name ({len(names)} classes: {shown})"
            )
        return f"held out {held.rows:,} of {held.rows + held.kept:,} rows of {held.source_rel} for Shoal's own score"

    def env(self) -> dict[str, str]:
        env = {"EXPERIMENT_DATA_DIR": DATA_TARGET} if self.task.data_dir else {}
        if self.split is not None:
            env["EXPERIMENT_TEST_FILE"] = f"{HELDOUT_TARGET}/{self.split.features.name}"
        return env

    def prompt(self, max_chars: int | None = None) -> dict[str, Any]:
        """The ``data`` variable of the coder, ideation and writer prompts (bounded)."""
        t = self.task
        limit = max_chars or self.settings.data.card_max_chars
        card = self.visible_card()
        return {
            "goal": t.goal,
            "metric": t.metric or "",
            "direction": t.direction,
            "target": t.target or "",
            "held_out": t.held_out,
            "has_data": bool(t.data_dir),
            "train_files": self._train_files(),
            "test_file": f"{HELDOUT_TARGET}/{self.split.features.name}" if self.split else "",
            "test_rows": self.split.rows if self.split else 0,
            "by_folder": self._by_folder(),
            "card": card_text(card, limit, keep=(t.target,) if t.target else ()) if card else "",
            "train_table": self._train_table(),
            "read_args": self._read_args(),
        }

    def _by_folder(self) -> dict[str, Any] | None:
        """Held-out files of class folders: where the training files are, their classes and kind, else None."""
        if (held := self.split) is None or not held.by_folder:
            return None
        counts = self._folder_counts
        parent = f"{DATA_TARGET}/{counts['parent']}" if counts["parent"] else DATA_TARGET
        ext = counts["ext"]
        kind = "image" if ext in IMAGE_EXT else "text" if ext in TEXT_EXT else "other"
        classes = [Path(rel).name for rel in held.classes]
        return {"parent": parent, "ext": ext, "kind": kind, "classes": classes, "files": held.kept}

    def _read_args(self) -> str:
        """``, sep=';', ...`` for the loading example when the training table is not plain comma-separated UTF-8."""
        entry = self.card.table_with(self.task.target) if self.card and self.task.target else None
        args = entry.dialect.read_args() if entry is not None else ""
        return f", {args}" if args else ""

    def _train_table(self) -> str:
        """The training table's path under the data directory, for the loading example ('' when unknown or when
        the labels are class folders)."""
        if self.split is not None and self.split.by_folder:
            return ""
        if self.holdout is not None:
            return self.holdout.train_file.name if self.legacy_layout else self.holdout.source_rel
        entry = self.card.table_with(self.task.target) if self.card and self.task.target else None
        return entry.path if entry is not None else ""

    def visible_card(self) -> DataCard | None:
        """The card as models may see it: with held-out rows, the table's rows and example rows are its training
        part's (with held-out files, the class folders' counts are), and the files hidden from programs say so."""
        if self.card is None or (held := self.holdout) is None:
            return self.card
        card = self.card.model_copy(deep=True)
        if held.by_folder:  # a held-out file's own line (a class folder of a few files) would show its start
            gone = set(self._folder_counts["names"])
            card.files = [entry for entry in card.files if entry.path not in gone]
        for entry in card.files:
            if held.by_folder and entry.path not in self._label_copies:
                continue
            if entry.path == held.source_rel and self.legacy_layout:
                entry.head = _first_rows(held.train_file, len(entry.head), entry.dialect)
            elif entry.path == held.source_rel:
                entry.rows, entry.rows_estimated = held.kept, False
                entry.size_bytes = held.train_file.stat().st_size
                entry.head = _first_rows(held.train_file, len(entry.head), entry.dialect)
                entry.note = f"the rows not held out ({held.rows:,} held out by Shoal)"
            elif entry.path in self._label_copies:
                entry.rows, entry.columns, entry.head, entry.text = None, [], [], ""
                entry.note = f"hidden from programs (empty): {self._label_copies[entry.path]}, so it could show "
                entry.note += "the held-out labels"
        for group in card.groups if held.by_folder else []:
            if group.folder in held.classes:  # the files not held out, as a node sees them
                kept = sorted(p for p in (held.train_dir / group.folder).iterdir() if p.suffix.lower() == group.ext)
                group.count, group.examples = len(kept), [p.name for p in kept[: len(group.examples)]]
                group.total_bytes = sum(p.stat().st_size for p in kept)
                group.sample = text_sample(kept[0]) if group.sample and kept else ""
        return card

    def topic_text(self) -> str:
        """The goal and a short card, appended to the ideation topic."""
        from agents.prompts import render_text

        return render_text("_partials/data_topic", {"data": self.prompt(self.settings.data.card_max_chars // 2)})

    def _train_files(self) -> list[str]:
        if self.holdout is not None and self.legacy_layout:
            return [
                f"{DATA_TARGET}/{self.holdout.train_file.name} (the rows of {self.holdout.source_name} not held out)"
            ]
        if self.card is None:
            return []
        hidden = set(self.hidden_tables())
        held = self.holdout
        source = held.source_rel if held is not None and not held.by_folder else None
        files = [f"{DATA_TARGET}/{source} (the rows not held out)"] if source else []
        if (folders := self._by_folder()) is not None:
            names = ", ".join(folders["classes"][:10]) + (", ..." if len(folders["classes"]) > 10 else "")
            files.append(
                f"{folders['parent']}/<class>/*{folders['ext']} ({folders['files']:,} files"
                f"{' not held out' if held is not None else ''}, in "
                f"{len(folders['classes'])} class folders: {names}; the folder name is the label; list them with "
                "glob.glob)"
            )
        files += [f"{DATA_TARGET}/{f.path}" for f in self.card.files if f.path not in hidden and f.path != source]
        classes = set(self.split.classes) if self.split is not None else set()
        groups = [  # the small model made names up ('{i}.txt' for 0000.txt) when not told to list them
            f"{DATA_TARGET}/{g.pattern} ({g.count:,} files such as {g.examples[0]}: list them with glob.glob)"
            for g in self.card.groups[:8]
            if g.folder not in classes
        ]
        return files[:8] + groups

    # -- scoring -------------------------------------------------------------------------------------------------

    def required_metric(self) -> Metric | None:
        """The user's metric as the program must report it (no held-out scoring), else None."""
        if self.task.metric is None or self.task.held_out:
            return None
        return Metric(name=self.task.metric, direction=self.task.direction, values={})  # type: ignore[arg-type]

    def evaluate(self, node_dir: Path) -> tuple[Metric | None, str]:
        """Shoal's own score of the node's predictions on the held-out rows, or None and why it cannot be had."""
        assert self.split is not None and self.task.metric is not None
        path = node_dir / PREDICTIONS
        if not path.is_file():
            return None, "no predictions.csv: call save_predictions(...) from shoal_helper for the rows of test_file()"
        if path.is_symlink() or not path.is_file():  # a link could point at a host file (even the labels)
            return None, "predictions.csv must be a regular file written by save_predictions, not a link"
        if path.stat().st_size > MAX_PREDICTION_BYTES:
            return None, "predictions.csv is too large; write one prediction per held-out row"
        try:
            with path.open(newline="", encoding="utf-8") as fh:
                rows = list(csv.reader(fh))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            return None, f"predictions.csv cannot be read: {exc}"
        if not rows or not rows[0] or rows[0][0] != "prediction":
            return None, "predictions.csv must start with the header 'prediction' (use save_predictions)"
        header, body = rows[0], rows[1:]
        preds = [r[0] if r else "" for r in body]
        probs = {h.removeprefix("proba:"): [r[i] if i < len(r) else "" for r in body] for i, h in enumerate(header)}
        probs = {k: v for k, v in probs.items() if k != "prediction" and f"proba:{k}" in header}
        try:
            value = score(self.task.metric, self.split.read_labels(), preds, probs or None)
        except PredictionError as exc:
            return None, f"predictions.csv: {exc}"
        except ValueError as exc:  # scikit-learn's own complaint (e.g. one class only)
            return None, f"predictions.csv cannot be scored: {str(exc).splitlines()[0][:200]}"
        metric = Metric(name=self.task.metric, direction=self.task.direction, values={HELDOUT_DATASET: value})  # type: ignore[arg-type]
        return metric, ""


def _first_rows(path: Path, n: int, dialect: Dialect) -> list[list[str]]:
    if path.suffix != ".csv" or n <= 0:
        return []  # a Parquet training part: no example rows rather than rows that might be held out
    with open_text(path, dialect) as fh:
        reader = csv.reader(fh, delimiter=dialect.delimiter)
        next(reader, None)
        return [[v[:24] for v in row] for _, row in zip(range(n), reader, strict=False)]


def _load_card(run: RunDir, task: DataTask, settings: Settings) -> DataCard | None:
    if not task.data_dir:
        return None
    path = run.data_card_path
    if path.is_file():
        return DataCard.model_validate_json(path.read_text(encoding="utf-8"))
    card = _build(task, settings)
    path.write_text(card.model_dump_json(indent=1), encoding="utf-8")
    return card


def _split(task: DataTask, card: DataCard | None, settings: Settings) -> Split | None:
    if card is None or not task.held_out:
        return None
    return make_split(task, card, settings.cache_dir, settings.data.split_seed, HELDOUT_TARGET)


def _build(task: DataTask, settings: Settings) -> DataCard:
    assert task.data_dir is not None
    cfg = settings.data
    return build_card(Path(task.data_dir), exact_max_mb=cfg.exact_max_mb, sample_rows=cfg.sample_rows)


def check_data(task: DataTask, settings: Settings) -> DataSession | None:
    """Check the task against the data before anything else happens (card, target column, split); None when
    there is no task. Every problem is one UserInputError."""
    if not task.active:
        return None
    card = _build(task, settings) if task.data_dir else None
    if card is not None and task.target and card.table_with(task.target) is None:
        source_table(task, card)  # the clear "no table has this column" error
    split = _split(task, card, settings)
    if split is not None and task.metric is not None and split.by_folder:
        check_labels(task.metric, "the class folder's name", split.read_labels())
    elif split is not None and task.metric is not None and task.target is not None:
        entry = card.table_with(task.target) if card is not None else None
        column = next((c for c in entry.columns if c.name == task.target), None) if entry is not None else None
        table = None
        if entry is not None and column is not None and column.distinct is not None:
            table = (column.type, column.distinct, (entry.sampled_rows or entry.rows or 0) - column.missing)
        check_labels(task.metric, task.target, split.read_labels(), table)
    if split is not None and split.unlabelled:
        log.warning(
            "%d row(s) of %s have no %r value: they cannot be scored and are left out of the held-out rows",
            split.unlabelled,
            split.source_name,
            task.target,
        )
    return DataSession(task, card, split, settings)


def save_data(run: RunDir, session: DataSession | None) -> None:
    """Record the checked task and its card in the run directory (the data itself stays where it is)."""
    if session is None:
        return
    run.data_task_path.write_text(json.dumps(session.task.model_dump(mode="json"), indent=1), encoding="utf-8")
    if session.card is not None:
        run.data_card_path.write_text(session.card.model_dump_json(indent=1), encoding="utf-8")


def data_summary(run: RunDir, max_chars: int = 1500) -> str:
    """The run's goal, metric and data card as text for the writer ('' when the run has no data task)."""
    from agents.prompts import render_text
    from agents.settings import Settings as _Settings

    if not run.data_task_path.is_file():
        return ""
    task = DataTask.model_validate_json(run.data_task_path.read_text(encoding="utf-8"))
    card = None
    if run.data_card_path.is_file():
        card = DataCard.model_validate_json(run.data_card_path.read_text(encoding="utf-8"))
    session = DataSession(task, card, None, _Settings())
    return render_text("_partials/data_topic", {"data": session.prompt(max_chars)})


def coder_context(
    run: RunDir, settings: Settings, sandbox: Any, baseline_code: str | None
) -> tuple[DataSession | None, dict[str, Any] | None, dict[str, Any]]:
    """What the experiment manager's coder needs: the run's data session, its prompt variables, the rules."""
    from agents.data.environment import coder_environment
    from agents.experiments.program import is_bundle

    session = DataSession.for_run(run, settings)
    env = coder_environment(settings, sandbox, multi_file=is_bundle(baseline_code or ""))
    return session, session.prompt() if session else None, env
