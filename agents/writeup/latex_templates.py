"""Render the paper from ``templates/latex/*.tex.j2`` (Jinja with LaTeX-safe delimiters) and make text LaTeX-safe.

Delimiters: ``\\VAR{x}`` for values, ``\\BLOCK{for ...}`` for statements, ``\\#{...}`` for comments, so that the
braces and percent signs of LaTeX never clash with Jinja's. Two layouts of our own (no copied conference style
files): ``workshop`` (4 pages, one column) and ``conference`` (8 pages, two columns); page limits exclude the
references and the appendix, which follow the ``shoal-body-end`` PDF destination.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2
from pydantic import BaseModel, Field

from agents.prompts import templates_root


@dataclass(frozen=True)
class Layout:
    name: str
    template: str
    page_limit: int
    twocolumn: bool


LAYOUTS: dict[str, Layout] = {
    "workshop": Layout("workshop", "workshop.tex.j2", 4, False),
    "conference": Layout("conference", "conference.tex.j2", 8, True),
}

BODY_END_DEST = "shoal-body-end"


class SectionDoc(BaseModel):
    """One section as it goes into the template: model-written body plus generated floats (tables, figures)."""

    name: str
    title: str
    body: str
    floats: list[str] = Field(default_factory=list)


class PaperDoc(BaseModel):
    title: str
    author: str
    abstract: str
    sections: list[SectionDoc]
    appendix: list[SectionDoc] = Field(default_factory=list)
    cite_keys: list[str] = Field(default_factory=list, description="keys cited in the text (bibliography if any)")
    footer: str = "Preprint. Written by Shoal, an automated research pipeline; verify before citing."

    def all_sections(self) -> list[SectionDoc]:
        return [*self.sections, *self.appendix]


_TEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_TEX_SPECIALS_RE = re.compile("|".join(re.escape(k) for k in _TEX_SPECIALS))

# Characters a model (or a caption) writes that pdflatex with T1/utf8 cannot typeset as they are.
UNICODE_TO_TEX: dict[str, str] = {
    "±": r"$\pm$",
    "≈": r"$\approx$",
    "×": r"$\times$",
    "≤": r"$\leq$",
    "≥": r"$\geq$",
    "→": r"$\rightarrow$",
    "←": r"$\leftarrow$",
    "−": "-",
    "–": "--",
    "—": "---",
    "‘": "`",
    "’": "'",
    "“": "``",
    "”": "''",
    "…": r"\ldots{}",
    "µ": r"$\mu$",
    "α": r"$\alpha$",
    "β": r"$\beta$",
    "γ": r"$\gamma$",
    "δ": r"$\delta$",
    "ε": r"$\epsilon$",
    "λ": r"$\lambda$",
    "σ": r"$\sigma$",
    "θ": r"$\theta$",
    "η": r"$\eta$",
    "\u00a0": "~",
    "\u200b": "",
}


def tex_escape(text: object) -> str:
    """Plain text -> LaTeX (every special character escaped); for titles, author lines and captions."""
    out = _TEX_SPECIALS_RE.sub(lambda m: _TEX_SPECIALS[m.group(0)], str(text))
    return unicode_to_tex(out)


def unicode_to_tex(text: str) -> str:
    """Replace the Unicode a model writes with LaTeX; drop characters pdflatex cannot typeset (beyond Latin-1)."""
    out: list[str] = []
    for ch in text:
        if ch in UNICODE_TO_TEX:
            out.append(UNICODE_TO_TEX[ch])
        elif ord(ch) < 0x100 or ch in "\n\t":
            out.append(ch)
    return "".join(out)


@lru_cache(maxsize=2)
def _environment(root: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        block_start_string=r"\BLOCK{",
        block_end_string="}",
        variable_start_string=r"\VAR{",
        variable_end_string="}",
        comment_start_string=r"\#{",
        comment_end_string="}",
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["tex_escape"] = tex_escape
    return env


def latex_environment() -> jinja2.Environment:
    return _environment(templates_root() / "latex")


def get_layout(name: str) -> Layout:
    return LAYOUTS[name]


def render_paper(layout: Layout, doc: PaperDoc) -> str:
    """The complete ``paper.tex`` for ``doc`` in ``layout``."""
    template = latex_environment().get_template(layout.template)
    return template.render(
        title=doc.title,
        author=doc.author,
        abstract=doc.abstract,
        sections=[s.model_dump() for s in doc.sections],
        appendix=[s.model_dump() for s in doc.appendix],
        cite_keys=doc.cite_keys,
        footer=doc.footer,
        twocolumn=layout.twocolumn,
    )


_BEGIN = re.compile(r"^% shoal:begin (\S+)\s*$")
_END = re.compile(r"^% shoal:end (\S+)\s*$")


def section_at_line(tex: str, line_no: int) -> str | None:
    """The model-written section that holds 1-based ``line_no`` of a rendered paper (None: template text).

    TeX reports some errors where the paragraph ends, on the blank line after a section's end marker: such a
    line belongs to that section."""
    lines = tex.splitlines()
    current: str | None = None
    for i, line in enumerate(lines[:line_no], start=1):
        m = _BEGIN.match(line)
        if m:
            current = m.group(1)
        elif _END.match(line) and i < line_no:
            current = None
    if current is not None:
        return current
    if 1 < line_no <= len(lines) and not lines[line_no - 1].strip():
        m = _END.match(lines[line_no - 2])
        if m:
            return m.group(1)
    return None


def section_line_offset(tex: str, name: str) -> int:
    """1-based line number of the first body line of section ``name`` in a rendered paper (0 when absent)."""
    for i, line in enumerate(tex.splitlines(), start=1):
        m = _BEGIN.match(line)
        if m and m.group(1) == name:
            return i + 1
    return 0
