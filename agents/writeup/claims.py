"""Claims, not only numbers: what the paper may say about its results, checked before compile.

- ``compare``: the paper's central comparison, from the journal: the research stage's best ("proposed method")
  against the tuned baseline, on the primary metric, as mean ± standard error over the seeds, with a Welch
  t-test over the seed values (scipy) when both were re-run with seeds. The research stage's best counts as a
  proposed method only when its program differs from the baseline's in more than plotting or logging and is
  better by the metric's direction; otherwise the paper says the research stage found no improvement.
- ``key_sentences``: the results' key sentences, generated from that comparison; the model writes around them.
- ``check_claims``: a comparison ("better", "improves", "outperforms", "worse", "faster"...) must agree with the
  recorded values and the metric's direction; "significant" only with a test that says so, its p-value stated;
  prior work only through ``\\cite`` (an author-year or "et al." mention without one is an issue); no claimed
  contribution nothing supports (a theoretical analysis, a proof, state of the art); no Markdown-style label
  lines ("Hypothesis", "Key Results") and no copies of figure captions in the body text.

Each issue carries the offending sentence or line as its token: sent back once to the section's writer, then
removed and listed.
"""

from __future__ import annotations

import math
import re

from pydantic import BaseModel

from agents.experiments.journal import Journal, Node
from agents.writeup.facts import reported
from agents.writeup.floats import fmt
from agents.writeup.issues import Issue
from agents.writeup.latex_templates import SectionDoc, tex_escape

ALPHA = 0.05
_COSMETIC = re.compile(r"plt\.|matplotlib|savefig|save_figure|figure\(|subplots|print\(|logging|logger\.|log\(")
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\\])")
_BETTER = re.compile(r"\b(better|outperform\w*|improv\w*|superior|beats?|surpass\w*)\b", re.I)
_WORSE = re.compile(r"\b(worse|underperform\w*|inferior|degrad\w*)\b", re.I)
_SPEED = re.compile(r"\b(faster|slower|speeds? up|quicker|converges? (?:faster|sooner|more quickly))\b", re.I)
_NEGATION = re.compile(r"\b(not|no|neither|nor|fails? to|did not|does not|cannot|without|never)\b|n't\b", re.I)
_SUBJECTS = re.compile(r"\b(proposed|our (?:method|approach|variant)|the method|baseline)\b", re.I)
_SIGNIFICANT = re.compile(r"\bsignifican(?:t|tly|ce)\b", re.I)
_NOT_SIGNIFICANT = re.compile(r"\b(not|no|in)\s*significan", re.I)
_P_STATED = re.compile(r"\bp\s*\$?\s*(?:=|<|\\leq|\\le)\s*\$?\s*\d", re.I)
_AUTHOR_YEAR = re.compile(
    r"\b(?!(?:In|On|Since|By|From|Until|Before|After|During|Of|The|For|Table|Figure|Section|Stage|Appendix)\b)"
    r"[A-Z][a-z]+(?:\s+et\s+al\.?|\s+and\s+[A-Z][a-z]+)?,?\s*\(?(?:19|20)\d\d[a-z]?\)?|\bet\s+al\.?"
)
_UNSUPPORTED = re.compile(
    r"\b(theoretical(?:ly)?\s+(?:analysis|analyses|guarantees?|results?|justification)|we\s+prove|proves?\s+that|"
    r"theorem|lemma|convergence\s+proof|state[- ]of[- ]the[- ]art|(?:the\s+)?first\s+(?:work|study|paper|method)\s+to)",
    re.I,
)
_LABELS = re.compile(
    r"^(?:hypothesis|key\s+results?|contributions?|our\s+contributions?|findings|key\s+findings|summary|"
    r"takeaways?|motivation|results|limitations|conclusions?|method|overview|setup)$",
    re.I,
)
_CAPTION_COPY = re.compile(r"^\s*(?:Figure|Fig\.|Table)~?\s*(?:\\ref\{[^}]*\})?\s*:", re.M)


class Comparison(BaseModel):
    metric: str
    dataset: str
    direction: str
    method_node: str
    baseline_node: str
    method_value: float
    method_se: float | None
    baseline_value: float
    baseline_se: float | None
    n_method: int
    n_baseline: int
    p_value: float | None = None
    changed: bool
    better: bool

    @property
    def improves(self) -> bool:
        return self.changed and self.better

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < ALPHA and self.improves


def cosmetic_only(a: str, b: str) -> bool:
    """Do two programs differ only in plotting or logging lines?"""

    def core(code: str) -> list[str]:
        return [ln.strip() for ln in code.splitlines() if ln.strip() and not _COSMETIC.search(ln)]

    return core(a) == core(b)


def _samples(journal: Journal, node: Node, metric: str, ds: str) -> list[float]:
    out = []
    for run in [node, *[s for s in journal.seed_runs(node.id) if s.is_good]]:
        m = next((x for x in run.metric.metrics if x.name == metric), None)
        if m is not None and ds in m.values and math.isfinite(m.values[ds]):
            out.append(m.values[ds])
    return out


def compare(journal: Journal) -> Comparison | None:
    base, method = journal.best_node(2), journal.best_node(3)
    if base is None or method is None or base.metric.primary is None:
        return None
    p = base.metric.primary
    mp = next((m for m in method.metric.metrics if m.name == p.name), None)
    ds = next((d for d in p.values if mp is not None and d in mp.values), None)
    if mp is None or ds is None:
        return None
    bv, bse, bn = reported(p, ds)
    mv, mse, mn = reported(mp, ds)
    better = mv > bv if p.direction == "maximize" else mv < bv
    changed = method.id != base.id and not cosmetic_only(method.code, base.code)
    pval = None
    xs, ys = _samples(journal, method, p.name, ds), _samples(journal, base, p.name, ds)
    if len(xs) > 1 and len(ys) > 1 and method.id != base.id:
        from scipy import stats

        res = stats.ttest_ind(xs, ys, equal_var=False)
        pval = float(res.pvalue) if math.isfinite(float(res.pvalue)) else None
    return Comparison(
        metric=p.name, dataset=ds, direction=p.direction, method_node=method.id, baseline_node=base.id,
        method_value=mv, method_se=mse, baseline_value=bv, baseline_se=bse, n_method=mn, n_baseline=bn,
        p_value=pval, changed=changed, better=better,
    )  # fmt: skip


def _value(v: float, se: float | None, n: int) -> str:
    text = fmt(v) + (f" $\\pm$ {fmt(se)}" if se is not None else "")
    return text + (f" (mean $\\pm$ standard error over {n} seeds)" if n > 1 else " (a single run)")


def key_sentences(c: Comparison | None) -> str:
    """The results' key sentences, generated from the recorded values (LaTeX)."""
    if c is None:
        return ""
    metric, ds = tex_escape(c.metric), tex_escape(c.dataset)
    sense = "higher" if c.direction == "maximize" else "lower"
    method = _value(c.method_value, c.method_se, c.n_method)
    base = _value(c.baseline_value, c.baseline_se, c.n_baseline)
    if not c.changed:
        return (
            f"The research stage found no improvement over the tuned baseline: its best program differs from the "
            f"baseline only in plotting or logging, and the tuned baseline reaches a {metric} of {base} on {ds} "
            f"({sense} is better)."
        )
    out = f"The proposed method reaches a {metric} of {method} on {ds}, against {base} for the tuned baseline"
    out += f" ({sense} is better)"
    out += "." if c.better else "; it does not improve on the baseline."
    if c.p_value is not None:
        verdict = "significant" if c.significant else "not significant"
        out += (
            f" A Welch t-test over the seed values gives $p = {fmt(c.p_value)}$: the difference is {verdict} at "
            f"the {ALPHA} level."
        )
    return out


def _sentences(text: str) -> list[str]:
    return [s for para in text.split("\n\n") for s in _SENT.split(para) if s.strip()]


def check_claims(sections: list[SectionDoc], c: Comparison | None, captions: list[str], key: str) -> list[Issue]:
    """Claim issues of every section's body (the generated key sentences are trusted and skipped)."""
    issues: list[Issue] = []
    caption_starts = {_norm(cap.split(". ")[0]) for cap in captions if len(cap) > 20}
    for s in sections:
        body = s.body.replace(key, "") if key else s.body
        for line in body.splitlines():
            bare = re.sub(r"\\textbf\{([^}]*)\}|\\emph\{([^}]*)\}", r"\1\2", line).strip().strip("*#:. ").strip()
            if bare and _LABELS.match(bare):
                issues.append(_issue("label-line", s.name, line, f"a Markdown-style label line {line.strip()!r}"))
        for m in _CAPTION_COPY.finditer(body):
            line = body[m.start() :].split("\n", 1)[0]
            issues.append(_issue("caption-copy", s.name, line, "a copy of a figure caption in the body text"))
        for sent in _sentences(body):
            issues += _sentence_issues(s.name, sent, c, caption_starts)
    return issues


def _sentence_issues(section: str, sent: str, c: Comparison | None, caption_starts: set[str]) -> list[Issue]:
    out: list[Issue] = []
    negated = bool(_NEGATION.search(sent))
    if _norm(sent.split(". ")[0]) in caption_starts:
        out.append(_issue("caption-copy", section, sent, "a copy of a figure caption in the body text"))
    if _SUBJECTS.search(sent) and not negated and section not in ("related_work",):
        claims_better, claims_worse = bool(_BETTER.search(sent)), bool(_WORSE.search(sent))
        if claims_better and (c is None or not c.improves):
            why = "the research stage found no improvement" if c is not None and not c.changed else (
                "the recorded values do not show the proposed method better than the baseline"
                f" ({c.metric}: {'higher' if c.direction == 'maximize' else 'lower'} is better)" if c else
                "no comparison was recorded"
            )  # fmt: skip
            out.append(_issue("comparison", section, sent, f"the sentence claims an improvement, but {why}"))
        elif claims_worse and c is not None and c.improves:
            out.append(_issue("comparison", section, sent, "the sentence claims the method is worse; it is better"))
    if _SPEED.search(sent) and not negated and not (c and re.search(r"time|step|epoch|iter|conver", c.metric, re.I)):
        out.append(_issue("comparison", section, sent, "a speed claim, but no time or convergence speed was recorded"))
    if _SIGNIFICANT.search(sent) and not _NOT_SIGNIFICANT.search(sent):
        if c is None or not c.significant:
            out.append(_issue("significance", section, sent, "'significant' without a test over seeds saying so"))
        elif not _P_STATED.search(sent):
            out.append(_issue("significance", section, sent, "'significant' must state the test's p-value"))
    if _AUTHOR_YEAR.search(sent) and "\\cite" not in sent:
        out.append(_issue("prior-work", section, sent, "prior work named without \\cite of a verified reference"))
    if _UNSUPPORTED.search(sent) and not negated:
        out.append(_issue("contribution", section, sent, "a contribution no experiment or section supports"))
    return out


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _issue(kind: str, section: str, token: str, detail: str) -> Issue:
    return Issue(kind=kind, section=section, token=token.strip(), detail=f"{detail}: {token.strip()[:200]!r}")


def remove_fragments(text: str, fragments: list[str]) -> str:
    """``text`` without the given sentences or lines (whitespace tidied)."""
    for frag in sorted(set(fragments), key=len, reverse=True):
        if frag:
            text = text.replace(frag, "")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return re.sub(r"  +", " ", text).strip()
