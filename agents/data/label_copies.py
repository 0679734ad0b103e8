"""Which files of the user's directory could show the held-out labels (``--holdout``).

The table Shoal splits is replaced by its training part (or each class folder by its training files), but the
labels may lie elsewhere in the directory too: a second table with the target column, the same table gzipped
(``train.csv.gz``), the download it came from (``dataset.zip``), a tarball, the workbook it was exported from, a
list of file names and classes. Any of them gives the held-out labels away, so programs see each one empty.

Every file is looked at, not only those the data card describes (the card stops at 200 files), and only as much
as the question needs (``agents.data.label_probes``: headers, schemas, member lists, names). What cannot be
checked (a compression the standard library cannot read, a damaged or too large archive, a Parquet file inside an
archive) is hidden when it may hold labels, and said so: a false alarm costs a file, a miss the honest score.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from agents.data.card import TABLE_EXT as CARD_TABLES
from agents.data.label_probes import SCAN_BYTES, ColumnProbe, NamesProbe, Probe

TABLE_EXT = CARD_TABLES | {".txt"}  # what pandas reads as a table (a .txt may be a CSV)
PARQUET = {".parquet", ".pq"}
STREAMS: dict[str, Callable[..., Any]] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
OPAQUE = {".zst", ".zstd", ".7z", ".rar", ".lz4", ".z"}  # archives and compressions the standard library cannot read
WORKBOOKS = (".xlsx", ".xlsm", ".ods")  # zips of XML: a cell's text is ">name<" in one of their members
TAR_EXT = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
MAX_MEMBERS = 10_000  # an archive with more members is hidden unchecked


def label_copies(root: Path, target: str, source_rel: str) -> dict[str, str]:
    """Held-out rows: every file under ``root`` other than ``source_rel`` that has, or may hold, a table with the
    column ``target``: relative path -> why (for the card)."""
    return _scan(root, ColumnProbe(target), skip=(source_rel,))


def named_copies(root: Path, held: Iterable[str], class_folders: Iterable[str]) -> dict[str, str]:
    """Held-out files (their paths under ``root``): every file outside the class folders that names one, or may
    hold one: relative path -> why."""
    return _scan(root, NamesProbe(held), skip=tuple(class_folders))


def _scan(root: Path, probe: Probe, skip: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in rel.split("/")) or not path.is_file():
            continue
        if any(rel == s or rel.startswith(s + "/") for s in skip):
            continue
        why = _why(path, probe)
        if why:
            found[rel] = why
    return found


def _why(path: Path, probe: Probe) -> str:
    name = path.name.lower()
    suffix = path.suffix.lower()
    inner = Path(name[: -len(suffix)]).suffix if suffix else ""
    try:
        if name.endswith(TAR_EXT):
            return _tar(path, probe)
        if name.endswith(WORKBOOKS):
            return _workbook(path, probe)
        if suffix == ".xls":  # the old binary format: its bytes
            with path.open("rb") as fh:
                return f"a workbook: it {probe.has}" if probe.blob(fh.read(SCAN_BYTES)) else ""
        if suffix == ".zip":
            return _zip(path, probe)
        if suffix in STREAMS and inner in TABLE_EXT - PARQUET:
            with STREAMS[suffix](path, "rb") as fh:
                return f"a compressed copy of a table: it {probe.has}" if probe.table(fh, inner) else ""
        if suffix in OPAQUE and (inner in TABLE_EXT or suffix in {".7z", ".rar"}):
            return f"compressed in a way Shoal cannot read, so it may hold {probe.may_hold}"
        if suffix in PARQUET:
            return f"it {probe.has}" if _parquet(path, probe) else ""
        if suffix in TABLE_EXT:
            with path.open("rb") as fh:
                return f"it {probe.has}" if probe.table(fh, suffix) else ""
    except Exception:  # a damaged file (the libraries' own errors): an archive may still open for a program
        if name.endswith((*TAR_EXT, ".zip", *STREAMS, *OPAQUE)):
            return f"an archive Shoal could not read, so it may hold {probe.may_hold}"
    return ""


def _parquet(path: Path, probe: Probe) -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:  # Shoal cannot look inside without pyarrow, a program may: hidden to be safe
        return True
    return probe.parquet(path)


def _member(name: str, probe: Probe, read: Callable[[], Any]) -> str:
    """Why an archive member gives labels away ('' when it does not); ``read`` opens it."""
    if probe.member(name):
        return f"an archive with held-out files ({name})"
    ext = Path(name.lower()).suffix
    if ext not in TABLE_EXT:
        return ""
    if ext in PARQUET:
        return f"an archive with a Parquet table ({name}) that may hold {probe.may_hold}"
    fh = read()
    if fh is None:
        return ""
    with fh:
        return f"an archive with a table ({name}): it {probe.has}" if probe.table(fh, ext) else ""


def _zip(path: Path, probe: Probe) -> str:
    with zipfile.ZipFile(path) as zf:
        members = [i for i in zf.infolist() if not i.is_dir()]
        if len(members) > MAX_MEMBERS:
            return f"an archive of {len(members):,} files, too many to check: it may hold {probe.may_hold}"
        for info in members:
            why = _member(info.filename, probe, lambda info=info: zf.open(info))  # type: ignore[misc]
            if why:
                return why
    return ""


def _workbook(path: Path, probe: Probe) -> str:
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.filename.endswith(".xml") and info.file_size <= SCAN_BYTES and probe.cells(zf.read(info)):
                return f"a workbook: it {probe.has} (in a sheet's cells)"
    return ""


def _tar(path: Path, probe: Probe) -> str:
    with tarfile.open(path, "r:*") as tf:
        for count, member in enumerate(_members(tf)):
            if count >= MAX_MEMBERS:
                return f"an archive too large to check: it may hold {probe.may_hold}"
            if member.isfile():
                why = _member(member.name, probe, lambda m=member: tf.extractfile(m))  # type: ignore[misc]
                if why:
                    return why
    return ""


def _members(tf: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while (member := tf.next()) is not None:
        yield member
