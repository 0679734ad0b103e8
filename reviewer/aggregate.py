"""Aggregating an ensemble: mean and spread of every numeric score, and one decision.

The decision is the area chair's when there is a meta-review; otherwise the majority of the reviewers'
decisions, with a tie broken by the mean Overall score (Accept when >= 6, the form's "borderline accept").
"""

from __future__ import annotations

import statistics
from typing import Literal

from pydantic import BaseModel, Field

from reviewer.form import NUMERIC_FIELDS, MetaReview, ReviewForm

ACCEPT_AT = 6.0


class ScoreStats(BaseModel):
    mean: float
    std: float = Field(description="population standard deviation across reviews (0 for one review)")
    min: int
    max: int


class Aggregate(BaseModel):
    n_reviews: int
    scores: dict[str, ScoreStats]
    accept_votes: int
    decision: Literal["Accept", "Reject"]
    decision_source: Literal["meta-review", "majority", "overall mean"]

    @property
    def overall(self) -> float:
        return self.scores["overall"].mean


def aggregate(reviews: list[ReviewForm], meta: MetaReview | None = None) -> Aggregate:
    if not reviews:
        raise ValueError("aggregate() needs at least one review")
    scores = {}
    for name in NUMERIC_FIELDS:
        values = [getattr(r, name) for r in reviews]
        scores[name] = ScoreStats(
            mean=round(statistics.fmean(values), 3),
            std=round(statistics.pstdev(values), 3),
            min=min(values),
            max=max(values),
        )
    votes = sum(r.decision == "Accept" for r in reviews)
    source: Literal["meta-review", "majority", "overall mean"]
    if meta is not None:
        decision, source = meta.decision, "meta-review"
    elif 2 * votes != len(reviews):
        decision, source = ("Accept" if 2 * votes > len(reviews) else "Reject"), "majority"
    else:
        decision, source = ("Accept" if scores["overall"].mean >= ACCEPT_AT else "Reject"), "overall mean"
    return Aggregate(
        n_reviews=len(reviews), scores=scores, accept_votes=votes, decision=decision, decision_source=source
    )
