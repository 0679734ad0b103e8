"""The data card: what is in the user's data directory, built deterministically and without loading big files.

For every file (sorted, hidden files skipped): its size; for CSV/TSV, JSON Lines, JSON and Parquet tables the
columns, their types, missing values, a numeric range or a few distinct values, the row count and a few rows;
for images their count and shapes (headers only), by folder; many files of one kind in a folder (a text corpus)
as one group, and the start of text files (``agents.data.layout``); for NumPy ``.npy``/``.npz`` the arrays'
shapes and dtypes (headers only). A table larger than ``exact_max_mb`` is sampled: its first ``sample_rows``
rows are read and its row count is estimated from the bytes per row, so a 10 GB file costs a few megabytes.
The same directory gives the same card (no timestamps, sorted order), so it can be cached in the run directory.
"""

from __future__ import annotations

import codecs
import csv
import json
import math
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO

from pydantic import BaseModel, Field

from agents.data.dialect import Dialect, sniff
from agents.data.layout import TEXT_EXT, FileGroup, group_key, grouped_keys, text_sample
from agents.errors import UserInputError

MISSING = {"", "na", "nan", "null", "none", "?", "n/a"}
IMAGE_EXT = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
WORKBOOK_EXT = {".xlsx", ".xlsm", ".xls", ".ods", ".numbers"}
WORKBOOK_NOTE = "a spreadsheet workbook: not read; export its sheet as CSV (UTF-8) to use it as a table"
TABLE_EXT = {".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet", ".pq"}
MAX_DISTINCT = 1000
MAX_FILES = 200  # files described one by one, tables apart
MAX_TABLES = 200  # tables described (their own count: the target's table must not fall behind 200 other files)
MAX_IMAGE_HEADERS = 50  # per folder
MAX_IMAGE_HEADERS_ALL = 1000  # in all (a thousand class folders of images would read 50,000 headers)
MAX_LINE_BYTES = 16 << 20


class Column(BaseModel):
    name: str
    type: str = "empty"  # int | float | bool | string | empty (or the Parquet type)
    missing: int = 0
    min: float | None = None
    max: float | None = None
    distinct: int | None = Field(default=None, description="distinct values seen (capped at MAX_DISTINCT)")
    top: list[str] = Field(default_factory=list, description="most frequent values of a text column")


class FileEntry(BaseModel):
    path: str  # relative to the data directory
    size_bytes: int
    kind: str  # table | json | image | array | other
    rows: int | None = None
    rows_estimated: bool = False
    sampled_rows: int | None = Field(default=None, description="rows read when the file was sampled")
    columns: list[Column] = Field(default_factory=list)
    head: list[list[str]] = Field(default_factory=list)
    arrays: dict[str, str] = Field(default_factory=dict, description="array name -> 'shape dtype'")
    shape: list[int] | None = None
    note: str = ""
    text: str = Field(default="", description="a text file: its start, on one line (agents.data.layout)")
    delimiter: str = Field(default=",", description="CSV/TSV: the field delimiter (agents.data.dialect)")
    encoding: str = Field(default="utf-8", description="CSV/TSV: the text encoding")
    decimal: str = Field(default=".", description="CSV/TSV: the decimal mark of its numbers")

    @property
    def dialect(self) -> Dialect:
        return Dialect(self.delimiter, self.encoding, self.decimal)


class DataCard(BaseModel):
    root: str  # the directory's name (not its absolute path: the card is shown to models)
    files: list[FileEntry] = Field(default_factory=list)
    total_files: int = 0
    total_bytes: int = 0
    image_count: int = 0
    image_shapes: dict[str, int] = Field(default_factory=dict, description="'HxWxC' -> count")
    groups: list[FileGroup] = Field(default_factory=list, description="folders of many files of one kind, images")
    unreadable: list[str] = Field(default_factory=list)

    def tables(self) -> list[FileEntry]:
        return [f for f in self.files if f.kind == "table"]

    def table_with(self, column: str) -> FileEntry | None:
        return next((f for f in self.tables() if any(c.name == column for c in f.columns)), None)


def is_missing(value: object) -> bool:
    """None, NaN, or a text such as "", "NA", "null", "?" (``MISSING``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return isinstance(value, str) and value.strip().lower() in MISSING


class _ColumnStats:
    def __init__(self, name: str) -> None:
        self.name = name
        self.missing = 0
        self.kinds: set[str] = set()
        self.lo = math.inf
        self.hi = -math.inf
        self.counts: Counter[str] = Counter()

    def add(self, value: object) -> None:
        if is_missing(value):
            self.missing += 1
            return
        text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, list | dict) else str(value)
        kind, num = _kind(value)
        self.kinds.add(kind)
        if num is not None:
            self.lo, self.hi = min(self.lo, num), max(self.hi, num)
        if len(self.counts) < MAX_DISTINCT or text in self.counts:
            self.counts[text] += 1

    def column(self) -> Column:
        kinds = self.kinds
        kind = "empty" if not kinds else next(iter(kinds)) if len(kinds) == 1 else "string"
        if kinds == {"int", "float"}:
            kind = "float"
        col = Column(name=self.name, type=kind, missing=self.missing, distinct=len(self.counts))
        if kind in ("int", "float") and self.lo <= self.hi:
            col.min, col.max = _round(self.lo), _round(self.hi)
        if kind in ("string", "bool"):
            col.top = [v[:24] for v, _ in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]]
        return col


def _round(x: float) -> float:
    return float(f"{x:.6g}")


def _kind(value: object) -> tuple[str, float | None]:
    if isinstance(value, bool):
        return "bool", None
    if isinstance(value, int | float):
        return ("int" if isinstance(value, int) else "float"), float(value)
    if not isinstance(value, str):
        return "string", None
    text = value.strip()
    if text.lower() in ("true", "false"):
        return "bool", None
    try:
        return "int", float(int(text))
    except ValueError:
        pass
    try:
        f = float(text)
    except ValueError:
        return "string", None
    return ("float", f) if math.isfinite(f) else ("string", None)


def _stats(
    header: list[str],
    rows: Iterable[Sequence[object]],
    entry: FileEntry,
    limit: int | None,
    number: Callable[[str], str] | None = None,
) -> None:
    """Fill columns, head and row count from ``rows`` (stops after ``limit`` rows when given); ``number`` turns
    a text value into one float() reads (a decimal comma), for the statistics only."""
    cols = [_ColumnStats(h) for h in header]
    n = 0
    for row in rows:
        if limit is not None and n >= limit:
            break
        n += 1
        for stat, value in zip(cols, row, strict=False):
            stat.add(number(value) if number is not None and isinstance(value, str) else value)
        for stat in cols[len(row) :]:
            stat.missing += 1
        if len(entry.head) < 3:
            entry.head.append([str(v)[:24] for v in row[: len(header)]])
    entry.columns = [c.column() for c in cols]
    entry.rows = n


class _CountingReader:
    """Text lines from a binary file, counting the bytes consumed (for the row estimate of a sampled file)."""

    def __init__(self, path: Path, encoding: str = "utf-8") -> None:
        self.fh = path.open("rb")
        self.bytes = 0
        self.encoding = encoding

    def __iter__(self) -> Iterator[str]:
        while line := self.fh.readline(MAX_LINE_BYTES):
            if len(line) == MAX_LINE_BYTES and not line.endswith(b"\n"):
                raise ValueError(f"a line is longer than {MAX_LINE_BYTES // 2**20} MB; this is not a table to sample")
            first = self.bytes == 0
            self.bytes += len(line)
            yield line.decode(self.encoding if first else self.encoding.removesuffix("-sig"), errors="replace")

    def close(self) -> None:
        self.fh.close()


def _csv(path: Path, entry: FileEntry, exact_bytes: int, sample_rows: int) -> None:
    big = entry.size_bytes > exact_bytes
    dialect = sniff(path)
    entry.delimiter, entry.encoding, entry.decimal = dialect.delimiter, dialect.encoding, dialect.decimal
    reader = _CountingReader(path, dialect.encoding)
    try:
        rows = csv.reader(reader, delimiter=dialect.delimiter)
        header = next(rows, None)
        if header is None:
            entry.note = "empty file"
            return
        head_bytes = reader.bytes
        _stats(header, rows, entry, sample_rows if big else None, dialect.number if dialect.decimal != "." else None)
        if big and entry.rows:
            per_row = max(1.0, (reader.bytes - head_bytes) / entry.rows)
            entry.sampled_rows = entry.rows
            entry.rows = int((entry.size_bytes - head_bytes) / per_row)
            entry.rows_estimated = True
    finally:
        reader.close()


def _json_encoding(path: Path) -> str:
    """``utf-8-sig`` for a file that starts with a UTF-8 byte-order mark (Windows tools write one), which
    ``json.loads`` refuses; the card says so."""
    with path.open("rb") as fh:
        return "utf-8-sig" if fh.read(3) == codecs.BOM_UTF8 else "utf-8"


def _jsonl(path: Path, entry: FileEntry, exact_bytes: int, sample_rows: int) -> None:
    big = entry.size_bytes > exact_bytes
    entry.encoding = _json_encoding(path)
    reader = _CountingReader(path, entry.encoding)
    try:
        records: list[dict[str, object]] = []
        header: list[str] = []
        for line in reader:
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                entry.note = f"line {len(records) + 1} is not JSON"
                break
            rec = obj if isinstance(obj, dict) else {"value": obj}
            header += [k for k in rec if k not in header]
            records.append(rec)
            if big and len(records) >= sample_rows:
                break
        _stats(header, ([r.get(k) for k in header] for r in records), entry, None)
        if big and records:
            entry.sampled_rows = len(records)
            entry.rows = int(entry.size_bytes / max(1.0, reader.bytes / len(records)))
            entry.rows_estimated = True
    finally:
        reader.close()


def _json(path: Path, entry: FileEntry, exact_bytes: int) -> None:
    if entry.size_bytes > exact_bytes:
        entry.kind, entry.note = "json", "large JSON document: not parsed (JSON Lines can be sampled)"
        return
    entry.encoding = _json_encoding(path)
    data = json.loads(path.read_text(encoding=entry.encoding))
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        header: list[str] = []
        for r in data:
            header += [k for k in r if k not in header]
        _stats(header, ([r.get(k) for k in header] for r in data), entry, None)
        return
    entry.kind = "json"
    if isinstance(data, dict):
        entry.note = "object with keys: " + ", ".join(list(data)[:20])
    elif isinstance(data, list):
        entry.note, entry.shape = "list", [len(data)]
    else:
        entry.note = type(data).__name__


def _parquet(path: Path, entry: FileEntry, sample_rows: int) -> None:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        entry.kind, entry.note = "other", "Parquet: install pyarrow (pip install 'shoal[data]') to describe it"
        return
    pf = pq.ParquetFile(path)
    meta = pf.metadata
    entry.rows = meta.num_rows
    header = list(pf.schema_arrow.names)
    batch = next(pf.iter_batches(batch_size=sample_rows), None)
    rows = batch.to_pylist() if batch is not None else []
    probe = FileEntry(path=entry.path, size_bytes=entry.size_bytes, kind="table")
    _stats(header, ([r.get(k) for k in header] for r in rows), probe, None)
    nulls = [0] * len(header)
    complete = True
    for g in range(meta.num_row_groups):
        for i in range(min(meta.num_columns, len(header))):
            st = meta.row_group(g).column(i).statistics
            if st is None or not st.has_null_count:
                complete = False
            else:
                nulls[i] += st.null_count
    types = {f.name: str(f.type) for f in pf.schema_arrow}
    for i, col in enumerate(probe.columns):
        col.type = types.get(col.name, col.type)
        if complete:
            col.missing = nulls[i]
    entry.columns, entry.head = probe.columns, probe.head
    if len(rows) < (entry.rows or 0):
        entry.sampled_rows = len(rows)


def _npy_header(fh: IO[bytes]) -> str:
    import numpy as np

    version = np.lib.format.read_magic(fh)
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = reader(fh)
    return f"{tuple(int(s) for s in shape)} {dtype}"


def _array(path: Path, entry: FileEntry) -> None:
    entry.kind = "array"
    if path.suffix.lower() == ".npy":
        with path.open("rb") as fh:
            entry.arrays["array"] = _npy_header(fh)
        return
    with zipfile.ZipFile(path) as zf:
        for name in sorted(zf.namelist())[:20]:
            with zf.open(name) as fh:
                entry.arrays[name.removesuffix(".npy")] = _npy_header(fh)


def _describe(path: Path, rel: str, exact_bytes: int, sample_rows: int) -> FileEntry:
    entry = FileEntry(path=rel, size_bytes=path.stat().st_size, kind="other")
    ext = path.suffix.lower()
    if ext in TABLE_EXT:
        entry.kind = "table"
        if ext in (".csv", ".tsv"):
            _csv(path, entry, exact_bytes, sample_rows)
        elif ext in (".jsonl", ".ndjson"):
            _jsonl(path, entry, exact_bytes, sample_rows)
        elif ext == ".json":
            _json(path, entry, exact_bytes)
        else:
            _parquet(path, entry, sample_rows)
    elif ext in (".npy", ".npz"):
        _array(path, entry)
    elif ext in WORKBOOK_EXT:
        entry.note = WORKBOOK_NOTE
    elif ext in TEXT_EXT or (not ext and entry.size_bytes):
        entry.text = text_sample(path)
    return entry


def build_card(data_dir: Path, *, exact_max_mb: float = 64.0, sample_rows: int = 2000) -> DataCard:
    """Describe ``data_dir``; an unreadable file is a ``UserInputError`` naming it (before any model call)."""
    root = Path(data_dir)
    card = DataCard(root=root.name)
    exact_bytes = int(exact_max_mb * 1024 * 1024)
    paths = sorted(
        p for p in root.rglob("*") if p.is_file() and not any(s.startswith(".") for s in p.relative_to(root).parts)
    )
    rels = [p.relative_to(root).as_posix() for p in paths]
    grouped = grouped_keys(rels, always=IMAGE_EXT, never=TABLE_EXT | WORKBOOK_EXT | {".npy", ".npz"})
    groups: dict[tuple[str, str], FileGroup] = {}
    tables = others = 0
    for p, rel in zip(paths, rels, strict=True):
        card.total_files += 1
        try:
            size = p.stat().st_size
            card.total_bytes += size
            key = group_key(rel)
            if key in grouped:  # one line for the folder's files of this kind, not one per file
                group = groups.setdefault(key, FileGroup(folder=key[0], ext=key[1]))
                group.add(p, size)
                if key[1] in IMAGE_EXT:
                    card.image_count += 1
                    room = sum(card.image_shapes.values()) < MAX_IMAGE_HEADERS_ALL
                    if room and (shape := group.add_image(p, MAX_IMAGE_HEADERS)):
                        card.image_shapes[shape] = card.image_shapes.get(shape, 0) + 1
                continue
            is_table = Path(rel).suffix.lower() in TABLE_EXT
            if (tables if is_table else others) >= (MAX_TABLES if is_table else MAX_FILES):
                continue
            tables, others = tables + is_table, others + (not is_table)
            entry = _describe(p, rel, exact_bytes, sample_rows)
        except (OSError, ValueError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0][:160]
            raise UserInputError(f"--data: cannot read {p}: {why}; fix or remove the file") from None
        except Exception as exc:  # a library's own error for a malformed file (PIL, pyarrow, numpy)
            raise UserInputError(f"--data: cannot read {p}: {type(exc).__name__}: {str(exc)[:160]}") from None
        card.files.append(entry)
    card.groups = list(groups.values())
    return card
