"""Integrity checks before compile: numbers, figures, citations, placeholders.

- Numbers: in the results-bearing text (abstract, results, discussion, conclusion) and in every table, each
  number written with a decimal point, an exponent or a percent sign must match, as written (within half a unit
  of its last printed digit, and also read as a percentage: ``91.2\\%`` matches 0.912), a recorded metric value
  or standard error, the absolute difference of two recorded values of the same metric and dataset (an
  "improvement of 0.05"), or a hyperparameter recorded in a good node's plan or tag. Integers without a percent
  sign are counts (seeds, epochs, layers) and years; they are not checked. Numbers inside commands' arguments
  (``\\ref``, ``\\label``, ``\\cite``, lengths) are ignored.
- Figures: every ``\\includegraphics`` file exists in ``paper/figures/``; every figure label is referenced.
- Citations: every ``\\cite`` key is in the bibliography.
- Placeholders: TODO, TBD, XX, lorem ipsum, ``[citation needed]``, ``<insert ...>``, unrendered template syntax.

Each issue names its section, so it can be sent back to the writer of that section.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel

from agents.writeup.citations import cited_keys
from agents.writeup.context import MetricFact
from agents.writeup.latex_templates import SectionDoc

NUMBER_SECTIONS = ("abstract", "results", "discussion", "conclusion")


class Issue(BaseModel):
    kind: str  # number | figure | citation | placeholder
    section: str
    detail: str
    token: str = ""


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


def extract_numbers(text: str) -> list[tuple[str, float, bool]]:
    """(as written, value, is_percent) for every number that claims a measurement."""
    out = []
    for m in _NUM.finditer(_strip_ignored(text)):
        raw, pct = m.group(1), bool(m.group(2))
        if not pct and not re.search(r"[.eE]", raw):
            continue  # an integer: a count or a year
        try:
            value = float(raw.replace(",", ""))
        except ValueError:
            continue
        out.append((raw + ("%" if pct else ""), value, pct))
    return out


def _tolerance(raw: str) -> float:
    mant = re.split(r"[eE]", raw.rstrip("%"))[0]
    decimals = len(mant.split(".")[1]) if "." in mant else 0
    exp = int(re.split(r"[eE]", raw.rstrip("%"))[1]) if re.search(r"[eE]", raw) else 0
    return 0.5 * 10.0 ** (exp - decimals) + 1e-12


def allowed_values(facts: Iterable[MetricFact], extra: Iterable[float] = ()) -> tuple[list[float], list[float]]:
    """(values a number may equal, ratios a percentage may equal): recorded values, standard errors, absolute
    differences of two values of the same metric and dataset, ``extra`` (recorded hyperparameters); relative
    differences for percentages."""
    vals: set[float] = {abs(x) for x in extra}
    ratios: set[float] = set()
    groups: dict[tuple[str, str], set[float]] = {}
    for f in facts:
        vals.add(abs(f.value))
        if f.std_err is not None:
            vals.add(abs(f.std_err))
        groups.setdefault((f.metric, f.dataset), set()).add(f.value)
    for group in groups.values():
        uniq = sorted(group)
        for i, a in enumerate(uniq):
            for b in uniq[i + 1 :]:
                vals.add(b - a)
                for base in (a, b):
                    if base != 0:
                        ratios.add(abs(b - a) / abs(base))
    finite = sorted(v for v in vals if math.isfinite(v))
    return finite, sorted(r for r in ratios if math.isfinite(r))


def number_matches(raw: str, value: float, pct: bool, allowed: tuple[list[float], list[float]]) -> bool:
    """Does ``raw`` (as written) equal an allowed value within half a unit of its last digit?"""
    tol = _tolerance(raw)
    v = abs(value)
    values, ratios = allowed
    if any(abs(a - v) <= tol for a in values):
        return True
    return pct and any(abs(a * 100.0 - v) <= tol for a in (*values, *ratios))


def check_numbers(name: str, text: str, allowed: tuple[list[float], list[float]]) -> list[Issue]:
    issues = []
    for raw, value, pct in extract_numbers(text):
        if not number_matches(raw, value, pct, allowed):
            issues.append(
                Issue(kind="number", section=name, token=raw, detail=f"the number {raw} matches no recorded metric")
            )
    return issues


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
    facts: list[MetricFact],
    known_keys: set[str],
    figures_dir: Path,
    config_numbers: Iterable[float] = (),
) -> list[Issue]:
    """Every integrity issue of the paper's sections (abstract included as a section named 'abstract')."""
    allowed = allowed_values(facts, config_numbers)
    issues: list[Issue] = []
    for s in sections:
        if s.name in NUMBER_SECTIONS:
            issues += check_numbers(s.name, s.body, allowed)
        for fl in s.floats:
            if "\\begin{table" in fl:
                issues += check_numbers(s.name, fl, allowed)
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
