"""The review procedure: N independent reviews, reflection rounds that may revise each, an area-chair
meta-review, and (with a vision model) a look at page images for figure quality.

Each review is one structured call on the paper digest (few-shot examples in the system prompt). A reflection
continues the same conversation (the review as the assistant turn, then the reflection request), so a server with
prompt caching (llama.cpp, the embedded model) re-reads only the new tokens. A reflection that answers
``revise: false`` ends the rounds for that review. A review the model cannot produce within the bounded repairs is
recorded as an error and the ensemble goes on with the others; only when every review fails is it an error.

The model must fill ``CheckedReviewForm`` (decision agrees with overall, Weaknesses and Questions given, not every
sub-score at its maximum beside listed weaknesses, nothing copied from the examples). When a review still breaks
only those rules after the repairs, it is kept and settled deterministically: copied items are dropped and the
decision follows the overall score (the number the calibration uses); an empty list or saturated scores get a
note; each such change is listed in ``adjustments``.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from agents.errors import StructuredOutputError
from agents.llm import LLM
from agents.llm.structured import JSONExtractionError, extract_json
from agents.prompts import render_messages, render_text
from agents.settings import ReviewSettings
from reviewer.examples import EXAMPLES, copied_items
from reviewer.form import (
    CheckedReviewForm,
    FigureReview,
    MetaReview,
    Reflection,
    ReviewForm,
    decision_for,
    empty_required,
    saturated,
)

log = logging.getLogger(__name__)


class ReflectionRecord(BaseModel):
    review: int = Field(description="index of the review in the ensemble")
    round: int
    revised: bool
    assessment: str


class ProcedureResult(BaseModel):
    reviews: list[ReviewForm] = Field(default_factory=list)
    first_drafts: list[ReviewForm] = Field(default_factory=list, description="each review before reflection")
    reflections: list[ReflectionRecord] = Field(default_factory=list)
    meta_review: MetaReview | None = None
    figure_review: FigureReview | None = None
    errors: list[str] = Field(default_factory=list)
    adjustments: list[str] = Field(default_factory=list, description="deterministic fixes of the model's reviews")


def settle(exc: StructuredOutputError, index: int) -> tuple[ReviewForm, list[str]]:
    """The last answer of a failed ``CheckedReviewForm`` call, when only the decision/overall agreement, copied
    items, empty Weaknesses/Questions or sub-scores all at their maximum were wrong: copied items dropped, decision
    set from overall, an empty list or saturated scores kept with a note. Re-raises ``exc`` otherwise."""
    try:
        review = ReviewForm.model_validate(extract_json(exc.raw))
    except (JSONExtractionError, ValidationError):
        raise exc from None
    notes: list[str] = []
    copied = copied_items(review.list_fields())
    if copied:
        kept = {f: [i for i in items if (f, i) not in copied] for f, items in review.list_fields().items()}
        review = review.model_copy(update=kept)
        notes.append(f"review {index + 1}: {len(copied)} item(s) copied from the example reviews dropped")
    if not review.consistent():
        decision = decision_for(review.overall)
        notes.append(
            f"review {index + 1}: decision {review.decision} disagreed with overall {review.overall}; set to {decision}"
        )
        review = review.model_copy(update={"decision": decision})
    if saturated(review):
        notes.append(
            f"review {index + 1}: every sub-score at its maximum beside {len(review.weaknesses)} listed weakness(es), "
            "after the repairs; the sub-scores do not assess this paper"
        )
    for name in empty_required(review):
        notes.append(
            f"review {index + 1}: no {name} after the repairs; the form is incomplete, so do not read its silence "
            f"as a paper without {name}"
        )
    return review, notes


def write_review(
    llm: LLM,
    paper: str,
    cfg: ReviewSettings,
    index: int,
    adjustments: list[str] | None = None,
    findings: list[str] | None = None,
) -> tuple[ReviewForm, ReviewForm, list[ReflectionRecord]]:
    """One review with its reflection rounds: (final review, first draft, reflection records). Deterministic
    fixes (see ``settle``) are appended to ``adjustments``; ``findings`` (integrity and lint findings of the
    writeup) are shown to the reviewer, who must weigh them."""
    shots = cfg.few_shot if cfg.few_shot is not None else (0 if llm.role_model("reviewer").is_embedded else 1)
    variables = {"paper": paper, "examples": list(EXAMPLES[:shots]), "findings": list(findings or [])}
    messages = render_messages("reviewer/review", variables)
    try:
        draft: ReviewForm = llm.structured(
            "reviewer", "reviewer/review", CheckedReviewForm, messages=messages, max_tokens=cfg.review_max_tokens
        )
    except StructuredOutputError as exc:
        draft, notes = settle(exc, index)
        if adjustments is not None:
            adjustments.extend(notes)
    review = draft
    records: list[ReflectionRecord] = []
    for round_no in range(1, cfg.num_reflections + 1):
        ask = render_text("reviewer/reflect", {"round": round_no, "rounds": cfg.num_reflections})
        conversation = [
            *messages,
            {"role": "assistant", "content": review.model_dump_json()},
            {"role": "user", "content": ask},
        ]
        try:
            reflection = llm.structured(
                "reviewer", "reviewer/reflect", Reflection, messages=conversation, max_tokens=cfg.review_max_tokens
            )
        except StructuredOutputError as exc:
            log.warning(
                "review %d: reflection round %d gave no valid answer; keeping the review (%s)", index, round_no, exc
            )
            break
        revised = reflection.revise and reflection.revised is not None
        records.append(
            ReflectionRecord(review=index, round=round_no, revised=revised, assessment=reflection.assessment)
        )
        if not revised:
            break
        assert reflection.revised is not None
        review = reflection.revised  # the next round sees the revised review as the assistant turn
    return review, draft, records


def meta_review(llm: LLM, paper: str, reviews: list[ReviewForm]) -> MetaReview:
    variables = {"paper": paper, "reviews": [r.model_dump() for r in reviews]}
    return llm.structured("reviewer", "reviewer/meta", MetaReview, variables)


def render_pages(pdf: Path, out_dir: Path, pages: int, dpi: int = 60, timeout_s: float = 120.0) -> list[Path]:
    """PNG images of the first ``pages`` pages with ``pdftoppm`` (empty when it is missing or fails)."""
    exe = shutil.which("pdftoppm")
    if exe is None:
        log.warning("pdftoppm not found; figures are not reviewed (install poppler-utils)")
        return []
    cmd = [exe, "-png", "-r", str(dpi), "-f", "1", "-l", str(pages), str(pdf), str(out_dir / "page")]
    try:
        subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=True)
    except (subprocess.SubprocessError, OSError) as exc:
        log.warning("pdftoppm failed on %s (%s); figures are not reviewed", pdf.name, exc)
        return []
    return sorted(out_dir.glob("page*.png"))


def figure_review(llm: LLM, pdf: Path, title: str, cfg: ReviewSettings) -> FigureReview | None:
    with tempfile.TemporaryDirectory(prefix="shoal-pages-") as tmp:
        images = render_pages(pdf, Path(tmp), cfg.figure_pages)
        if not images:
            return None
        return llm.structured("vlm", "reviewer/figures", FigureReview, {"title": title}, images=list(images))


def run_procedure(
    llm: LLM,
    paper: str,
    cfg: ReviewSettings,
    *,
    pdf: Path | None = None,
    title: str = "",
    findings: list[str] | None = None,
) -> ProcedureResult:
    """Ensemble, reflection, meta-review and figure review for one paper digest (``findings``: the writeup's
    integrity and lint findings, given to every reviewer)."""
    result = ProcedureResult()
    for i in range(cfg.num_reviews):
        try:
            review, draft, records = write_review(llm, paper, cfg, i, result.adjustments, findings)
        except StructuredOutputError as exc:
            result.errors.append(f"review {i + 1}: {exc}")
            continue
        result.reviews.append(review)
        result.first_drafts.append(draft)
        result.reflections.extend(records)
    if not result.reviews:
        raise StructuredOutputError(
            f"no valid review in {cfg.num_reviews} attempt(s): {'; '.join(result.errors)}",
            prompt="reviewer/review",
            raw="",
            errors=result.errors,
        )
    wants_meta = cfg.meta_review == "always" or (cfg.meta_review == "auto" and len(result.reviews) > 1)
    if wants_meta:
        try:
            result.meta_review = meta_review(llm, paper, result.reviews)
        except StructuredOutputError as exc:
            result.errors.append(f"meta-review: {exc}")
    if pdf is not None and cfg.figures and llm.supports_images("vlm"):
        try:
            result.figure_review = figure_review(llm, pdf, title, cfg)
        except StructuredOutputError as exc:
            result.errors.append(f"figure review: {exc}")
    return result
