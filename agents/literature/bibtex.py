"""A small, forgiving BibTeX reader: entries with their key, type, fields and original text.

Enough for a user's library file: ``@type{key, field = {braced {nested}} | "quoted" | number | macro, ...}``;
``@comment``, ``@preamble`` and ``@string`` are skipped, and a malformed entry is skipped with a log line rather
than failing the whole file.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

_ENTRY_START = re.compile(r"@\s*([A-Za-z]+)\s*[{(]")
_FIELD_NAME = re.compile(r"\s*([A-Za-z][\w\-:.]*)\s*=\s*")
_SKIP_TYPES = {"comment", "preamble", "string"}


@dataclass
class BibEntry:
    entry_type: str
    key: str
    fields: dict[str, str] = field(default_factory=dict)
    raw: str = ""

    def get(self, name: str) -> str:
        return self.fields.get(name.lower(), "")


def _braced(text: str, start: int) -> tuple[str, int]:
    """The content of the ``{...}`` opening at ``start`` and the index after its closing brace."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
    raise ValueError("unbalanced braces")


def _value(text: str, pos: int) -> tuple[str, int]:
    parts: list[str] = []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            raise ValueError("value runs past the end")
        ch = text[pos]
        if ch == "{":
            part, pos = _braced(text, pos)
        elif ch == '"':
            end = pos + 1
            depth = 0
            while end < len(text) and not (text[end] == '"' and depth == 0):
                depth += {"{": 1, "}": -1}.get(text[end], 0)
                end += 1
            part, pos = text[pos + 1 : end], end + 1
        else:
            m = re.match(r"[\w\-.:/]+", text[pos:])
            if not m:
                raise ValueError(f"unexpected {ch!r}")
            part, pos = m.group(0), pos + m.end()
        parts.append(part)
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos < len(text) and text[pos] == "#":
            pos += 1
            continue
        return "".join(parts), pos


def clean_latex(value: str) -> str:
    """Field text without braces, common accents' commands and extra whitespace."""
    value = re.sub(r"\\[`'^\"~=.uvHcdbrk]\s*\{?([A-Za-z])\}?", r"\1", value)
    value = re.sub(r"\\(?:emph|textit|textbf|textsc|mathrm|text)\{", "{", value)
    value = value.replace("{", "").replace("}", "").replace("\\&", "&").replace("~", " ")
    return " ".join(value.split())


def parse_bibtex(text: str) -> list[BibEntry]:
    entries: list[BibEntry] = []
    for m in _ENTRY_START.finditer(text):
        entry_type = m.group(1).lower()
        if entry_type in _SKIP_TYPES:
            continue
        start = m.start()
        try:
            body, end = _braced(text, m.end() - 1) if text[m.end() - 1] == "{" else _paren(text, m.end() - 1)
            key, _, rest = body.partition(",")
            fields: dict[str, str] = {}
            pos = 0
            while pos < len(rest):
                fm = _FIELD_NAME.match(rest, pos)
                if not fm:
                    break
                value, pos = _value(rest, fm.end())
                fields[fm.group(1).lower()] = value.strip()
                while pos < len(rest) and rest[pos] in ", \t\r\n":
                    pos += 1
            entries.append(BibEntry(entry_type, key.strip(), fields, text[start:end]))
        except ValueError as exc:
            log.warning("BibTeX: skipping a malformed @%s entry at character %d: %s", entry_type, start, exc)
    return entries


def _paren(text: str, start: int) -> tuple[str, int]:
    end = text.find(")", start)
    if end < 0:
        raise ValueError("unclosed parenthesis")
    return text[start + 1 : end], end + 1


def person(name: str) -> str:
    """A BibTeX name as papers are named elsewhere, given names first: "Qian, Ning" -> "Ning Qian", "von Neumann,
    John" -> "John von Neumann", "King, Jr., Martin" -> "Martin King Jr."; "Ning Qian" stays as it is."""
    parts = [p.strip() for p in name.split(",")]
    if len(parts) == 2 and parts[1]:
        return f"{parts[1]} {parts[0]}"
    if len(parts) == 3 and parts[2]:
        return f"{parts[2]} {parts[0]} {parts[1]}"
    return " ".join(name.split())
