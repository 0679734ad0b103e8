"""The decision rule that joins the score head and the written review, and the flags where they disagree.

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

from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from agents.settings import ReviewSettings
from reviewer.aggregate import Aggregate
from reviewer.form import SCORES_1_4
from reviewer.head import SHIPPED, HeadScore, ScoreHead, sigmoid_p

SUBSCORE_GAP = 1.5


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
