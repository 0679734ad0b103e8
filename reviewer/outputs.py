"""Writing a review: ``review.json`` (the whole outcome, machine-readable) and ``review.md`` (for people)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from reviewer.form import NUMERIC_FIELDS

if TYPE_CHECKING:
    from reviewer.head import HeadScore
    from reviewer.pipeline import ReviewOutcome


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _bullets(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items) if items else "- (none)"


def head_lines(head: HeadScore | None) -> list[str]:
    """The score head's part of a review: P(accept), rating, decision and what moved it most."""
    if head is None:
        return []
    lines = [
        f"**Score head: P(accept) {head.p_accept:.2f}** (threshold {head.threshold:.2f}: {head.decision}) · "
        f"predicted mean rating {head.rating:.1f}/10" + (" · with the review's sub-scores" if head.used_llm else ""),
        "",
        "What moved it most (points of predicted rating, against the average training paper):",
        "",
        "| feature | block | value | effect |",
        "|---|---|---|---|",
    ]
    lines += [f"| {c.feature} | {c.block} | {c.value:.3g} | {c.effect:+.3f} |" for c in head.top]
    blocks = ", ".join(f"{name} {effect:+.2f}" for name, effect in head.blocks.items())
    return [*lines, "", f"By block: {blocks}.", ""]


def render_markdown(outcome: ReviewOutcome) -> str:
    agg = outcome.aggregate
    lines = [f"# Review: {outcome.title or outcome.paper}", ""]
    if outcome.verdict is not None:
        lines += [
            f"**Decision: {outcome.decision}** (rule `{outcome.verdict.rule}`: {outcome.verdict.explanation})",
            "",
        ]
    lines += head_lines(outcome.head)
    if outcome.verdict is not None and outcome.verdict.flags:
        lines += ["## Flags (the review and the head disagree)", _bullets(outcome.verdict.flags), ""]
    lines += [
        f"**Written review: {agg.decision}** ({agg.decision_source}; {agg.accept_votes}/{agg.n_reviews} reviewers "
        f"accept) · Overall {agg.scores['overall'].mean:.1f}/10 · model `{outcome.model}` · "
        f"{outcome.seconds:.0f} s, {outcome.tokens_in + outcome.tokens_out} tokens",
        "",
        "| score | mean | spread (std) | min | max |",
        "|---|---|---|---|---|",
    ]
    for name in NUMERIC_FIELDS:
        s = agg.scores[name]
        lines.append(f"| {name} | {s.mean:.2f} | {s.std:.2f} | {s.min} | {s.max} |")
    lines += ["", "## Revision requests", _bullets(outcome.revision_requests)]
    if outcome.findings:
        lines += ["", "## Writeup findings given to the reviewer", _bullets(outcome.findings)]
    if outcome.meta_review is not None:
        m = outcome.meta_review
        lines += ["", "## Meta-review (area chair)", m.summary, "", "**Strengths**", _bullets(m.strengths)]
        lines += ["", "**Weaknesses**", _bullets(m.weaknesses)]
    for i, r in enumerate(outcome.reviews, 1):
        lines += [
            "",
            f"## Review {i}: {r.decision}, overall {r.overall}/10, confidence {r.confidence}/5",
            r.summary,
            "",
            "**Strengths**",
            _bullets(r.strengths),
            "",
            "**Weaknesses**",
            _bullets(r.weaknesses),
            "",
            "**Questions**",
            _bullets(r.questions),
            "",
            "**Limitations**",
            _bullets(r.limitations),
            "",
            f"**Ethical concerns:** {'yes: ' + r.ethical_note if r.ethical_concerns else 'none'}",
        ]
    if outcome.figure_review is not None:
        lines += ["", f"## Figures (presentation {outcome.figure_review.presentation}/4)"]
        lines.append(_bullets(outcome.figure_review.issues))
    notes = list(outcome.warnings) + list(outcome.errors) + list(outcome.adjustments)
    lines += ["", "## How this review was made"]
    lines.append(
        f"- Paper digest: ~{outcome.digest.tokens_est} tokens of {outcome.digest.budget_tokens} budget; "
        f"sections cut: {', '.join(outcome.digest.sections_cut) or 'none'}; "
        f"{outcome.digest.words_left_out} words left out."
    )
    removed = ", ".join(f"{k} {v}" for k, v in outcome.blind.removed.items()) or "nothing"
    lines.append(f"- Blind cleaning: {'on' if outcome.blind.enabled else 'off'}; removed {removed}.")
    revised = sum(r.revised for r in outcome.reflections)
    lines.append(f"- Reflection rounds: {len(outcome.reflections)}, reviews revised: {revised}.")
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def write_outputs(outcome: ReviewOutcome, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "review.json", out_dir / "review.md"
    _atomic_write(json_path, json.dumps(outcome.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n")
    _atomic_write(md_path, render_markdown(outcome))
    return json_path, md_path
