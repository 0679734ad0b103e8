"""Citations: bounded rounds in which the model asks the literature backend for papers, and the bibliography.

Only papers a backend *returned* enter ``references.bib``: the model proposes search queries, sees the results
as a numbered list, and picks by number, so it can never introduce a paper of its own. Keys are stable
(``lastnameYEARfirstword``, a/b/... on clashes) and replace the key of the source's BibTeX when it gives one; an
entry is built from the metadata otherwise. After writing, every ``\\cite`` key is checked against the
bibliography; unknown keys are removed from the text (and reported), a citation command left empty disappears.
"""

from __future__ import annotations

import logging
import re
import unicodedata

from pydantic import BaseModel, Field

from agents.errors import StructuredOutputError
from agents.literature.base import LiteratureBackend, Paper
from agents.llm import LLM
from agents.writeup.context import WriterContext

log = logging.getLogger(__name__)

RESULTS_PER_QUERY = 5


class CitationQueries(BaseModel):
    queries: list[str] = Field(default_factory=list, max_length=3, description="short literature search queries")
    done: bool = Field(default=False, description="true when the paper has enough references")


class CitationPicks(BaseModel):
    picks: list[int] = Field(default_factory=list, description="numbers of the listed papers worth citing")


class Reference(BaseModel):
    key: str
    paper: Paper
    bibtex: str


class CitationOutcome(BaseModel):
    references: list[Reference] = Field(default_factory=list)
    queries: list[str] = Field(default_factory=list)
    rounds: int = 0
    errors: list[str] = Field(default_factory=list, description="model or backend failures, as data")

    def keys(self) -> set[str]:
        return {r.key for r in self.references}


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


_STOP = {"a", "an", "the", "on", "of", "for", "in", "to", "and", "with", "towards", "toward", "via", "is", "are"}


def make_key(paper: Paper, taken: set[str]) -> str:
    """A stable, readable BibTeX key: first author's last name, year, first content word of the title."""
    last = _ascii(paper.authors[0].split()[-1]) if paper.authors and paper.authors[0].split() else "anon"
    words = [w for w in re.findall(r"[A-Za-z0-9]+", _ascii(paper.title).lower()) if w not in _STOP]
    year = str(paper.year) if paper.year else ""
    base = re.sub(r"[^a-z0-9]", "", last.lower()) + year + (words[0] if words else "")
    base = base or "ref"
    key, n = base, 0
    while key in taken:
        n += 1
        key = base + chr(ord("a") + (n - 1) % 26) * (1 + (n - 1) // 26)
    return key


def _bib_value(text: str) -> str:
    """Metadata text -> a BibTeX field value (braces balanced, LaTeX specials escaped)."""
    text = _ascii(text) if not text.isascii() else text
    text = text.replace("\\", " ").replace("{", "").replace("}", "")
    for ch in "&%$#_":
        text = text.replace(ch, "\\" + ch)
    return " ".join(text.split())


_PROCEEDINGS = re.compile(
    r"conference|proceedings|workshop|symposium|neural information processing|\b(?:icml|iclr|neurips)\b", re.I
)


def bibtex_from_metadata(paper: Paper, key: str) -> str:
    in_proc = bool(paper.venue and _PROCEEDINGS.search(paper.venue))
    kind = "inproceedings" if in_proc else "article" if paper.venue else "misc"
    fields = [("title", "{" + _bib_value(paper.title) + "}")]
    if paper.authors:
        fields.append(("author", " and ".join(_bib_value(a) for a in paper.authors)))
    if paper.year:
        fields.append(("year", str(paper.year)))
    if paper.venue:
        fields.append(("booktitle" if in_proc else "journal", _bib_value(paper.venue)))
    if paper.url:
        fields.append(("url", paper.url.replace("{", "").replace("}", "")))
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields)
    return f"@{kind}{{{key},\n{body}\n}}"


_ENTRY_HEAD = re.compile(r"^\s*@([A-Za-z]+)\s*\{\s*([^,\s]*)\s*,", re.S)


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch == "{"
        depth -= ch == "}"
        if depth < 0:
            return False
    return depth == 0


def bibtex_for(paper: Paper, key: str) -> str:
    """The source's BibTeX with our key when it is one well-formed entry; built from metadata otherwise."""
    src = (paper.bibtex or "").strip()
    m = _ENTRY_HEAD.match(src)
    if m and src.count("@") == 1 and _balanced(src) and src.isascii():
        rest = re.sub(r"(\btitle\s*=\s*)\{([^{}]*)\}", r"\1{{\2}}", src[m.end() :], count=1, flags=re.I)
        return f"@{m.group(1).lower()}{{{key}," + rest
    return bibtex_from_metadata(paper, key)


def add_reference(outcome: CitationOutcome, paper: Paper) -> Reference | None:
    if any(r.paper.paper_id == paper.paper_id for r in outcome.references):
        return None
    key = make_key(paper, outcome.keys())
    ref = Reference(key=key, paper=paper, bibtex=bibtex_for(paper, key))
    outcome.references.append(ref)
    return ref


def _listing(papers: list[Paper]) -> list[str]:
    out = []
    for i, p in enumerate(papers, start=1):
        who = p.authors[0].split()[-1] + (" et al." if len(p.authors) > 1 else "") if p.authors else "Anonymous"
        line = f"[{i}] {p.title} ({who}, {p.year or 'n.d.'})"
        if p.abstract:
            line += f": {' '.join(p.abstract.split())[:200]}"
        out.append(line)
    return out


def gather_citations(
    llm: LLM, literature: LiteratureBackend, ctx: WriterContext, *, rounds: int, max_refs: int
) -> CitationOutcome:
    """Bounded search rounds; every reference comes from ``literature``. Model and backend failures are data."""
    outcome = CitationOutcome()
    for round_no in range(1, rounds + 1):
        if len(outcome.references) >= max_refs:
            break
        outcome.rounds = round_no
        have = [f"{r.paper.title} ({r.paper.year or 'n.d.'})" for r in outcome.references]
        try:
            ask = llm.structured(
                "writer",
                "writeup/cite_queries",
                CitationQueries,
                {"idea": ctx.idea, "have": have, "round": round_no, "rounds": rounds},
            )
        except StructuredOutputError as exc:
            outcome.errors.append(f"round {round_no}: {exc}")
            break
        queries = [q.strip() for q in ask.queries if q.strip() and q.strip() not in outcome.queries]
        if not queries:
            break
        found: list[Paper] = []
        for q in queries:
            outcome.queries.append(q)
            try:
                results = literature.search(q, limit=RESULTS_PER_QUERY)
            except Exception as exc:  # a backend outage degrades to fewer citations, never stops the paper
                log.warning("literature search %r failed: %s", q, exc)
                outcome.errors.append(f"search {q!r}: {exc}")
                continue
            known = {p.paper_id for p in found} | {r.paper.paper_id for r in outcome.references}
            found += [p for p in results if p.paper_id not in known and p.title.strip()]
        if not found:
            continue
        try:
            picks = llm.structured(
                "writer",
                "writeup/cite_pick",
                CitationPicks,
                {"idea": ctx.idea, "papers": _listing(found), "room": max_refs - len(outcome.references)},
            )
        except StructuredOutputError as exc:
            outcome.errors.append(f"round {round_no} picks: {exc}")
            continue
        for i in dict.fromkeys(picks.picks):
            if 1 <= i <= len(found) and len(outcome.references) < max_refs:
                add_reference(outcome, found[i - 1])
            elif not 1 <= i <= len(found):
                outcome.errors.append(f"round {round_no}: pick {i} is not a listed paper")
        if ask.done:
            break
    log.info("citations: %d references from %d queries", len(outcome.references), len(outcome.queries))
    return outcome


def write_bib(references: list[Reference]) -> str:
    return "\n\n".join(r.bibtex for r in references) + ("\n" if references else "")


_CITE = re.compile(r"\\(cite[a-zA-Z]*\*?)((?:\s*\[[^\]]*\]){0,2})\s*\{([^}]*)\}")


def cited_keys(tex: str) -> list[str]:
    keys: list[str] = []
    for m in _CITE.finditer(tex):
        keys += [k.strip() for k in m.group(3).split(",") if k.strip() and k.strip() not in keys]
    return keys


def resolve_citations(tex: str, known: set[str]) -> tuple[str, list[str]]:
    """Drop unknown keys from every citation command; a command left with no key is removed with its space."""
    removed: list[str] = []

    def fix(m: re.Match[str]) -> str:
        keys = [k.strip() for k in m.group(3).split(",") if k.strip()]
        good = [k for k in keys if k in known]
        removed.extend(k for k in keys if k not in known)
        if not good:
            return "\x00"
        return f"\\{m.group(1)}{m.group(2)}{{{','.join(good)}}}"

    out = _CITE.sub(fix, tex)
    out = re.sub(r"[ \t]*~?\x00", "", out)
    return out, removed
