"""PDF pages to clean text with ``pypdf``.

pypdf returns each page's text in content-stream order, which for LaTeX-made PDFs (one or two columns) is the
reading order: left column, then right column. The cleanup here is line based and conservative:

- Unicode normalisation (ligatures such as "ﬁ", spacing diacritics such as "F¨arber" -> "Färber").
- Running headers and footers: a line among the first/last two of a page whose digit-normalised form recurs on at
  least half the pages (three pages at least) is dropped; bare page numbers at a page's edge are dropped.
- Line numbers of review-mode PDFs (ICLR/NeurIPS/ACL submissions): pure-number lines, or number prefixes, that
  form an increasing run on a page are removed.
- De-hyphenation: "cor-" + "pus" at a line break becomes "corpus" when the next line starts in lower case.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

_DIACRITICS = {"¨": "\u0308", "´": "\u0301", "`": "\u0300", "ˆ": "\u0302", "˜": "\u0303", "¸": "\u0327", "˚": "\u030a"}
_SPACING_DIACRITIC = re.compile(r"([¨´`ˆ˜¸˚])\s?([A-Za-z])")
_NUM_LINE = re.compile(r"^\s*(\d{1,4})\s*$")
_HYPHEN_END = re.compile(r"([A-Za-z]{2,})-$")


def normalize_text(text: str) -> str:
    """Ligatures, spacing diacritics, odd spaces and control characters to plain Unicode text."""
    text = _SPACING_DIACRITIC.sub(lambda m: unicodedata.normalize("NFC", m.group(2) + _DIACRITICS[m.group(1)]), text)
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\u00ad", "").replace("\x00", "")
    text = re.sub(r"[\u2000-\u200b\u202f\u205f\u3000\t]", " ", text)
    return re.sub(r"[\x01-\x08\x0b\x0c\x0e-\x1f]", "", text)


def _edge_key(line: str) -> str:
    """Digit-normalised start of a line: running headers may end in a per-page section mark."""
    return re.sub(r"\d+", "#", line.strip().lower())[:40]


def _edges(lines: list[str], depth: int = 2) -> list[int]:
    idx = [i for i, line in enumerate(lines) if line.strip()]
    return sorted(set(idx[:depth] + idx[-depth:]))


def remove_headers_footers(pages: list[list[str]]) -> list[list[str]]:
    """Drop running headers/footers and page numbers found at page edges."""
    counts: Counter[str] = Counter()
    for lines in pages:
        counts.update({_edge_key(lines[i]) for i in _edges(lines)})
    threshold = max(3, (len(pages) + 1) // 2)
    repeated = {key for key, n in counts.items() if n >= threshold and key not in ("", "#")}
    out = []
    for lines in pages:
        drop = set()
        for i in _edges(lines):
            if _edge_key(lines[i]) in repeated:
                drop.add(i)
        drop.update(i for i in _edges(lines, depth=3) if _NUM_LINE.match(lines[i]))
        out.append([line for i, line in enumerate(lines) if i not in drop])
    return out


def _strip_sequence(lines: list[str], pattern: re.Pattern[str], keep_group: int | None) -> list[str]:
    """Strip numbers matched by ``pattern`` (group ``num``) that count up line by line (line numbering).

    Only chains of at least 8 matches, each 1-3 above the previous, covering a quarter of the page's lines are
    stripped: numbered code listings and table columns are left alone.
    """
    found = [(i, int(m.group("num"))) for i, line in enumerate(lines) if (m := pattern.match(line))]
    chains: list[list[int]] = []
    for k, (i, n) in enumerate(found):
        if k and 1 <= n - found[k - 1][1] <= 3:
            chains[-1].append(i)
        else:
            chains.append([i])
    hits = {i for chain in chains if len(chain) >= 8 for i in chain}
    if len(hits) < 0.25 * sum(1 for line in lines if line.strip()):
        return lines
    out = []
    for i, line in enumerate(lines):
        if i not in hits:
            out.append(line)
        elif keep_group is not None:
            m = pattern.match(line)
            assert m is not None
            out.append(m.group(keep_group))
    return out


_NUM_ONLY = re.compile(r"^\s*(?P<num>\d{1,4})\s*$")
_NUM_START = re.compile(r"^\s*(?P<num>\d{1,4})\s+(\S.*)$")
_NUM_END = re.compile(r"^(.*?[^\d\s=+])\s?(?P<num>\d{1,4})\s*$")


def remove_line_numbers(lines: list[str]) -> list[str]:
    """Remove review-mode line numbers: bare-number lines, or number prefixes/suffixes, that count up by one."""
    lines = _strip_sequence(lines, _NUM_ONLY, None)
    lines = _strip_sequence(lines, _NUM_START, 2)
    return _strip_sequence(lines, _NUM_END, 1)


def dehyphenate(lines: list[str]) -> list[str]:
    """Join words split by a hyphen at a line break ("cor-" / "pus ..." -> "corpus" / "...")."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        while i + 1 < len(lines) and _HYPHEN_END.search(line):
            nxt = lines[i + 1].lstrip()
            if not nxt or not nxt[0].islower():
                break
            head, _, rest = nxt.partition(" ")
            line = line[:-1] + head
            lines[i + 1] = rest
            if rest.strip():
                break
            i += 1
        out.append(line)
        i += 1
    return [line for line in out if line.strip() or line == ""]


def clean_pages(raw_pages: list[str]) -> str:
    """Join the pages' raw text into one cleaned text (pages separated by blank lines)."""
    pages = [normalize_text(p).splitlines() for p in raw_pages]
    pages = [remove_line_numbers(lines) for lines in pages]
    pages = remove_headers_footers(pages)
    lines: list[str] = []
    for page in pages:
        lines.extend(page)
        lines.append("")
    text = "\n".join(dehyphenate(lines))
    text = re.sub(r"[ ]{2,}", " ", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
