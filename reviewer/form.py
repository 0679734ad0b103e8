"""The review form (NeurIPS style) and the other structured answers of the reviewer, as pydantic models.

Scales are validated (an out-of-range score is sent back to the model for repair by ``LLM.structured``); list
fields are capped with ``maxItems`` in the JSON schema and trimmed on validation, so a rambling model costs
tokens, not a failed review. Decisions are normalised ("accept", "Weak Accept" -> "Accept").

``CheckedReviewForm`` is what the model is asked for: on top of the scales, its decision must agree with its
overall score (Accept iff overall >= 6), no list item may be copied from the example reviews in the prompt
(a small model copies them), and Weaknesses and Questions may not be empty (every paper has a weakness worth
naming and something to ask). All are validation errors, sent back to the model for repair; ``ReviewForm`` is
the lenient form the procedure falls back to when the repairs run out (see ``reviewer.procedure``), with a note.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, field_validator, model_validator

from reviewer.examples import copied_items

MAX_ITEMS = 6
ACCEPT_FROM = 6  # overall scores from this one up mean Accept
LIST_FIELDS = ("strengths", "weaknesses", "questions", "limitations")
REQUIRED_LISTS = ("weaknesses", "questions")
SCORES_1_4 = ("originality", "quality", "clarity", "significance", "soundness", "presentation", "contribution")
NUMERIC_FIELDS = (*SCORES_1_4, "overall", "confidence")


def decision_for(overall: int) -> Literal["Accept", "Reject"]:
    """The decision an overall score means."""
    return "Accept" if overall >= ACCEPT_FROM else "Reject"


def disagreement(decision: str, overall: int) -> str | None:
    """The message sent back to the model when ``decision`` and ``overall`` disagree; None when they agree."""
    if decision == decision_for(overall):
        return None
    need = f"overall >= {ACCEPT_FROM}" if decision == "Accept" else f"overall <= {ACCEPT_FROM - 1}"
    return (
        f"decision {decision!r} disagrees with overall {overall}: {decision} needs {need}; "
        "change the decision or the score so that they agree"
    )


def empty_required(review: ReviewForm) -> list[str]:
    """The required list fields (Weaknesses, Questions) that ``review`` leaves empty."""
    return [name for name in REQUIRED_LISTS if not getattr(review, name)]


def saturated(review: ReviewForm) -> bool:
    """Every 1-4 sub-score at its maximum although the review lists weaknesses: scores that say nothing (a small
    model's habit), not an assessment of the paper."""
    return bool(review.weaknesses) and all(getattr(review, name) == 4 for name in SCORES_1_4)


def _trim(value: Any) -> Any:
    if isinstance(value, str):
        value = [value] if value.strip() else []
    if isinstance(value, list):
        items = [str(v).strip() for v in value if str(v).strip()]
        unique: dict[str, str] = {}
        for item in items:  # repeated items (a small model loops) are kept once, first first
            unique.setdefault(" ".join(item.lower().split()), item)
        return list(unique.values())[:MAX_ITEMS]
    return value


def _decision(value: Any) -> Any:
    if isinstance(value, bool):
        return "Accept" if value else "Reject"
    if isinstance(value, str):
        low = value.strip().lower()
        if "reject" in low:
            return "Reject"
        if "accept" in low:
            return "Accept"
    return value


Items = Annotated[list[str], BeforeValidator(_trim), Field(json_schema_extra={"maxItems": MAX_ITEMS})]
Decision = Annotated[Literal["Accept", "Reject"], BeforeValidator(_decision)]
Score4 = Annotated[int, Field(ge=1, le=4)]


class ReviewForm(BaseModel):
    """One reviewer's review."""

    summary: str = Field(description="what the paper claims and does, in your own words (2-4 sentences)")
    strengths: Items = Field(description="main strengths, one per item")
    weaknesses: Items = Field(description="main weaknesses, one per item, concrete")
    questions: Items = Field(default_factory=list, description="questions for the authors")
    limitations: Items = Field(default_factory=list, description="limitations the paper does not address")
    ethical_concerns: bool = Field(default=False, description="true if the work raises ethical concerns")
    ethical_note: str = Field(default="", description="what the ethical concern is, if any")
    originality: Score4 = Field(description="1 low .. 4 very high")
    quality: Score4 = Field(description="1 low .. 4 very high")
    clarity: Score4 = Field(description="1 low .. 4 very high")
    significance: Score4 = Field(description="1 low .. 4 very high")
    soundness: Score4 = Field(description="1 poor, 2 fair, 3 good, 4 excellent")
    presentation: Score4 = Field(description="1 poor, 2 fair, 3 good, 4 excellent")
    contribution: Score4 = Field(description="1 poor, 2 fair, 3 good, 4 excellent")
    overall: int = Field(ge=1, le=10, description="1 strong reject .. 5 borderline reject, 6 borderline accept .. 10")
    confidence: int = Field(ge=1, le=5, description="1 low .. 5 certain")
    decision: Decision

    @field_validator("summary", "ethical_note", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        if isinstance(value, list):
            return " ".join(str(v) for v in value)
        return value

    def scores(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in NUMERIC_FIELDS}

    def list_fields(self) -> dict[str, list[str]]:
        return {name: getattr(self, name) for name in LIST_FIELDS}

    def consistent(self) -> bool:
        return disagreement(self.decision, self.overall) is None


class CheckedReviewForm(ReviewForm):
    """The review form as the model must fill it: decision agrees with overall, Weaknesses and Questions not empty,
    sub-scores not all at their maximum beside listed weaknesses, nothing copied from examples."""

    @model_validator(mode="after")
    def _checks(self) -> CheckedReviewForm:
        problem = disagreement(self.decision, self.overall)
        problems = [problem] if problem else []
        for name in empty_required(self):
            problems.append(
                f"{name} is empty: every paper has {name} worth writing down; give at least one concrete item about "
                "this paper (a claim that is not supported, a missing baseline, an unclear step)"
            )
        if saturated(self):
            problems.append(
                f"every sub-score is 4 (excellent) although the review lists {len(self.weaknesses)} weakness(es); "
                "score each aspect for what this paper shows and lower the ones its weaknesses touch (soundness for "
                "unsupported claims, presentation for unclear writing, significance for a small effect)"
            )
        for name, item in copied_items(self.list_fields()):
            problems.append(
                f"{name}: {item!r} is copied from an example review of another paper; write what is true of this paper"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Reflection(BaseModel):
    """A reviewer re-reading its own review: keep it, or give a revised one."""

    assessment: str = Field(description="is the review accurate, specific and are the scores consistent with it?")
    revise: bool = Field(description="true only if the review must change")
    revised: CheckedReviewForm | None = Field(default=None, description="the full revised review when revise is true")


class MetaReview(BaseModel):
    """The area chair's meta-review: consensus, decision and what the authors must change."""

    summary: str = Field(description="the consensus of the reviews and your own reading, 2-4 sentences")
    strengths: Items = Field(description="strengths the reviewers agree on")
    weaknesses: Items = Field(description="weaknesses that matter for the decision")
    revision_requests: Items = Field(description="concrete changes the authors should make, one per item")
    overall: int = Field(ge=1, le=10)
    decision: Decision

    @model_validator(mode="after")
    def _agrees(self) -> MetaReview:
        problem = disagreement(self.decision, self.overall)
        if problem:
            raise ValueError(problem)
        return self


class FigureReview(BaseModel):
    """A vision model's look at page images: figure and caption quality."""

    issues: Items = Field(description="concrete problems with figures, axes, legends or captions")
    presentation: Score4 = Field(description="figure quality: 1 poor, 2 fair, 3 good, 4 excellent")
