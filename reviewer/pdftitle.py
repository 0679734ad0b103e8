"""A PDF's title from its first page's layout: the front-matter lines set in the largest type.

The first line of a PDF's text is often not its title: a rotated "AI generated" watermark, a proceedings stamp
("Proceedings of the 17th Conference ..., pages 1650-1669"), a copyright line or a title that wraps onto a second
line that is not in capitals. The title is the text set in the largest type among the lines before the abstract.

pypdf reports each text run with its font size and matrices (``extract_text(visitor_text=...)``). A line of the
extracted text gets the largest size whose runs (four or more letters or digits, upright) cover at least 40% of the
line's letters: small-caps titles mix two sizes, and a logo's letter-spaced or a figure's large letters cover little
of a line. Lines with fewer than eight letters, or more than a quarter of digits (table rows), are no title.
The title is the first line set in the largest such size among the front lines (those before an "Abstract" line,
else the first fifteen) and the lines right after it in nearly that size. That size must stand out from the body
text's (the size most letters are set in): a page from the middle of a paper, whose first lines are a table's
header, has no title.
"""

from __future__ import annotations

import math
import re
from typing import Any

_ABSTRACT = re.compile(r"^\s*(abstract|a\s?bstract)\b", re.IGNORECASE)
_ALNUM = re.compile(r"[^\W_]", re.UNICODE)
FRONT_LINES = 15
COVER = 0.4
SAME_SIZE = 0.95
MIN_TITLE_CHARS = 8
MIN_RUN_CHARS = 4
MAX_DIGITS = 0.25
ABOVE_BODY = 1.1


def _letters(text: str) -> str:
    return "".join(_ALNUM.findall(text)).lower()


def text_and_runs(page: Any) -> tuple[str, list[tuple[float, str]]]:
    """A pypdf page's text (what ``extract_text()`` returns) and, from the same pass, (font size in points, letters)
    of its upright text runs with four or more letters."""
    runs: list[tuple[float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        letters = _letters(text)
        if len(letters) < MIN_RUN_CHARS or not size:
            return
        b = tm[0] * cm[1] + tm[1] * cm[3]
        c = tm[2] * cm[0] + tm[3] * cm[2]
        d = tm[2] * cm[1] + tm[3] * cm[3]
        if abs(b) > 1e-3 or abs(c) > 1e-3:  # rotated: watermarks, arXiv stamps in the margin
            return
        runs.append((round(float(size) * math.hypot(c, d), 1), letters))

    text = page.extract_text(visitor_text=visit) or ""
    return text, runs


def _line_size(line: str, runs: list[tuple[float, str]]) -> float:
    letters = _letters(line)
    if len(letters) < MIN_TITLE_CHARS or sum(ch.isdigit() for ch in letters) > MAX_DIGITS * len(letters):
        return 0.0
    inside = sorted(((s, r) for s, r in runs if r in letters), reverse=True)
    covered = 0
    for size, run in inside:
        covered += len(run)
        if covered >= COVER * len(letters):
            return size
    return 0.0


def body_size(runs: list[tuple[float, str]]) -> float:
    """The size most of the page's letters are set in."""
    letters: dict[float, int] = {}
    for size, run in runs:
        letters[size] = letters.get(size, 0) + len(run)
    return max(letters, key=lambda s: letters[s]) if letters else 0.0


def layout_title(page_text: str, runs: list[tuple[float, str]]) -> str:
    """The title in ``page_text`` (the first page's extracted text), or "" when the layout does not tell."""
    lines = [line.strip() for line in page_text.splitlines() if line.strip()]
    front: list[str] = []
    for line in lines[:FRONT_LINES]:
        if _ABSTRACT.match(line):
            break
        front.append(line)
    sizes = [_line_size(line, runs) for line in front]
    if not sizes or max(sizes) <= 0:
        return ""
    top = max(sizes)
    if top < ABOVE_BODY * body_size(runs):  # no line stands out from the text: a page without a title
        return ""
    first = next(i for i, s in enumerate(sizes) if s >= SAME_SIZE * top)
    title = [front[first]]
    for line, size in zip(front[first + 1 :], sizes[first + 1 :], strict=True):
        if size < SAME_SIZE * top:
            break
        title.append(line)
    return re.sub(r"\s+", " ", " ".join(title)).strip()[:300]
