"""The paper as the reviewer sees it: front matter, abstract, sections, references and appendix.

``split_document(text)`` finds section headings in plain text (from a PDF, Markdown or de-TeXed LaTeX):

- Markdown headings (``# Title``, ``## 2 Method``), bold-only lines (``**1 INTRODUCTION**``);
- numbered headings (``1 Introduction``, ``3.2 Ablations``, ``4. RESULTS``) whose top-level numbers never go
  backwards (this rejects table rows and list items);
- well-known unnumbered headings (Abstract, Introduction, Related Work, Conclusion, Acknowledgements,
  References, Appendix, Broader Impact, ...), alone on their line;
- appendix headings (``A Proofs``, ``B.1 Hyper-parameters``) after the references.

The references section is separated (never sent to the model); sections after it are the appendix.
"""

from __future__ import annotations

import re
import unicodedata

from pydantic import BaseModel, Field

KNOWN = (
    r"abstract|introduction|related work|related works|background|preliminaries|method|methods|methodology|approach|"
    r"experiments?|experimental setup|experimental results|evaluation|results|discussion|analysis|"
    r"conclusions?|conclusion and future work|conclusions and future work|summary|future work|limitations|"
    r"acknowledge?ments?(?:\s+(?:and|&)\s+[\w ]{1,40})?|references|bibliography|appendix|appendices|"
    r"supplementary material|broader impacts?|"
    r"ethics statement|ethical considerations|reproducibility statement|impact statement|author contributions"
)
_KNOWN = re.compile(rf"^(?:(?:\d+|[IVX]+)\.?\s+)?({KNOWN})\s*:?$", re.IGNORECASE)
_MD = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$")
_BOLD = re.compile(r"^\*\*(.+?)\*\*$")
_NUMBERED = re.compile(r"^(\d{1,2})((?:\.\d{1,2}){0,2})\.?\s+([A-Z][^\n]*)$")
_LETTERED = re.compile(r"^([A-H])((?:\.\d{1,2}){0,2})\.?\s+([A-Z][^\n]*)$")
_REFS = re.compile(r"^(references|bibliography|literature cited)$", re.IGNORECASE)
_ABSTRACT_INLINE = re.compile(r"^(?:\*\*)?abstract(?:\*\*)?\s*[.:—–-]\s*(\S.*)$", re.IGNORECASE)


class Section(BaseModel):
    heading: str
    level: int = 1
    text: str = ""

    @property
    def words(self) -> int:
        return len(self.text.split())


class PaperText(BaseModel):
    """A paper split into parts; ``front`` is everything before the abstract (title, authors)."""

    source: str = Field(description="file name the paper came from")
    kind: str = Field(description="pdf | tex | md | txt")
    title: str = ""
    pages: int | None = None
    front: str = ""
    abstract: str = ""
    sections: list[Section] = Field(default_factory=list)
    references: str = ""
    appendix: list[Section] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @property
    def body_words(self) -> int:
        return len(self.abstract.split()) + sum(s.words for s in self.sections)

    def full_text(self, *, with_references: bool = False, with_appendix: bool = True) -> str:
        parts = [self.front, "Abstract\n" + self.abstract if self.abstract else ""]
        parts += [f"{s.heading}\n{s.text}" for s in self.sections]
        if with_references and self.references:
            parts.append("References\n" + self.references)
        if with_appendix:
            parts += [f"{s.heading}\n{s.text}" for s in self.appendix]
        return "\n\n".join(p for p in parts if p.strip())


def letters(text: str) -> str:
    """Lower-case ASCII letters of ``text`` only ("``Àbstract" -> "abstract")."""
    folded = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in folded.lower() if "a" <= ch <= "z")


def is_abstract_heading(text: str) -> bool:
    return letters(text) == "abstract"


def _clean_heading(text: str) -> str:
    text = re.sub(r"\*\*|__|`", "", text).strip()
    return re.sub(r"\s+", " ", text)


def _looks_like_title(text: str) -> bool:
    words = text.split()
    if not 1 <= len(words) <= 12 or len(text) > 90:
        return False
    if text.rstrip()[-1:] in ".,;=" or re.search(r"[=<>{}]|\d{3,}|%", text):
        return False
    return sum(ch.isalpha() for ch in text) >= 0.6 * len(text.replace(" ", ""))


def heading_of(line: str, last_top: int, after_refs: bool) -> tuple[str, int, int | None] | None:
    """(heading, level, top-level number or None) when ``line`` is a section heading, else None."""
    raw = line.strip()
    if not raw or len(raw) > 100:
        return None
    md = _MD.match(raw)
    if md:
        return _clean_heading(md.group(2)), len(md.group(1)), None
    bold = _BOLD.match(raw)
    text = _clean_heading(bold.group(1) if bold else raw)
    if _KNOWN.match(text):
        lead = re.match(r"^(\d+)\.?\s", text)
        return text, 1, (int(lead.group(1)) if lead else None)
    num = _NUMBERED.match(text)
    if num and _looks_like_title(num.group(3)):
        top = int(num.group(1))
        if last_top <= top <= last_top + 3 and top >= 1:
            return text, 1 + num.group(2).count("."), top
    if after_refs:
        let = _LETTERED.match(text)
        if let and _looks_like_title(let.group(3)):
            return text, 1 + let.group(2).count("."), None
    if bold and _looks_like_title(text) and text.isupper():
        return text, 1, None
    return None


def split_document(text: str, *, source: str, kind: str, title: str = "", pages: int | None = None) -> PaperText:
    """Split cleaned paper text into front matter, abstract, sections, references and appendix."""
    lines = text.splitlines()
    paper = PaperText(source=source, kind=kind, title=title, pages=pages)
    front: list[str] = []
    current: Section | None = None
    body: list[Section] = []
    refs: list[str] = []
    appendix: list[Section] = []
    state = "front"  # front -> body -> refs -> appendix
    last_top = 0
    for line in lines:
        if state == "front":
            inline = _ABSTRACT_INLINE.match(line.strip())
            if inline:
                current = Section(heading="Abstract", text=inline.group(1))
                body.append(current)
                state = "body"
                continue
        if state in ("front", "body") and len(body) < 8 and is_abstract_heading(line):
            # the abstract: what came before it is front matter (affiliation lines can look like headings)
            for sec in body:
                front.extend([sec.heading, sec.text])
            body = []
            current = Section(heading="Abstract")
            body.append(current)
            state, last_top = "body", 0
            continue
        found = heading_of(line, last_top, after_refs=state in ("refs", "appendix"))
        if found is not None:
            heading, level, top = found
            if top is not None:
                last_top = top
            if _REFS.match(heading.lower().split(" ", 1)[-1] if heading[:1].isdigit() else heading):
                state = "refs"
                current = None
                continue
            if state == "front" and top is None and _MD.match(line.strip()) and not _KNOWN.match(heading):
                front.append(line)  # a Markdown "# Title" line before the abstract
                continue
            current = Section(heading=heading, level=level)
            if state in ("refs", "appendix"):
                state = "appendix"
                appendix.append(current)
            else:
                state = "body"
                body.append(current)
            continue
        if state == "front":
            front.append(line)
        elif state == "refs":
            refs.append(line)
        elif current is not None:
            current.text += line + "\n"
    for sec in body + appendix:
        sec.text = sec.text.strip()
    if body and is_abstract_heading(body[0].heading):
        paper.abstract = body.pop(0).text
    else:
        paper.warnings.append("no abstract heading found")
    paper.front = "\n".join(front).strip()
    paper.sections = body
    paper.references = "\n".join(refs).strip()
    paper.appendix = appendix
    if not paper.title:
        paper.title = guess_title(paper.front)
    if not body:
        paper.warnings.append("no section headings found; the text is one section")
        paper.sections = [Section(heading="Text", text=paper.front)] if paper.front and not paper.abstract else []
    return paper


def guess_title(front: str) -> str:
    """The first non-empty line(s) of the front matter; all-caps titles may continue on the next lines."""
    lines = [re.sub(r"^#+\s*|\*\*", "", line).strip() for line in front.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    title = [lines[0]]
    for line in lines[1:3]:
        if title[-1].isupper() and line.isupper() and "@" not in line:
            title.append(line)
        else:
            break
    return " ".join(title)[:300]
