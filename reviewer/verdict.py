"""The decision rule that joins the score head and the written review, the flags where they disagree, and the
writeup findings a Shoal run hands to its reviewer.

Decision rules (``review.decision_rule``):

- ``head`` (default): the head's P(accept) against its threshold decides; the written review explains.
- ``review``: the written review's decision (the ensemble's, or the area chair's).
- ``combined``: with a head trained on review sub-scores, its LLM stacker; otherwise the mean of the head's
  rating and the review's overall (both on the 1-10 scale), mapped through the head's own calibration.

Flags: the review's overall differs from the head's predicted rating by ``review.flag_gap`` or more; a 1-4
sub-score is 1.5 or more away from the head's rating moved onto that scale (1 + 3 (rating - 1) / 9); the review's
decision differs from the head's.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from agents.errors import UserInputError
from agents.settings import ReviewSettings
from reviewer.aggregate import Aggregate
from reviewer.form import SCORES_1_4
from reviewer.head import SHIPPED, HeadScore, ScoreHead, sigmoid_p

SUBSCORE_GAP = 1.5
MAX_FINDINGS = 20


class Verdict(BaseModel):
    rule: str
    decision: Literal["Accept", "Reject"]
    p_accept: float | None = Field(default=None, description="the probability behind the decision, when there is one")
    explanation: str
    flags: list[str] = Field(default_factory=list)


@lru_cache(maxsize=4)
def _load(stem: str) -> ScoreHead:
    return ScoreHead.load(Path(stem))


def load_head(cfg: ReviewSettings) -> ScoreHead:
    """The configured head (``review.head_weights``, else the shipped one), loaded once per process."""
    return _load(str(cfg.head_weights or SHIPPED))


def expected_subscore(rating: float) -> float:
    return 1.0 + 3.0 * (rating - 1.0) / 9.0


def disagreement_flags(head: HeadScore, agg: Aggregate, gap: float) -> list[str]:
    flags = []
    overall = agg.scores["overall"].mean
    if abs(overall - head.rating) >= gap:
        flags.append(
            f"the review's overall {overall:.1f} is {abs(overall - head.rating):.1f} points from the head's predicted "
            f"rating {head.rating:.1f} (flag at {gap:g}): check the review's reasoning"
        )
    expected = expected_subscore(head.rating)
    far = [
        f"{name} {agg.scores[name].mean:.1f}"
        for name in SCORES_1_4
        if abs(agg.scores[name].mean - expected) >= SUBSCORE_GAP
    ]
    if far:
        flags.append(f"sub-scores far from the head's {expected:.1f}/4 (its rating on the 1-4 scale): {', '.join(far)}")
    if agg.decision != head.decision:
        flags.append(f"the review says {agg.decision}, the head says {head.decision} (P(accept) {head.p_accept:.2f})")
    return flags


def decide(
    rule: str, head: HeadScore | None, agg: Aggregate | None, model: ScoreHead | None, gap: float = 2.0
) -> Verdict:
    """The final decision under ``rule``; falls back to whichever of head and review exists."""
    flags = disagreement_flags(head, agg, gap) if head is not None and agg is not None else []
    if agg is None or (rule == "head" and head is not None):
        if head is None:
            raise ValueError("decide() needs a head score or a review")
        return Verdict(
            rule="head",
            decision="Accept" if head.decision == "Accept" else "Reject",
            p_accept=head.p_accept,
            explanation=f"score head: P(accept) {head.p_accept:.2f} vs threshold {head.threshold:.2f}",
            flags=flags,
        )
    if rule == "review" or head is None or model is None:
        return Verdict(
            rule="review",
            decision=agg.decision,
            explanation=f"written review ({agg.decision_source}, overall {agg.overall:.1f})",
            flags=flags,
        )
    if head.used_llm and model.meta.stacker_llm is not None:
        return Verdict(
            rule="combined",
            decision="Accept" if head.p_accept >= model.meta.stacker_llm.threshold else "Reject",
            p_accept=head.p_accept,
            explanation="score head with the review's sub-scores (trained stacker)",
            flags=flags,
        )
    stacker = model.meta.stacker
    mean = (head.rating + agg.overall) / 2
    p = float(sigmoid_p(stacker, np.array([mean]))[0])
    return Verdict(
        rule="combined",
        decision="Accept" if p >= stacker.threshold else "Reject",
        p_accept=round(p, 4),
        explanation=f"mean of head rating {head.rating:.1f} and review overall {agg.overall:.1f} = {mean:.2f}, "
        f"P(accept) {p:.2f} vs threshold {stacker.threshold:.2f}",
        flags=flags,
    )


def findings_lines(data: Any, prefix: str = "") -> list[str]:
    """A findings file (any JSON: a list of strings, a dict of lists, records with a message) as short lines.

    The writeup's own findings (``{"numbers": [{"section", "number", "source"}], "sent_back": [...],
    "removed_numbers": [...], "removed_citations": [...], "removed_claims": [...]}``) keep only the numbers whose
    source is ``unmatched``: the others were checked against recorded results."""
    out: list[str] = []
    if isinstance(data, str):
        out = [f"{prefix}{data}"] if data.strip() else []
    elif isinstance(data, list):
        for item in data:
            out += findings_lines(item, prefix)
    elif isinstance(data, dict) and {"number", "source"} <= set(data):
        # a provenance row of the writeup's number check: only a number with no recorded source is a problem
        if data["source"] == "unmatched":
            out = [f"{prefix}{data['number']} in {data.get('section', '?')} matches no recorded result"]
    elif isinstance(data, dict):
        text = next((data[k] for k in ("message", "finding", "problem", "what", "text") if k in data), None)
        if isinstance(text, str):
            why = data.get("why") or data.get("fix") or ""
            out = [f"{prefix}{text}" + (f" ({why})" if isinstance(why, str) and why else "")]
        else:
            for key, value in data.items():
                if isinstance(value, bool | int | float) or value in (None, "", [], {}):
                    continue
                out += findings_lines(value, f"{prefix}{key}: ")
    return [line[:300] for line in out][:MAX_FINDINGS]


def read_findings(path: Path) -> list[str]:
    """Findings from a JSON file the user names (``shoal review --findings FILE``)."""
    if not path.is_file():
        raise UserInputError(f"{path}: findings file not found")
    try:
        return findings_lines(json.loads(path.read_text(encoding="utf-8")))
    except json.JSONDecodeError as exc:
        raise UserInputError(f"{path}: not JSON ({exc.msg} at line {exc.lineno}); give a JSON list or object") from exc


def run_findings(paper: Path) -> list[str]:
    """The writeup findings of the Shoal run ``paper`` belongs to (the run folder, or a file in it or its paper
    folder), through the run's own reader; empty outside a run or before a writing round."""
    from agents.rundir import open_run

    for folder in (paper, paper.parent, paper.parent.parent):
        try:
            run = open_run(folder)
        except UserInputError:
            continue
        return findings_lines(run.writeup_findings())
    return []
