"""The paper as it goes into the prompt: a section-aware digest that fits a token budget.

Long papers are handled by *section-aware truncation*, not chunked reading (one pass keeps a review to one model
call, which matters on a 2-core CPU). The digest holds, in order:

1. the title and the abstract (the abstract capped at 1/6 of the budget);
2. an outline: every section heading (appendix headings too), and counts of figures, tables and references;
3. the body sections, each cut at a sentence end to its share of the remaining budget. Shares are filled like
   water: short sections go in whole and leave their unused share to the others; the introduction and the
   conclusion weigh double. Each cut says how many words were left out. References and appendix text are left
   out (their headings are in the outline).

Tokens are estimated as characters / 3.6 (English scientific text with some math, on Qwen and GPT tokenisers).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from reviewer.document import PaperText, Section

CHARS_PER_TOKEN = 3.6
_PRIORITY = re.compile(r"introduction|conclusion|discussion|summary", re.IGNORECASE)


class Digest(BaseModel):
    text: str
    tokens_est: int
    budget_tokens: int
    sections_whole: list[str] = Field(default_factory=list)
    sections_cut: list[str] = Field(default_factory=list)
    words_left_out: int = 0


def estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


def cut_at_sentence(text: str, max_chars: int) -> str:
    """The head of ``text`` up to ``max_chars``, ending at a sentence end when one is near."""
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    end = max(head.rfind(". "), head.rfind(".\n"), head.rfind("? "), head.rfind("! "))
    if end > max_chars * 0.6:
        head = head[: end + 1]
    return head.rstrip()


def _shares(sizes: list[int], weights: list[float], budget: int) -> list[int]:
    """Water-filling: sections that fit get their size, the rest split what is left by weight."""
    alloc = [0] * len(sizes)
    open_ = set(range(len(sizes)))
    left = budget
    while open_:
        total_w = sum(weights[i] for i in open_)
        fits = [i for i in open_ if sizes[i] <= left * weights[i] / total_w]
        if not fits:
            for i in open_:
                alloc[i] = int(left * weights[i] / total_w)
            break
        for i in fits:
            alloc[i] = sizes[i]
            left -= sizes[i]
            open_.discard(i)
    return alloc


def outline(paper: PaperText) -> str:
    text = paper.full_text(with_appendix=True)
    figures = len(set(re.findall(r"\b(?:Figure|Fig\.)\s+(\d+)", text)))
    tables = len(set(re.findall(r"\bTable\s+(\d+)", text)))
    refs = len([line for line in paper.references.splitlines() if re.match(r"^\s*(\[\d+\]|[A-Z][\w'-]+,)", line)])
    heads = [s.heading for s in paper.sections] + [f"(appendix) {s.heading}" for s in paper.appendix]
    lines = ["Sections: " + "; ".join(heads)] if heads else []
    lines.append(f"Figures: {figures}, tables: {tables}, reference entries: ~{refs}, pages: {paper.pages or '?'}")
    return "\n".join(lines)


def build_digest(paper: PaperText, budget_tokens: int) -> Digest:
    """A digest of ``paper`` whose estimated size is at most ``budget_tokens``."""
    budget = int(budget_tokens * CHARS_PER_TOKEN)
    abstract = cut_at_sentence(paper.abstract, budget // 6)
    head = f"Title: {paper.title or '(untitled)'}\n\nAbstract:\n{abstract}\n\nOutline:\n{outline(paper)}\n"
    rest = max(0, budget - len(head))
    sections: list[Section] = [s for s in paper.sections if s.text.strip()]
    overhead = [len(s.heading) + 40 for s in sections]
    sizes = [len(s.text) for s in sections]
    weights = [2.0 if _PRIORITY.search(s.heading) else 1.0 for s in sections]
    shares = _shares(sizes, weights, max(0, rest - sum(overhead)))
    parts = [head]
    whole, cut, left_out = [], [], 0
    for sec, share in zip(sections, shares, strict=True):
        if share < 200 and len(sec.text) > share:
            left_out += sec.words
            cut.append(sec.heading)
            continue
        body = cut_at_sentence(sec.text, share)
        if len(body) < len(sec.text):
            missing = sec.words - len(body.split())
            left_out += missing
            cut.append(sec.heading)
            body += f" [... {missing} words omitted]"
        else:
            whole.append(sec.heading)
        parts.append(f"\n## {sec.heading}\n{body}\n")
    text = "".join(parts)
    return Digest(
        text=text,
        tokens_est=estimate_tokens(text),
        budget_tokens=budget_tokens,
        sections_whole=whole,
        sections_cut=cut,
        words_left_out=left_out,
    )
