"""Which files of the user's directory could show the held-out rows' labels (``--holdout``).

The table Shoal splits is replaced by its training part, but another copy of it may lie anywhere in the
directory: a second table with the target column, the same table gzipped (``train.csv.gz``), the download it came
from (``dataset.zip``), a tarball. Any of them gives the held-out labels away, so programs see each one empty.

Every file is looked at, not only those the data card describes (the card stops at 200 files). Only headers are
read: a CSV's first line, a JSON Lines file's first records, a Parquet schema, an archive's member list and its
tables' first lines. A JSON document is searched for the column's name as a key. What cannot be checked (a
compression the standard library cannot read, an archive too large to list, a Parquet file inside an archive)
is hidden when it may hold a table, and said so: a false alarm costs a file, a miss costs the honest score.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import html
import json
import lzma
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

TABLE_EXT = {".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json", ".parquet", ".pq"}
STREAMS: dict[str, Callable[..., Any]] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
OPAQUE = {".zst", ".zstd", ".7z", ".rar", ".lz4", ".z"}  # archives and compressions the standard library cannot read
WORKBOOKS = (".xlsx", ".xlsm", ".ods")  # zips of XML: a cell's text is ">name<" in one of their members
TAR_EXT = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
HEAD_BYTES = 1 << 20  # a header line longer than this is not a header
JSON_SCAN_BYTES = 256 << 20  # a JSON document is searched this far; a longer one is hidden unchecked
JSONL_RECORDS = 100
MAX_MEMBERS = 10_000  # an archive with more members is hidden unchecked when it has any table among them
DELIMITERS = (",", ";", "\t", "|")


def label_copies(root: Path, target: str, source_rel: str) -> dict[str, str]:
    """Every file under ``root`` (hidden files skipped) other than ``source_rel`` that has, or may hold, a table
    with the column ``target``: relative path -> why (for the card)."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file() or rel.as_posix() == source_rel:
            continue
        why = _why(path, target)
        if why:
            found[rel.as_posix()] = why
    return found


def _why(path: Path, target: str) -> str:
    name = path.name.lower()
    try:
        if name.endswith(TAR_EXT):
            return _tar(path, target)
        if name.endswith(WORKBOOKS):
            return _workbook(path, target)
        if name.endswith(".xls"):  # the old binary format: the name's bytes anywhere in it
            with path.open("rb") as fh:
                head = fh.read(JSON_SCAN_BYTES)
            names = (target.encode(), target.encode("utf-16-le"))
            return f"a workbook that may have {target!r}" if any(n in head for n in names) else ""
        if name.endswith(".zip"):
            return _zip(path, target)
        suffix = path.suffix.lower()
        inner = Path(name[: -len(suffix)]).suffix if suffix else ""
        if suffix in STREAMS and inner in TABLE_EXT:
            with STREAMS[suffix](path, "rb") as fh:
                return f"a compressed copy of a table with {target!r}" if _has_column(fh, inner, target) else ""
        if suffix in OPAQUE and (inner in TABLE_EXT or suffix in {".7z", ".rar"}):
            return f"compressed in a way Shoal cannot read, so it may hold a table with {target!r}"
        if suffix in {".parquet", ".pq"}:
            return f"it also has {target!r}" if _parquet_has(path, target) else ""
        if suffix in TABLE_EXT:
            with path.open("rb") as fh:
                return f"it also has {target!r}" if _has_column(fh, suffix, target) else ""
    except Exception:  # a damaged file (the libraries' own errors): an archive may still open for a program
        if name.endswith((*TAR_EXT, ".zip", *STREAMS, *OPAQUE)):
            return f"an archive Shoal could not read, so it may hold a table with {target!r}"
    return ""


def _zip(path: Path, target: str) -> str:
    with zipfile.ZipFile(path) as zf:
        tables = [i for i in zf.infolist() if not i.is_dir() and Path(i.filename.lower()).suffix in TABLE_EXT]
        for info in tables[:MAX_MEMBERS]:
            ext = Path(info.filename.lower()).suffix
            if ext in {".parquet", ".pq"}:
                return f"an archive with a Parquet table ({info.filename}) that may have {target!r}"
            with zf.open(info) as fh:
                if _has_column(fh, ext, target):
                    return f"an archive with a table that has {target!r} ({info.filename})"
        if len(tables) > MAX_MEMBERS:
            return f"an archive of {len(tables):,} tables, too many to check for {target!r}"
    return ""


def _workbook(path: Path, target: str) -> str:
    cell = (">" + html.escape(target, quote=False) + "<").encode()
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.filename.endswith(".xml") and info.file_size <= JSON_SCAN_BYTES and cell in zf.read(info):
                return f"a workbook with a cell {target!r} (a column of a sheet, most likely)"
    return ""


def _tar(path: Path, target: str) -> str:
    with tarfile.open(path, "r:*") as tf:
        for count, member in enumerate(_members(tf)):
            if count >= MAX_MEMBERS:
                return f"an archive too large to check for {target!r}"
            ext = Path(member.name.lower()).suffix
            if not member.isfile() or ext not in TABLE_EXT:
                continue
            if ext in {".parquet", ".pq"}:
                return f"an archive with a Parquet table ({member.name}) that may have {target!r}"
            fh = tf.extractfile(member)
            if fh is not None and _has_column(fh, ext, target):
                return f"an archive with a table that has {target!r} ({member.name})"
    return ""


def _members(tf: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while (member := tf.next()) is not None:
        yield member


def _has_column(fh: IO[bytes], ext: str, target: str) -> bool:
    """Whether the table read from ``fh`` (its format by ``ext``) names the column ``target``."""
    if ext in {".jsonl", ".ndjson"}:
        return _jsonl_has(fh, target)
    if ext == ".json":
        return _json_has(fh, target)
    line = fh.readline(HEAD_BYTES)
    text = _decode(line).lstrip("\ufeff")
    fields = (f.strip().strip('"') for d in DELIMITERS for row in csv.reader([text], delimiter=d) for f in row)
    return target in set(fields)


def _jsonl_has(fh: IO[bytes], target: str) -> bool:
    seen = 0
    for line in iter(lambda: fh.readline(HEAD_BYTES), b""):
        if not line.strip():
            continue
        try:
            record = json.loads(_decode(line).lstrip("\ufeff"))
        except ValueError:
            return False
        if isinstance(record, dict) and target in record:
            return True
        seen += 1
        if seen >= JSONL_RECORDS:
            break
    return False


def _json_has(fh: IO[bytes], target: str) -> bool:
    """The column's name as a JSON string anywhere in the document (a key, most likely); a document longer than
    ``JSON_SCAN_BYTES`` counts as having it."""
    key = json.dumps(target).encode()
    tail = b""
    read = 0
    while chunk := fh.read(1 << 20):
        if key in tail + chunk:
            return True
        tail = chunk[-len(key) :]
        read += len(chunk)
        if read >= JSON_SCAN_BYTES:
            return True
    return False


def _decode(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    return raw.decode("utf-8", errors="replace")


def _parquet_has(path: Path, target: str) -> bool:
    try:
        import pyarrow.parquet as pq
    except ImportError:  # without pyarrow Shoal cannot look inside, a program may: hidden to be safe
        return True
    return target in pq.read_schema(path).names
