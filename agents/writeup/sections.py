"""The section writer: one short prompt per section (``templates/prompts/writeup/<section>.md.j2``), plus the
revision prompts that carry problems back (wrong numbers, LaTeX errors, chktex warnings, length).

The model writes the body of one section as LaTeX text; tables and figures are generated floats it refers to by
label. Its answer is cleaned deterministically before anything else sees it: code fences, headings, preamble and
document commands are dropped, Markdown emphasis becomes LaTeX, Unicode becomes LaTeX, and the characters a small
model forgets to escape (``%`` after a number, ``_``, ``&``, ``#`` in prose) are escaped.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import partial

from agents.llm import LLM
from agents.writeup.citations import Reference
from agents.writeup.context import WriterContext
from agents.writeup.latex_templates import SectionDoc, unicode_to_tex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SectionSpec:
    name: str
    title: str
    words: int  # target length in the 4-page layout; doubled for the 8-page one


BODY_SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("introduction", "Introduction", 300),
    SectionSpec("related_work", "Related Work", 200),
    SectionSpec("method", "Method", 300),
    SectionSpec("experimental_setup", "Experimental Setup", 200),
    SectionSpec("results", "Results", 300),
    SectionSpec("discussion", "Discussion and Limitations", 200),
    SectionSpec("conclusion", "Conclusion", 100),
)
ABSTRACT = SectionSpec("abstract", "Abstract", 150)
APPENDIX = SectionSpec("appendix", "Experimental Details", 200)
ALL_SPECS = {s.name: s for s in (ABSTRACT, *BODY_SECTIONS, APPENDIX)}


def _variables(ctx: WriterContext, refs: list[Reference], spec: SectionSpec, words: int) -> dict[str, object]:
    return {
        "idea": ctx.idea,
        "section": spec.title,
        "words": words,
        "stages": ctx.stages,
        "key_results": ctx.key_results,
        "key_sentences": ctx.key_sentences,
        "method_plan": ctx.method_plan,
        "datasets": ctx.datasets,
        "seeds": ctx.seeds,
        "data": ctx.data,
        "tables": [{"label": t.label, "caption": t.caption} for t in ctx.tables],
        "figures": [{"label": f.label, "caption": f.caption} for f in ctx.figures],
        "refs": [{"key": r.key, "title": r.paper.title, "year": r.paper.year or "n.d."} for r in refs],
    }


_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*$", re.M)
_DROP_LINES = re.compile(
    r"^\s*(?:\\documentclass.*|\\usepackage.*|\\begin\{document\}|\\end\{document\}|\\maketitle|"
    r"\\begin\{abstract\}|\\end\{abstract\}|\\bibliography(?:style)?\{.*\}|\\section\*?\{.*\}\s*(?:\\label\{[^}]*\})?|"
    r"\\title\{.*\}|\\author\{.*\}|#{1,4} .*|(?:Abstract|Introduction|Conclusion|Results|Method|References)\s*:?)\s*$",
    re.M,
)
_PROTECT = re.compile(
    r"\\(?:ref|eqref|autoref|cref|Cref|label|cite[a-zA-Z]*|includegraphics|url|href|hypertarget)\*?"
    r"(?:\s*\[[^\]]*\])*\s*\{[^}]*\}"
)
_MATH = re.compile(r"(\$[^$]*\$)")


def _restore(saved: list[str], m: re.Match[str]) -> str:
    return saved[int(m.group(1))]


def _escape_prose(text: str) -> str:
    """Escape ``_ & #`` and ``%`` after a digit, and turn "straight quotes" into TeX quotes, in prose (outside
    math and outside reference/citation arguments)."""
    parts = _MATH.split(text)
    for i in range(0, len(parts), 2):
        saved: list[str] = []

        def keep(m: re.Match[str], saved: list[str] = saved) -> str:
            saved.append(m.group(0))
            return f"\x01{len(saved) - 1}\x02"

        p = _PROTECT.sub(keep, parts[i])
        p = re.sub(r"(?<!\\)([_&#])", r"\\\1", p)
        p = re.sub(r"(?<=\d)\s?(?<!\\)%", r"\\%", p)
        p = re.sub(r'(?<![\w\\])"([^"\n]+)"', r"``\1''", p)
        parts[i] = re.sub(r"\x01(\d+)\x02", partial(_restore, saved), p)
    return "".join(parts)


_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(.*)$")


def _markdown_lists(text: str) -> str:
    """Runs of Markdown bullet or numbered lines -> an itemize environment."""
    out: list[str] = []
    items: list[str] = []
    for line in [*text.split("\n"), ""]:
        m = _BULLET.match(line)
        if m:
            items.append(m.group(1).strip())
            continue
        if items:
            out += ["\\begin{itemize}", *(f"\\item {i}" for i in items), "\\end{itemize}"]
            items = []
        out.append(line)
    return "\n".join(out[:-1])


_ENV = re.compile(r"\\(begin|end)\{([^}]+)\}")


def balance_environments(text: str) -> str:
    """Close environments a cut-off answer left open (in order) and drop ``\\end`` without a ``\\begin``."""
    stack: list[str] = []
    out: list[str] = []
    pos = 0
    for m in _ENV.finditer(text):
        out.append(text[pos : m.start()])
        pos = m.end()
        kind, name = m.group(1), m.group(2)
        if kind == "begin":
            stack.append(name)
            out.append(m.group(0))
        elif name in stack:
            while stack and stack[-1] != name:
                out.append(f"\\end{{{stack.pop()}}}")
            stack.pop()
            out.append(m.group(0))
    out.append(text[pos:])
    closing = "".join(f"\n\\end{{{name}}}" for name in reversed(stack))
    return "".join(out).rstrip() + closing


# a reference list of the model's own: Shoal's comes from the checked citations (the model's held invented
# entries, and its numeric \bibitem put natbib into a state that failed every later build)
_OWN_BIBLIOGRAPHY = re.compile(
    r"\\begin\{thebibliography\}.*?(?:\\end\{thebibliography\}|\Z)|^[ \t]*\\bibitem\b[^\n]*", re.S | re.M
)


def clean_body(text: str) -> str:
    """A model's answer -> the LaTeX body of one section."""
    text = text.replace("\r\n", "\n")
    text = _FENCE.sub("", text)
    text = _OWN_BIBLIOGRAPHY.sub("", text)
    text = re.sub(r"^(?:Here is|Here's|Sure)[^\n]*:\s*\n", "", text.strip(), flags=re.I)
    text = _DROP_LINES.sub("", text)
    text = re.sub(r"\*\*([^*\n]+)\*\*", r"\\textbf{\1}", text)
    text = re.sub(r"(?<![*\w])\*([^*\n]+)\*(?![*\w])", r"\\emph{\1}", text)
    text = re.sub(r"`([^`\n]+)`", r"\\texttt{\1}", text)
    text = _markdown_lists(text)
    text = unicode_to_tex(text)
    text = _escape_prose(text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return balance_environments(text.strip())


def words_for(spec: SectionSpec, layout_pages: int, scale: float = 1.0) -> int:
    return max(40, int(spec.words * max(1, layout_pages // 4) * scale))


def write_section(
    llm: LLM, ctx: WriterContext, refs: list[Reference], spec: SectionSpec, layout_pages: int, scale: float = 1.0
) -> SectionDoc:
    words = words_for(spec, layout_pages, scale)
    reply = llm.chat(
        "writer",
        f"writeup/{spec.name}",
        _variables(ctx, refs, spec, words),
        max_tokens=min(2048, int(words * 1.6) + 80),  # ~1.3 tokens a word; a rambling answer is cut
    )
    body = clean_body(reply.content)
    if reply.finish_reason == "length":
        body = _cut_to_last_sentence(body)
    log.info("section %s: %d words", spec.name, len(body.split()))
    return SectionDoc(name=spec.name, title=spec.title, body=body)


def _cut_to_last_sentence(text: str) -> str:
    cut = max(text.rfind(". "), text.rfind(".\n"), text.rfind(".") if text.endswith(".") else -1)
    return text[: cut + 1] if cut > len(text) // 2 else text


def revise_section(
    llm: LLM,
    section: SectionDoc,
    prompt: str,
    refs: list[Reference],
    *,
    problems: list[str] | None = None,
    log_excerpt: str = "",
    words: int | None = None,
    key_results: list[str] | None = None,
) -> SectionDoc:
    """One revision of ``section`` by ``prompt`` (writeup/revise, writeup/fix_latex, writeup/shorten)."""
    current = len(section.body.split())
    target = words or current
    reply = llm.chat(
        "writer",
        prompt,
        {
            "section": section.title,
            "body": section.body,
            "problems": problems or [],
            "log_excerpt": log_excerpt,
            "words": target,
            "current_words": current,
            "refs": [{"key": r.key, "title": r.paper.title} for r in refs],
            "key_results": key_results or [],
        },
        max_tokens=min(3072, int(max(target, current) * 1.6) + 120),
    )
    body = clean_body(reply.content)
    if reply.finish_reason == "length":
        body = _cut_to_last_sentence(body)
    if not body:
        log.warning("%s: the model returned no text for %s; keeping the previous version", prompt, section.name)
        return section
    return section.model_copy(update={"body": body})
