"""Integrity checks before compile: numbers, figures, citations, placeholders.

- Numbers: in every section (abstract and appendix included), every table and every figure caption, each number
  (integers included) must state a recorded fact (``agents.writeup.facts``: a reported metric at the tables'
  precision or finer, a standard error, a seed's value, a difference of two reported rows, a setting, a count;
  a setting or count only in a sentence that names it, a table's whole text counting as one sentence).
  Not checked: numbers inside commands' arguments (``\\ref``, ``\\label``, ``\\cite``, lengths), an integer
  after "Section", "Figure", "Table", "Eq.", "Stage", "Appendix"... (a reference), years (1900-2099), integers in
  math (notation such as exponents).
- Figures: every ``\\includegraphics`` file exists in ``paper/figures/``; every figure label is referenced.
- Citations: every ``\\cite`` key is in the bibliography.
- Placeholders: TODO, TBD, XX, lorem ipsum, ``[citation needed]``, ``<insert ...>``, unrendered template syntax.

Each issue names its section, so it can be sent back to the writer of that section.
"""

from __future__ import annotations

import bisect
import re
from pathlib import Path

from agents.writeup.citations import cited_keys
from agents.writeup.facts import Fact, match
from agents.writeup.issues import Issue
from agents.writeup.latex_templates import SectionDoc

_REF_BEFORE = re.compile(
    r"(?:Sections?|Sec\.|Figures?|Fig\.|Tables?|Tab\.|Eqs?\.|Equations?|Stages?|stages?|Appendix|Algorithm|"
    r"Steps?|Lines?|Rounds?|rounds?|Chapter|Part|Theorem|Lemma)(?:[~\s]*\d+(?:[~\s]*(?:,|and|to|--?)[~\s]*)?)*"
    r"[~\s]*$"
)
_MATH = re.compile(
    r"\$\$.*?\$\$|\$[^$]*\$|\\\(.*?\\\)|\\\[.*?\\\]|\\begin\{(equation|align|eqnarray)\*?\}.*?\\end\{\1\*?\}", re.S
)
_CAPTION = re.compile(r"\\caption\{((?:[^{}]|\{[^{}]*\})*)\}")


_IGNORED_ARGS = re.compile(
    r"\\(?:ref|eqref|autoref|cref|Cref|label|cite[a-zA-Z]*|includegraphics|input|url|href|hypertarget|"
    r"hspace|vspace|setlength|resizebox|scalebox|begin|end)\*?(?:\s*\[[^\]]*\])*(?:\s*\{[^}]*\}){1,2}"
)
_LENGTH = re.compile(r"\d*\.?\d+\s*(?:pt|em|ex|cm|mm|in|bp)\b|\d*\.?\d+\s*\\(?:linewidth|textwidth|columnwidth)")
_NUM = re.compile(r"(?<![\w.\\])([-+]?\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][-+]?\d+)?)(\s*\\?%)?(?![\w])")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\\])")

_PLACEHOLDERS = [
    (re.compile(r"\bTODO\b|\bTBD\b|\bFIXME\b"), "TODO/TBD marker"),
    (re.compile(r"\bX{2,}\b|\b0\.X+\b|\?\?\?"), "XX/??? placeholder"),
    (re.compile(r"lorem ipsum", re.I), "lorem ipsum"),
    (re.compile(r"\[(?:citation needed|cite|ref|insert[^\]]*|author[^\]]*|year)\]", re.I), "bracketed placeholder"),
    (re.compile(r"<\s*(?:insert|your|placeholder|fill)[^>]*>", re.I), "<insert ...> placeholder"),
    (re.compile(r"\\VAR\{|\\BLOCK\{|\{\{|\}\}|\{%"), "unrendered template syntax"),
    (re.compile(r"\bYour Name\b|\bAuthor Name\b", re.I), "placeholder author"),
]


def _strip_ignored(text: str) -> str:
    text = re.sub(r"(?<!\\)%.*", "", text)  # LaTeX comments
    text = _IGNORED_ARGS.sub(" ", text)
    return _LENGTH.sub(" ", text)


def _is_reference(before: str) -> bool:
    """An integer right after "Table", "Figure", "Section"... (or a list of them: "Tables 1 and 2")."""
    return bool(_REF_BEFORE.search(before[-60:]))


def extract_numbers(text: str) -> list[tuple[str, float, bool]]:
    """(as written, value, is_percent) for every number that states something (integers included)."""
    return [(raw, value, pct) for raw, value, pct, _ in numbers_in_context(text)]


def numbers_in_context(text: str, *, whole: bool = False) -> list[tuple[str, float, bool, str]]:
    """(as written, value, is_percent, the sentence quoting it) for every number that states something; with
    ``whole`` the quoting text is all of ``text`` (a table: its header names the columns)."""
    out = []
    clean = _strip_ignored(text)
    math_spans = [m.span() for m in _MATH.finditer(clean)]
    bounds = [0, *(m.start() for m in _SENTENCE.finditer(clean)), len(clean)]
    for m in _NUM.finditer(clean):
        raw, pct = m.group(1), bool(m.group(2))
        integer = not pct and not re.search(r"[.eE]", raw)
        start = m.start(1)
        if integer:
            if any(a <= start < b for a, b in math_spans) or _is_reference(clean[:start]):
                continue
            if re.fullmatch(r"(19|20)\d\d", raw):  # a year
                continue
            if start > 0 and clean[start - 1] == "-" and start > 1 and clean[start - 2].isalpha():
                continue  # a model name such as ResNet-50
        try:
            value = float(raw.replace(",", ""))
        except ValueError:
            continue
        if whole:
            sentence = clean
        else:
            k = bisect.bisect_right(bounds, start)
            sentence = clean[bounds[k - 1] : bounds[min(k, len(bounds) - 1)]]
        out.append((raw + ("%" if pct else ""), value, pct, sentence))
    return out


def facts_for(section: str, facts: list[Fact], *, table: bool = False) -> list[Fact]:
    """Each seed (its number and its own value) belongs in the appendix and its per-seed table; elsewhere a
    configuration is reported by its mean over the seeds ("over 3 seeds" is a count, not seed number 3)."""
    if table or section == "appendix":
        return facts
    return [f for f in facts if f.kind not in ("seed_value", "seed_id")]


def check_numbers(name: str, text: str, facts: list[Fact], *, table: bool = False) -> list[Issue]:
    facts = facts_for(name, facts, table=table)
    issues = []
    for raw, value, _pct, sentence in numbers_in_context(text, whole=table):
        integer = not re.search(r"[.eE]", raw.rstrip("%"))
        if match(raw, value, facts, integer=integer, context=sentence) is None:
            issues.append(
                Issue(kind="number", section=name, token=raw, detail=f"the number {raw} matches no recorded value")
            )
    return issues


def provenance(name: str, text: str, facts: list[Fact], *, table: bool = False) -> list[dict[str, str]]:
    """Where each number of ``text`` came from: one row per number (source "unmatched" when none)."""
    facts = facts_for(name.split(" ")[0], facts, table=table)
    rows = []
    for raw, value, _pct, sentence in numbers_in_context(text, whole=table):
        integer = not re.search(r"[.eE]", raw.rstrip("%"))
        fact = match(raw, value, facts, integer=integer, context=sentence)
        rows.append({"section": name, "number": raw, "source": fact.source if fact else "unmatched"})
    return rows


def float_text(fl: str) -> str:
    """The checked text of a float: a table's whole body, a figure's caption."""
    if "\\begin{table" in fl:
        return fl
    return " ".join(m.group(1) for m in _CAPTION.finditer(fl))


def check_placeholders(name: str, text: str) -> list[Issue]:
    return [
        Issue(kind="placeholder", section=name, token=m.group(0), detail=f"{why}: {m.group(0)!r}")
        for rx, why in _PLACEHOLDERS
        for m in rx.finditer(text)
    ]


def check_citations(name: str, text: str, known: set[str]) -> list[Issue]:
    return [
        Issue(kind="citation", section=name, token=k, detail=f"\\cite key {k!r} is not in the bibliography")
        for k in cited_keys(text)
        if k not in known
    ]


_INCLUDE = re.compile(r"\\includegraphics\s*(?:\[[^\]]*\])?\s*\{([^}]*)\}")
_FIG_LABEL = re.compile(r"\\label\{(fig:[^}]*)\}")
_REFS = re.compile(r"\\(?:ref|autoref|cref|Cref)\*?\{([^}]*)\}")


def check_figures(sections: list[SectionDoc], figures_dir: Path) -> list[Issue]:
    issues = []
    all_text = "\n".join(s.body + "\n" + "\n".join(s.floats) for s in sections)
    refs = {k.strip() for m in _REFS.finditer(all_text) for k in m.group(1).split(",")}
    for s in sections:
        for chunk in (s.body, *s.floats):
            for m in _INCLUDE.finditer(chunk):
                f = m.group(1).strip()
                if not any((figures_dir / (f + ext)).is_file() for ext in ("", ".pdf", ".png", ".jpg")):
                    issues.append(Issue(kind="figure", section=s.name, token=f, detail=f"figure file {f} is missing"))
            for m in _FIG_LABEL.finditer(chunk):
                if m.group(1) not in refs:
                    issues.append(
                        Issue(
                            kind="figure",
                            section="results",
                            token=m.group(1),
                            detail=f"figure {m.group(1)} is never referenced; refer to it with \\ref{{{m.group(1)}}}",
                        )
                    )
    return issues


def check_paper(
    sections: list[SectionDoc],
    facts: list[Fact],
    known_keys: set[str],
    figures_dir: Path,
) -> list[Issue]:
    """Every integrity issue of the paper's sections (abstract included as a section named 'abstract')."""
    issues: list[Issue] = []
    for s in sections:
        issues += check_numbers(s.name, s.body, facts)
        for fl in s.floats:
            table = "\\begin{table" in fl
            found = check_numbers(s.name, float_text(fl), facts, table=table)
            issues += [i.model_copy(update={"kind": "table" if table else "caption"}) for i in found]
        issues += check_placeholders(s.name, s.body)
        issues += check_citations(s.name, s.body, known_keys)
    return issues + check_figures(sections, figures_dir)


def drop_sentences_with(text: str, tokens: list[str]) -> str:
    """Last resort for numbers still unverified (or placeholders left) after the writer's rounds: remove the
    sentences that hold them. Numeric tokens match numbers as extracted; others match as substrings."""
    if not tokens:
        return text
    numeric = [t for t in tokens if any(c.isdigit() for c in t)]
    other = [t for t in tokens if t not in numeric]

    def bad(sentence: str) -> bool:
        return any(t in sentence for t in other) or any(raw in numeric for raw, _, _ in extract_numbers(sentence))

    out = [" ".join(s for s in _SENTENCE.split(para) if not bad(s)) for para in text.split("\n\n")]
    return "\n\n".join(p for p in out if p.strip())


def drop_caption_sentences(fl: str, tokens: list[str]) -> str:
    """A figure float with the caption sentences holding ``tokens`` removed (the caption keeps its first words
    when every sentence goes)."""
    if "\\begin{figure" not in fl:
        return fl

    def clean(m: re.Match[str]) -> str:
        kept = drop_sentences_with(m.group(1), tokens)
        return "\\caption{" + (kept or "Results of the experiments.") + "}"

    return _CAPTION.sub(clean, fl)
