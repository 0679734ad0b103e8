"""What the score head reads from a blind-cleaned paper: the text for TF-IDF n-grams, structure counts, the
passages it embeds, and the front matter (for the leakage guard).

Every function takes a ``PaperText`` that has already been through ``reviewer.blind.blind_clean``; none of them
sees an author, an affiliation or a venue stamp.

Structure counts (``log1p`` of each, so a 100-page appendix does not dominate):

- characters of the body (abstract + sections), of the appendix and of the reference list; sections and appendix
  sections; distinct figures and tables referenced; numbered display equations ("(12)" at a line end);
  theorem/lemma/proposition statements; reference entries from 2019 on (recent literature); "et al." citations
  in the body; links (``[URL removed]`` placeholders: code and data releases).
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
    "links",
)
_CONCLUSION = re.compile(r"conclu|discussion|summary", re.IGNORECASE)
_FIGURE = re.compile(r"\b(?:Figure|Fig\.)\s+(\d+)")
_TABLE = re.compile(r"\bTable\s+(\d+)")
_EQUATION = re.compile(r"\(\d{1,3}\)\s*$", re.MULTILINE)
_THEOREM = re.compile(r"\b(?:Theorem|Lemma|Proposition|Corollary)\s+\d")
_RECENT = re.compile(r"\b20(?:19|2\d)\b")
_ETAL = re.compile(r"\bet al\.")


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
        "recent_references": len(_RECENT.findall(paper.references)),
        "citations": len(_ETAL.findall(body)),
        "links": full.count("[URL removed]"),
    }
    return {name: float(counts[name]) for name in STRUCTURE}


def passages(paper: PaperText) -> list[str]:
    """The two passages the head embeds: title + abstract, and the conclusion (the last section if none)."""
    first = f"{paper.title}. {paper.abstract}".strip(" .") or head_text(paper)
    closing = [s for s in paper.sections if _CONCLUSION.search(s.heading)]
    last = closing[-1].text if closing else (paper.sections[-1].text if paper.sections else paper.abstract)
    return [first[:PASSAGE_CHARS], (last or first)[:PASSAGE_CHARS]]
