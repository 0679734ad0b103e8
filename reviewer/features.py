"""What the score head reads from a blind-cleaned paper: the text for TF-IDF n-grams, structure counts, the
passages it embeds, and the front matter (for the leakage guard).

Every function takes a ``PaperText`` that has already been through ``reviewer.blind.blind_clean``; none of them
sees an author, an affiliation or a venue stamp.

Structure counts (``log1p`` of each, so a 100-page appendix does not dominate):

- characters of the body (abstract + sections), of the appendix and of the reference list; sections and appendix
  sections; distinct figures and tables referenced; numbered display equations ("(12)" at a line end);
  theorem/lemma/proposition statements; recent literature: years in the reference list no more than two years
  before the paper's own newest (its third-latest year, so one stray late year does not move the window), which
  reads a 2017 paper as a 2017 paper rather than by the training papers' calendar; citations in the body: "et al."
  mentions, or, when the reference list is numbered ("[1] ..."), bracketed numbers ("[12]", "[2, 16]"), so a
  numeric-style paper does not read as citing nothing; whether the reference list is numbered (another venue's
  style: the ICLR papers in the training data that used it were mostly rejected, a cue the head may learn, but
  then under its own name); links (``[URL removed]`` placeholders: code and data releases).
"""

from __future__ import annotations

import re

from reviewer.document import PaperText

FRONT_CHARS = 1500  # the leakage guard reads only this much of the cleaned text
PASSAGE_CHARS = 1500  # one embedded passage (e5-small reads about 512 tokens)
STRUCTURE = (
    "body_chars",
    "appendix_chars",
    "reference_chars",
    "sections",
    "appendix_sections",
    "figures",
    "tables",
    "equations",
    "theorems",
    "recent_references",
    "citations",
    "numbered_references",
    "links",
)
_CONCLUSION = re.compile(r"conclu|discussion|summary", re.IGNORECASE)
_FIGURE = re.compile(r"\b(?:Figure|Fig\.)\s+(\d+)")
_TABLE = re.compile(r"\bTable\s+(\d+)")
_EQUATION = re.compile(r"\(\d{1,3}\)\s*$", re.MULTILINE)
_THEOREM = re.compile(r"\b(?:Theorem|Lemma|Proposition|Corollary)\s+\d")
_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")
_ETAL = re.compile(r"\bet al\.")
_NUMBERED_ENTRY = re.compile(r"^\s*\[\d{1,3}\]", re.MULTILINE)
_NUMERIC_CITATION = re.compile(r"\[\d{1,3}(?:\s*[,–-]\s*\d{1,3})*\]")
RECENT_YEARS = 2  # a reference is recent when its year is at most this many years before the paper's newest


def head_text(paper: PaperText) -> str:
    """The text the n-gram model reads: front, abstract, sections and appendix; references left out."""
    return paper.full_text(with_references=False, with_appendix=True)


def front_text(paper: PaperText) -> str:
    """The first ``FRONT_CHARS`` characters of the cleaned text (what the leakage guard may read)."""
    return head_text(paper)[:FRONT_CHARS]


def structure_counts(paper: PaperText) -> dict[str, float]:
    """The raw structure counts of ``STRUCTURE`` (not yet log-scaled)."""
    body = paper.full_text(with_appendix=False)
    full = head_text(paper)
    appendix = "\n".join(s.text for s in paper.appendix)
    counts = {
        "body_chars": len(body),
        "appendix_chars": len(appendix),
        "reference_chars": len(paper.references),
        "sections": len(paper.sections),
        "appendix_sections": len(paper.appendix),
        "figures": len(set(_FIGURE.findall(full))),
        "tables": len(set(_TABLE.findall(full))),
        "equations": len(_EQUATION.findall(full)),
        "theorems": len(_THEOREM.findall(full)),
        "recent_references": recent_references(paper.references),
        "citations": citations(body, paper.references),
        "numbered_references": int(numbered(paper.references)),
        "links": full.count("[URL removed]"),
    }
    return {name: float(counts[name]) for name in STRUCTURE}


def recent_references(references: str) -> int:
    """Year mentions in the reference list within ``RECENT_YEARS`` of the paper's newest (its third-latest)."""
    years = sorted(int(y) for y in _YEAR.findall(references))
    if not years:
        return 0
    newest = years[-min(3, len(years))]
    return sum(y >= newest - RECENT_YEARS for y in years)


def numbered(references: str) -> bool:
    """Whether the reference list is numbered ("[1] ..."), the citation style of many venues but not ICLR's."""
    return len(_NUMBERED_ENTRY.findall(references)) >= 3


def citations(body: str, references: str) -> int:
    """Citations in the body: "et al." mentions, or bracketed numbers when the reference list is numbered."""
    count = len(_ETAL.findall(body))
    if numbered(references):
        count = max(count, len(_NUMERIC_CITATION.findall(body)))
    return count


def passages(paper: PaperText) -> list[str]:
    """The two passages the head embeds: title + abstract, and the conclusion (the last section if none)."""
    first = f"{paper.title}. {paper.abstract}".strip(" .") or head_text(paper)
    closing = [s for s in paper.sections if _CONCLUSION.search(s.heading)]
    last = closing[-1].text if closing else (paper.sections[-1].text if paper.sections else paper.abstract)
    return [first[:PASSAGE_CHARS], (last or first)[:PASSAGE_CHARS]]
