"""How a user's CSV file is written: its text encoding, its delimiter and its decimal mark, read from its first
64 KiB.

Real tables are not all UTF-8 with commas: spreadsheets export ``;``-separated files with decimal commas in much
of Europe, Windows tools write cp1252 or a UTF-8 byte-order mark, and ``|`` and tabs are common. Reading such a
file as plain comma-separated UTF-8 turns a whole row into one column (so ``--target`` is "not a column") or
mangles accented names. ``sniff`` finds:

- the encoding: ``utf-8-sig`` when the file starts with a byte-order mark, else ``utf-8`` when the sample decodes
  as UTF-8, else ``cp1252``, else ``latin-1`` (which decodes any byte);
- the delimiter: ``\\t`` for ``.tsv``; otherwise, of ``,`` ``;`` ``\\t`` ``|``, the one that splits the header into
  the most fields (at least two) while most of the sampled rows have as many (ties go to the comma);
- the decimal mark: ``,`` when the delimiter is not a comma and numbers such as ``3,14`` occur but ``3.14`` does not.

Files are read and rewritten with ``errors="surrogateescape"``, so a byte the sample did not predict survives a
round trip unchanged instead of becoming a replacement character.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from agents.textfile import guess_encoding

SAMPLE_BYTES = 1 << 16
SAMPLE_LINES = 50
CANDIDATES = (",", ";", "\t", "|")
ERRORS = "surrogateescape"
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_DECIMAL_POINT = re.compile(r"^[+-]?\d*\.\d+$")


@dataclass(frozen=True)
class Dialect:
    delimiter: str = ","
    encoding: str = "utf-8"
    decimal: str = "."

    def read_args(self) -> str:
        """The pandas ``read_csv`` keyword arguments this file needs beyond the defaults ('' for none)."""
        out = []
        if self.delimiter != ",":
            out.append(f"sep={self.delimiter!r}")
        if self.encoding != "utf-8":
            out.append(f"encoding={self.encoding!r}")
        if self.decimal != ".":
            out.append(f"decimal={self.decimal!r}")
        return ", ".join(out)

    def number(self, text: str) -> str:
        """A value as Python's float() reads it (the decimal comma made a point)."""
        return text.replace(",", ".", 1) if self.decimal == "," and _DECIMAL_COMMA.match(text.strip()) else text

    def rewrite(self, text: str, to: Dialect) -> str:
        """A value of a file in this dialect as a file in ``to`` writes it (only the decimal mark changes)."""
        if self.decimal == to.decimal:
            return text
        point = self.number(text)
        return point.replace(".", ",", 1) if to.decimal == "," and _DECIMAL_POINT.match(point.strip()) else point


def _utf16_without_bom(head: bytes) -> bool:
    """Mostly-ASCII text in UTF-16: nearly every other byte is zero, nearly none of the others."""
    even, odd = head[0::2], head[1::2]
    if len(odd) < 8:
        return False
    return any(a.count(0) >= 0.9 * len(a) and b.count(0) <= 0.1 * len(b) for a, b in ((even, odd), (odd, even)))


def _encoding(raw: bytes) -> str:
    encoding = guess_encoding(raw)
    if encoding == "utf-16" or _utf16_without_bom(raw[:200]):
        raise ValueError("the file is UTF-16 text (as some spreadsheet programs save it); save it as UTF-8 CSV")
    return encoding


def _fields(lines: list[str], delimiter: str) -> list[int]:
    return [len(row) for row in csv.reader(lines, delimiter=delimiter) if row]


def _delimiter(lines: list[str]) -> str:
    best, best_fields = ",", 1
    for cand in CANDIDATES:
        counts = _fields(lines, cand)
        if not counts or counts[0] < 2:
            continue
        rows = counts[1:]
        if rows and sum(c == counts[0] for c in rows) < 0.8 * len(rows):
            continue
        if counts[0] > best_fields:
            best, best_fields = cand, counts[0]
    return best


def _decimal(lines: list[str], delimiter: str) -> str:
    if delimiter == ",":
        return "."
    values = [v.strip() for row in csv.reader(lines[1:], delimiter=delimiter) for v in row]
    comma = any(_DECIMAL_COMMA.match(v) for v in values)
    point = any(_DECIMAL_POINT.match(v) for v in values)
    return "," if comma and not point else "."


def sniff(path: Path) -> Dialect:
    """The dialect of the CSV/TSV file at ``path`` (defaults for an empty file); ValueError for UTF-16 text."""
    with Path(path).open("rb") as fh:
        raw = fh.read(SAMPLE_BYTES)
    encoding = _encoding(raw)
    text = raw.decode(encoding, errors=ERRORS)
    lines = text.splitlines()
    if len(raw) == SAMPLE_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line of a cut sample is incomplete
    lines = [line for line in lines[:SAMPLE_LINES] if line.strip()]
    if Path(path).suffix.lower() == ".tsv":
        return Dialect("\t", encoding, _decimal(lines, "\t"))
    delimiter = _delimiter(lines)
    return Dialect(delimiter, encoding, _decimal(lines, delimiter))


def open_text(path: Path, dialect: Dialect, mode: str = "r") -> IO[str]:
    """``path`` opened as text in ``dialect``'s encoding, for the csv module (undecodable bytes kept as they are)."""
    return open(path, mode, newline="", encoding=dialect.encoding, errors=ERRORS)
