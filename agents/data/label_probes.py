"""What gives held-out labels away, asked of one file's content (``agents.data.label_copies`` walks the files).

- ``ColumnProbe``: a table held out by rows. Another table with the target column could hold the held-out rows'
  labels: a CSV's first line, a JSON Lines file's first records, a Parquet schema, the column's name as a key
  in a JSON document or as a cell of a workbook.
- ``NamesProbe``: files held out of class folders (the folder name is the label). A table or list that names a
  held-out file (``cat/0001.png,cat``), or an archive with the class folders in it, gives its label away: the
  text is read in tokens and every token's last path part is looked up among the held-out files' names.
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import IO

HEAD_BYTES = 1 << 20  # a header line longer than this is not a header
SCAN_BYTES = 256 << 20  # a document is searched this far; a longer one counts as giving labels away
JSONL_RECORDS = 100
DELIMITERS = (",", ";", "\t", "|")
_SPLIT = re.compile(r"[\s,;|\"'<>\[\]{}()=]+")


class ColumnProbe:
    """Held-out rows of a table: does a file have the target column?"""

    def __init__(self, target: str) -> None:
        self.target = target
        self.has = f"also has {target!r}"  # "it also has 'kind'"
        self.may_hold = f"a table with {target!r}"

    def table(self, fh: IO[bytes], ext: str) -> bool:
        if ext in {".jsonl", ".ndjson"}:
            return self._jsonl(fh)
        if ext == ".json":
            return _contains(fh, json.dumps(self.target).encode())
        text = _decode(fh.readline(HEAD_BYTES)).lstrip("\ufeff")
        fields = (f.strip().strip('"') for d in DELIMITERS for row in csv.reader([text], delimiter=d) for f in row)
        return self.target in set(fields)

    def member(self, name: str) -> bool:
        return False  # an archive member's name says nothing of a column

    def cells(self, xml: bytes) -> bool:
        return (">" + html.escape(self.target, quote=False) + "<").encode() in xml

    def blob(self, data: bytes) -> bool:
        return self.target.encode() in data or self.target.encode("utf-16-le") in data

    def parquet(self, path: Path) -> bool:
        import pyarrow.parquet as pq

        return self.target in pq.read_schema(path).names

    def _jsonl(self, fh: IO[bytes]) -> bool:
        seen = 0
        for line in iter(lambda: fh.readline(HEAD_BYTES), b""):
            if not line.strip():
                continue
            try:
                record = json.loads(_decode(line).lstrip("\ufeff"))
            except ValueError:
                return False
            if isinstance(record, dict) and self.target in record:
                return True
            seen += 1
            if seen >= JSONL_RECORDS:
                break
        return False


class NamesProbe:
    """Held-out files of class folders: does a file name one, or hold one?"""

    def __init__(self, held: Iterable[str]) -> None:
        paths = [PurePosixPath(h) for h in held]
        self.names = {p.name for p in paths}
        self.pairs = {"/".join(p.parts[-2:]) for p in paths}  # "cat/0001.png": the class folder and the name
        self.has = "names held-out files"
        self.may_hold = "held-out files or their names"

    def table(self, fh: IO[bytes], ext: str) -> bool:
        read = 0
        for line in iter(lambda: fh.readline(HEAD_BYTES), b""):
            read += len(line)
            if read > SCAN_BYTES or self._names_one(_decode(line)):
                return True
        return False

    def member(self, name: str) -> bool:
        return "/".join(PurePosixPath(name).parts[-2:]) in self.pairs

    def cells(self, xml: bytes) -> bool:
        return self._names_one(html.unescape(_decode(xml)))

    def blob(self, data: bytes) -> bool:
        return self._names_one(data.decode("latin-1"))

    def parquet(self, path: Path) -> bool:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        text = [f.name for f in pf.schema_arrow if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
        if not text:
            return False
        for batch in pf.iter_batches(columns=text, batch_size=65536):
            for column in batch.columns:
                if any(self._names_one(v) for v in column.to_pylist() if isinstance(v, str)):
                    return True
        return False

    def _names_one(self, text: str) -> bool:
        return any(token.replace("\\", "/").rsplit("/", 1)[-1] in self.names for token in _SPLIT.split(text))


Probe = ColumnProbe | NamesProbe


def _contains(fh: IO[bytes], key: bytes) -> bool:
    """``key`` anywhere in the stream; a stream longer than ``SCAN_BYTES`` counts as containing it."""
    tail, read = b"", 0
    while chunk := fh.read(1 << 20):
        if key in tail + chunk:
            return True
        tail = chunk[-len(key) :]
        read += len(chunk)
        if read >= SCAN_BYTES:
            return True
    return False


def _decode(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    return raw.decode("utf-8", errors="replace")
