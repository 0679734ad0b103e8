"""Blind-review cleaning: remove what tells a reviewer who wrote a paper, or whether it was accepted.

On by default (``review.blind``). It works on a split ``PaperText`` and removes:

- camera-ready and submission stamps anywhere ("Published as a conference paper at ...", "Under review as ...",
  "Proceedings of ...", "Accepted at ...", "To appear in ...", arXiv stamps, copyright lines);
- the author block: everything between the title and the abstract (names, affiliations, e-mails,
  "Anonymous authors / Paper under double-blind review"); only the title is kept;
- acknowledgement and funding sections (and "Acknowledgements." paragraphs inside other sections), author
  contribution statements, and sentences thanking people or funders;
- URLs (code, project pages, data links) and e-mail addresses, replaced by placeholders;
- footnote lines such as "*Equal contribution", "Correspondence to ...", "Work done during an internship at ...".

Both kinds of ICLR text must come out alike: the submission versions say "Anonymous authors" (a reject cue in
that data set) and the accepted ones are de-anonymised camera-ready versions (an accept cue).
"""

from __future__ import annotations

import re
from collections import Counter

from pydantic import BaseModel, Field

from reviewer.document import PaperText, Section, guess_title

URL_PLACEHOLDER = "[URL removed]"
EMAIL_PLACEHOLDER = "[email removed]"

_STAMP = re.compile(
    r"^\W*(?:"
    r"(?:published|accepted|presented) (?:as|at|to|in|for) .{0,40}(?:conference|workshop|proceedings|symposium)"
    r"|(?:under review|submitted) (?:as|at|to) "
    r"|in submission to|under review\b"
    r"|(?:in )?proceedings of (?:the )?"
    r"|to appear (?:in|at) "
    r"|accepted (?:at|to|for|by) "
    r"|preprint\. (?:under review|work in progress)"
    r"|arxiv:\s?\d{4}\.\d{4,5}"
    r"|copyright\b|©|\(c\) ?\d{4}"
    r"|(?:\d+(?:st|nd|rd|th) )?conference on neural information processing systems"
    r"|(?:paper )?under double-blind review"
    r"|anonymous (?:authors?|author\(s\)|submission)"
    r").*$",
    re.IGNORECASE,
)
_FOOTNOTE = re.compile(
    r"^\W*(?:\d\s*)?(?:equal contribution|these authors contributed equally|corresponding authors?"
    r"|correspondence to|work (?:was )?done (?:while|during|as)|contact:|project (?:page|website)"
    r"|code (?:is )?(?:available|released) at)\b.*$",
    re.IGNORECASE,
)
_ACK_HEADING = re.compile(
    r"^\W*(?:\d+\.?\s*)?(?:acknowledge?ments?|funding|author contributions?|disclosure of funding)\b", re.IGNORECASE
)
# an "Acknowledgements ..." paragraph inside a section: its line and up to 12 following non-blank lines
_ACK_PARAGRAPH = re.compile(
    r"(?:^|\n)[*_\W]*(?:[Aa]cknowledge?ments?|ACKNOWLEDGE?MENTS?)\b[^\n]*(?:\n(?!\s*\n)[^\n]*){0,12}"
)
_THANKS = re.compile(
    r"\b(?:we (?:would like to |wish to )?thank|we are grateful|gratefully acknowledges?"
    r"|(?:this|the) (?:work|research|project) (?:was|is|has been) (?:partially |partly |in part )?"
    r"(?:supported|funded))\b",
    re.IGNORECASE,
)
_URL = re.compile(
    r"(?:https?://|www\.)[^\s)\]}>\"']+|\b(?:github|gitlab|bitbucket)\.(?:com|org|io)/[^\s)\]}>\"']*", re.IGNORECASE
)
_MD_LINK = re.compile(r"\[([^\]]*)\]\((?:https?://|www\.)[^)]*\)")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b|\{[\w.,\s-]+\}@[\w-]+(?:\.[\w-]+)+")


class BlindReport(BaseModel):
    """What blind cleaning removed (counts by kind), for review.json and the calibration report."""

    enabled: bool = True
    removed: dict[str, int] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.removed.values())


def is_stamp(line: str) -> bool:
    """A camera-ready/submission stamp line (capitalised, short: wrapped body lines start in lower case)."""
    head = line.strip().lstrip("*#_ ")
    if not head or len(head) > 160:
        return False
    if head[0].islower() and not head.lower().startswith("arxiv"):
        return False
    return _STAMP.match(head) is not None


def clean_text(text: str, counts: Counter[str]) -> str:
    """Remove stamps, footnotes, thanks sentences, URLs and e-mails from a block of text."""
    lines = []
    for line in text.splitlines():
        if is_stamp(line):
            counts["stamps"] += 1
            continue
        if _FOOTNOTE.match(line):
            counts["footnotes"] += 1
            continue
        lines.append(line)
    text = "\n".join(lines)
    text, n = _ACK_PARAGRAPH.subn("", text)
    counts["acknowledgements"] += n
    text, n = _remove_thanks(text)
    counts["thanks"] += n
    text, n = _MD_LINK.subn(lambda m: m.group(1) if not _URL.search(m.group(1)) else URL_PLACEHOLDER, text)
    counts["urls"] += n
    text, n = _EMAIL.subn(EMAIL_PLACEHOLDER, text)
    counts["emails"] += n
    text, n = _URL.subn(URL_PLACEHOLDER, text)
    counts["urls"] += n
    return text


def _remove_thanks(text: str) -> tuple[str, int]:
    """Drop each sentence that thanks people or names funding (found by keyword, cut at sentence ends)."""
    spans: list[tuple[int, int]] = []
    for m in _THANKS.finditer(text):
        if spans and m.start() < spans[-1][1]:
            continue
        start = max(text.rfind(ch, 0, m.start()) for ch in ".!?\n") + 1
        ends = [i for i in (text.find(ch, m.end()) for ch in ".!?") if i >= 0]
        end = min(ends) + 1 if ends else len(text)
        spans.append((start, end))
    for start, end in reversed(spans):
        text = text[:start] + text[end:]
    return text, len(spans)


def _clean_sections(sections: list[Section], counts: Counter[str]) -> list[Section]:
    out = []
    for sec in sections:
        if _ACK_HEADING.match(sec.heading):
            counts["acknowledgements"] += 1
            continue
        out.append(sec.model_copy(update={"text": clean_text(sec.text, counts)}))
    return out


def blind_clean(paper: PaperText) -> tuple[PaperText, BlindReport]:
    """A copy of ``paper`` with de-anonymising and decision-revealing cues removed, and what was removed."""
    counts: Counter[str] = Counter()
    report = BlindReport()
    front_lines = [line for line in paper.front.splitlines() if line.strip()]
    kept_front = [line for line in front_lines if not is_stamp(line)]
    counts["stamps"] += len(front_lines) - len(kept_front)
    title = paper.title
    if title and is_stamp(title):
        title = ""
    if not title or _EMAIL.search(title):
        title = guess_title("\n".join(kept_front))
    if "no abstract heading found" not in paper.warnings:
        # the front matter is title + author block: keep only the title
        counts["author_block_lines"] += max(0, len(kept_front) - _title_lines(kept_front, title))
        front = title
    else:
        report.notes.append("no abstract found: author block located by e-mail/affiliation lines only")
        front = clean_text(paper.front, counts)
    cleaned = paper.model_copy(
        update={
            "title": title,
            "front": front,
            "abstract": clean_text(_strip_leading_author_lines(paper.abstract, counts), counts),
            "sections": _clean_sections(paper.sections, counts),
            "appendix": _clean_sections(paper.appendix, counts),
        }
    )
    report.removed = {k: v for k, v in sorted(counts.items()) if v}
    return cleaned, report


def _strip_leading_author_lines(abstract: str, counts: Counter[str]) -> str:
    """Two-column author blocks can land after the "Abstract" heading: drop short leading lines before prose."""
    lines = abstract.splitlines()
    k = 0
    while k < min(len(lines), 12) and len(lines[k].strip()) < 60:
        k += 1
    if 0 < k < len(lines) and any(line.strip() for line in lines[:k]):
        counts["author_block_lines"] += sum(1 for line in lines[:k] if line.strip())
        return "\n".join(lines[k:]).strip()
    return abstract


def _title_lines(lines: list[str], title: str) -> int:
    """How many leading lines of the front matter the title spans."""
    words = set(re.sub(r"[^\w\s]", " ", title.lower()).split())
    n = 0
    for line in lines[:4]:
        lw = set(re.sub(r"[^\w\s]", " ", line.lower()).split())
        if lw and len(lw & words) >= 0.6 * len(lw):
            n += 1
        else:
            break
    return max(n, 1) if lines else 0
