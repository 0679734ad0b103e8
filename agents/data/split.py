"""Held-out rows the generated code never sees: a seeded, streaming split of the user's table.

``--holdout 0.2``: the table that holds the target column is read row by row, twice: once to count the rows that
have a target value, then to send exactly round(0.2 x that count) of them, drawn by a seeded RNG, to the held-out
part (the same data gives the same split; a run begun before this keeps its own, ``DataTask.split_format``).
``--test FILE``: the user's test table is the held-out part. Either way Shoal writes, outside the run directory
(under the cache dir, keyed by the inputs), three things (``--holdout`` without ``--target`` on a directory with a
folder per class holds out files instead: ``agents.data.folder_split``):

- ``train/``: the training rows (holdout mode only; with ``--test`` the data directory itself is the training part);
  a node sees them under the source table's own name, in the rest of the user's directory (agents.data.session)
- ``features/test.<ext>``: the held-out rows without the target column (the program predicts these, in order)
- ``labels.csv``: the held-out target values, read only by Shoal's evaluator, never mounted

CSV files keep the training table's dialect (delimiter, encoding, decimal mark: ``agents.data.dialect``), so the
data card's "read it with" line fits both parts. A row whose target is missing can never be scored: in holdout
mode it stays in the training part; in a ``--test`` table it is left out and counted (``Split.unlabelled``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

from agents.data.card import WORKBOOK_NOTE, DataCard, is_missing
from agents.data.dialect import ERRORS, Dialect, open_text, sniff
from agents.data.folder_split import LABELS as FOLDER_LABELS
from agents.data.folder_split import LIST as FOLDER_LIST
from agents.data.folder_split import folder_split_root, read_counts, test_split_root
from agents.data.split_cache import COUNTS, build_once
from agents.data.task import DataTask
from agents.errors import UserInputError

LABELS = "labels.csv"
# How the held-out rows are chosen and written (a run records the format it started with: DataTask.split_format)
# 2: dialects kept, rows without a target never held out, each labelled row held out with probability F;
# 3: as 2, but exactly round(F x labelled rows) held out (at least one row on each side)
FORMAT = 3


class _Picker:
    """Says, labelled row after labelled row, whether it is held out (one seeded stream per split).

    Format 2 drew each row with probability ``frac``: on small tables the count strays far from the fraction
    (seed 0 held out 12 of 100 rows at 0.25). Format 3 knows the number of labelled rows (a first pass) and draws
    exactly ``round(frac x rows)`` of them, each subset equally likely (selection sampling, Knuth's Algorithm S)."""

    def __init__(self, seed: int, frac: float, labelled: int | None) -> None:
        self.rng = random.Random(seed)
        self.frac = frac
        self.left = labelled
        self.need = 0 if labelled is None else max(1, min(labelled - 1, round(frac * labelled)))

    def __call__(self) -> bool:
        if self.left is None:
            return self.rng.random() < self.frac
        take = self.rng.random() * self.left < self.need
        self.left -= 1
        self.need -= take
        return take


@dataclass(frozen=True)
class Split:
    root: Path
    train_dir: Path  # what is mounted at /data
    features: Path  # the held-out rows without the target (mounted under /heldout)
    labels: Path  # never mounted
    rows: int  # held-out rows
    source_name: str = ""  # the table the rows came from
    unlabelled: int = 0  # rows of the user's test table without a target value (not scored)
    source_rel: str = ""  # holdout mode: that table's path in the data directory (where its training part shows)
    kept: int = 0  # holdout mode: the training part's rows
    classes: tuple[str, ...] = ()  # held-out files (agents.data.folder_split): the class folders, else ()

    @property
    def by_folder(self) -> bool:
        """Files held out of class folders (the folder name is the label), not rows of a table."""
        return bool(self.classes)

    @property
    def train_file(self) -> Path:
        """Holdout mode: the training part of the source table (in the source's own format and dialect)."""
        return self.train_dir / f"train{self.features.suffix}"

    def read_labels(self) -> list[str]:
        with self.labels.open(newline="", encoding="utf-8", errors=ERRORS) as fh:
            return [row[0] if row else "" for row in list(csv.reader(fh))[1:]]


def _fingerprint(path: Path) -> dict[str, object]:
    st = path.stat()
    return {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _csv_labelled(src: Path, dialect: Dialect, ti: int) -> int:
    """The rows of ``src`` that have a value in column ``ti`` (a streaming pass)."""
    with open_text(src, dialect) as fin:
        reader = csv.reader(fin, delimiter=dialect.delimiter)
        next(reader, None)
        return sum(1 for row in reader if row and not is_missing(row[ti] if ti < len(row) else ""))


def _csv_split(
    src: Path,
    target: str,
    train: Path | None,
    out: Dialect,
    files: tuple[Path, Path],
    frac: float,
    seed: int,
    exact: bool,
) -> tuple[int, int, int]:
    """Stream ``src`` (in its own dialect) into the training part and the held-out features (in ``out``, the
    training table's dialect, so one way of reading fits both) and the labels (plain UTF-8). Rows without a target
    value cannot be scored: they stay in the training part, or, from a test table, are left out and counted."""
    feats, labels = files
    src_dialect = sniff(src)
    held = kept = unlabelled = 0
    with open_text(src, src_dialect) as fin:
        reader = csv.reader(fin, delimiter=src_dialect.delimiter)
        header = next(reader, None) or []
        if target not in header:
            raise UserInputError(f"--target {target!r} is not a column of {src} (columns: {', '.join(header[:30])})")
        ti = header.index(target)
        pick = _Picker(seed, frac, _csv_labelled(src, src_dialect, ti) if exact and train is not None else None)
        with (
            open_text(train, out, "w") if train else open(os.devnull, "w") as ftr,
            open_text(feats, out, "w") as ffe,
            labels.open("w", newline="", encoding="utf-8", errors=ERRORS) as fla,
        ):
            wtr, wfe = csv.writer(ftr, delimiter=out.delimiter), csv.writer(ffe, delimiter=out.delimiter)
            wla = csv.writer(fla)
            wtr.writerow(header)
            wfe.writerow([h for i, h in enumerate(header) if i != ti])
            wla.writerow([target])
            for row in reader:
                if not row:
                    continue
                value = row[ti] if ti < len(row) else ""
                if train is not None and (is_missing(value) or not pick()):
                    kept += 1
                    wtr.writerow(row)
                elif is_missing(value):
                    unlabelled += 1
                else:
                    held += 1
                    wfe.writerow([src_dialect.rewrite(v, out) for i, v in enumerate(row) if i != ti])
                    wla.writerow([src_dialect.number(value)])
    return held, kept, unlabelled


def _parquet_split(
    src: Path, target: str, train: Path | None, feats: Path, labels: Path, frac: float, seed: int, exact: bool
) -> tuple[int, int, int]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(src)
    if target not in pf.schema_arrow.names:
        names = ", ".join(pf.schema_arrow.names[:30])
        raise UserInputError(f"--target {target!r} is not a column of {src} (columns: {names})")
    labelled = None
    if exact and train is not None:
        labelled = sum(
            sum(not is_missing(v) for v in b.column(0).to_pylist()) for b in pf.iter_batches(columns=[target])
        )
    pick = _Picker(seed, frac, labelled)
    held = kept = unlabelled = 0
    feat_schema = pf.schema_arrow.remove(pf.schema_arrow.get_field_index(target))
    wtr = pq.ParquetWriter(train, pf.schema_arrow) if train else None
    wfe = pq.ParquetWriter(feats, feat_schema)
    with labels.open("w", newline="", encoding="utf-8") as fla:
        wla = csv.writer(fla)
        wla.writerow([target])
        for batch in pf.iter_batches(batch_size=65536):
            table = pa.Table.from_batches([batch])
            valid = [not is_missing(v) for v in table.column(target).to_pylist()]
            mask = pa.array([ok and (train is None or pick()) for ok in valid])
            if train is None:
                unlabelled += valid.count(False)
            test = table.filter(mask)
            held += test.num_rows
            wfe.write_table(test.drop_columns([target]))
            for v in test.column(target).to_pylist():
                wla.writerow(["" if v is None else v])
            if wtr is not None:
                kept += table.num_rows - test.num_rows
                wtr.write_table(table.filter(pc.invert(mask)))
    wfe.close()
    if wtr is not None:
        wtr.close()
    return held, kept, unlabelled


def _split_into(task: DataTask, source: Path, out: Dialect, tmp: Path, seed: int, frac: float) -> tuple[int, int, int]:
    feats_dir = tmp / "features"
    feats_dir.mkdir(parents=True)
    ext = ".parquet" if source.suffix.lower() in (".parquet", ".pq") else ".csv"
    train = None
    if task.holdout is not None:
        (tmp / "train").mkdir()
        train = tmp / "train" / f"train{ext}"
    feats, labels = feats_dir / f"test{ext}", tmp / LABELS
    assert task.target is not None
    exact = task.split_format >= 3
    if ext == ".parquet":
        return _parquet_split(source, task.target, train, feats, labels, frac, seed, exact)
    return _csv_split(source, task.target, train, out, (feats, labels), frac, seed, exact)


def source_table(task: DataTask, card: DataCard) -> Path:
    """The table the held-out rows come from (the user's test file, or the data table with the target)."""
    if task.test_file is not None:
        return Path(task.test_file)
    assert task.data_dir is not None and task.target is not None
    entry = card.table_with(task.target)
    if entry is not None and entry.path.lower().endswith((".json", ".jsonl", ".ndjson")):
        lines = ", lines=True" if not entry.path.lower().endswith(".json") else ""
        raise UserInputError(
            f"--target {task.target!r} is a column of {entry.path}, a JSON file; Shoal holds rows out of CSV and "
            f"Parquet tables only: convert it, e.g. pandas.read_json('{entry.path}'{lines}).to_csv('"
            f"{Path(entry.path).with_suffix('.csv')}', index=False), and give the folder with the CSV"
        )
    if entry is None:
        cols = sorted({c.name for t in card.tables() for c in t.columns})
        books = [f.path for f in card.files if f.note == WORKBOOK_NOTE]
        raise UserInputError(
            f"--target {task.target!r}: no CSV or Parquet table in {task.data_dir} has this column"
            + (f" (columns: {', '.join(cols[:30])})" if cols else " (it holds no CSV or Parquet table)")
            + (
                f"; {', '.join(books[:3])}: export the sheet as CSV (UTF-8), Shoal does not read workbooks"
                if books
                else ""
            )
        )
    return Path(task.data_dir) / entry.path


def make_split(task: DataTask, card: DataCard, cache_dir: Path, seed: int, heldout_dir: str) -> Split:
    """The held-out split for ``task`` (built once per distinct input and reused); ``heldout_dir`` is where a
    node sees the held-out part."""
    if task.target is None:  # held-out files of class folders: --holdout, or --test DIR
        return _folder_split(task, cache_dir, seed, heldout_dir)
    if card.table_with(task.target) is None:
        source_table(task, card)  # raises the clear "no such column" error
    source = source_table(task, card)
    entry = card.table_with(task.target) if task.target else None
    out = entry.dialect if entry is not None else Dialect()
    frac = task.holdout or 0.0
    key_data = {
        "source": _fingerprint(source),
        "target": task.target,
        "holdout": frac,
        "seed": seed,
        "dialect": [out.delimiter, out.encoding, out.decimal],
        "format": task.split_format,
    }
    key = hashlib.sha256(json.dumps(key_data, sort_keys=True).encode()).hexdigest()[:16]

    def write(tmp: Path) -> None:
        held, kept, unlabelled = _split_into(task, source, out, tmp, seed, frac)
        if held == 0 and unlabelled:
            raise UserInputError(f"no row of {source} has a value in {task.target!r}: nothing can be scored")
        if held == 0 or (task.holdout is not None and kept == 0):
            raise UserInputError(f"the split of {source} left no held-out or no training rows; use more data")
        (tmp / COUNTS).write_text(json.dumps({"held": held, "kept": kept, "unlabelled": unlabelled}), encoding="utf-8")

    root = build_once(Path(cache_dir) / "data-splits" / key, write)
    counts = json.loads((root / COUNTS).read_text(encoding="utf-8"))
    feats = next((root / "features").iterdir())
    holdout = task.holdout is not None
    train_dir = root / "train" if holdout else Path(task.data_dir or "")
    rel = source.relative_to(Path(task.data_dir or "")).as_posix() if holdout else ""
    held, kept = int(counts["held"]), int(counts["kept"])
    return Split(root, train_dir, feats, root / LABELS, held, source.name, int(counts["unlabelled"]), rel, kept)


def _folder_split(task: DataTask, cache_dir: Path, seed: int, heldout_dir: str) -> Split:
    assert task.data_dir is not None
    if task.test_file is not None:
        root = test_split_root(Path(task.data_dir), Path(task.test_file), cache_dir, seed, heldout_dir)
    else:
        assert task.holdout is not None
        root = folder_split_root(Path(task.data_dir), cache_dir, seed, task.holdout, heldout_dir)
    c = read_counts(root)
    name = f"{c['parent']}/<class>/*{c['ext']}" if c["parent"] else f"<class>/*{c['ext']}"
    feats, labels = root / "features" / FOLDER_LIST, root / FOLDER_LABELS
    return Split(root, root / "train", feats, labels, c["held"], name, 0, c["parent"], c["kept"], tuple(c["classes"]))
