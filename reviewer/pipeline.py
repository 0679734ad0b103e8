"""``review_paper``: the reviewer as one call, for ``shoal review`` and for the orchestrator.

read the file -> blind-clean (``review.blind``) -> score head (``review.head``: P(accept), rating, top features)
-> section-aware digest -> ensemble + reflection + meta-review (+ figures with a vision model), the writeup's
integrity/lint findings in the prompt -> aggregate -> decision rule and disagreement flags (``reviewer.verdict``)
-> revision requests -> ``review.json`` and ``review.md`` in ``out_dir``.

Revision requests (for the writer): the area chair's when there is a meta-review; otherwise the reviewers'
weaknesses, then their questions, then figure issues, de-duplicated, at most ``MAX_REQUESTS``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from pydantic import BaseModel, Field

from agents.llm import LLM
from agents.settings import ReviewSettings, Settings
from reviewer.aggregate import Aggregate, aggregate
from reviewer.blind import BlindReport, blind_clean
from reviewer.digest import Digest, build_digest
from reviewer.document import PaperText
from reviewer.findings import run_findings
from reviewer.form import FigureReview, MetaReview, ReviewForm
from reviewer.head import HeadScore
from reviewer.ingest import load_paper
from reviewer.outputs import write_outputs
from reviewer.procedure import ReflectionRecord, run_procedure
from reviewer.verdict import Verdict, decide, load_head

log = logging.getLogger(__name__)

MAX_REQUESTS = 10
PROMPT_RESERVE_TOKENS = 1500  # system prompt, examples and the reflection request


class DigestInfo(BaseModel):
    tokens_est: int
    budget_tokens: int
    sections_whole: list[str] = Field(default_factory=list)
    sections_cut: list[str] = Field(default_factory=list)
    words_left_out: int = 0


class ReviewOutcome(BaseModel):
    """Everything one review produced; ``review.json`` is this model."""

    paper: str
    title: str
    kind: str
    pages: int | None = None
    model: str
    reviews: list[ReviewForm]
    first_drafts: list[ReviewForm] = Field(default_factory=list)
    reflections: list[ReflectionRecord] = Field(default_factory=list)
    meta_review: MetaReview | None = None
    figure_review: FigureReview | None = None
    aggregate: Aggregate
    head: HeadScore | None = None
    verdict: Verdict | None = None
    findings: list[str] = Field(default_factory=list, description="writeup integrity/lint findings the reviewer saw")
    revision_requests: list[str]
    blind: BlindReport
    digest: DigestInfo
    warnings: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    adjustments: list[str] = Field(default_factory=list, description="deterministic fixes of the model's reviews")
    seconds: float = 0.0
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0

    @property
    def decision(self) -> str:
        """The final decision (``review.decision_rule``); ``aggregate.decision`` is the written review's."""
        return self.verdict.decision if self.verdict is not None else self.aggregate.decision

    @property
    def overall(self) -> float:
        return self.aggregate.overall


def digest_budget(settings: Settings) -> int:
    """The digest's token budget: ``review.paper_tokens``, capped to fit the embedded model's context."""
    cfg, role = settings.review, settings.models.reviewer
    budget = cfg.paper_tokens
    if role.is_embedded:
        room = settings.embedded.n_ctx - 2 * cfg.review_max_tokens - PROMPT_RESERVE_TOKENS
        budget = max(500, min(budget, room))
    return budget


def revision_requests(reviews: list[ReviewForm], meta: MetaReview | None, figures: FigureReview | None) -> list[str]:
    if meta is not None and meta.revision_requests:
        items = list(meta.revision_requests)
    else:
        items = [w for r in reviews for w in r.weaknesses]
        items += [f"Answer in the paper: {q}" for r in reviews for q in r.questions]
    if figures is not None:
        items += [f"Figure: {issue}" for issue in figures.issues]
    seen: set[str] = set()
    out = []
    for item in items:
        key = " ".join(item.lower().split())
        if key and key not in seen:
            seen.add(key)
            out.append(item)
    return out[:MAX_REQUESTS]


def prepare(paper: PaperText, cfg: ReviewSettings, budget: int) -> tuple[PaperText, BlindReport, Digest]:
    """Blind-clean (when enabled) and digest a loaded paper."""
    if cfg.blind:
        paper, report = blind_clean(paper)
    else:
        report = BlindReport(enabled=False)
    return paper, report, build_digest(paper, budget)


def head_score(paper: PaperText, cfg: ReviewSettings, llm_scores: dict[str, float] | None = None) -> HeadScore:
    """The score head on a paper (blind-cleaned here when ``review.blind`` is off: the head only reads clean text)."""
    clean = paper if cfg.blind else blind_clean(paper)[0]
    return load_head(cfg).score(clean, llm_scores)


def review_paper(
    pdf: Path, llm: LLM, settings: Settings, out_dir: Path, findings: list[str] | None = None
) -> ReviewOutcome:
    """Review one paper file (PDF, .tex, .md or .txt); write ``review.json`` and ``review.md`` into ``out_dir``.

    ``findings``: the writeup's integrity and lint findings, shown to the reviewer; when None, those of the Shoal
    run the file belongs to (if any)."""
    cfg = settings.review
    start = time.monotonic()
    llm, meter = llm.metered()  # this review's own calls, whatever else runs on the same ledger
    paper = load_paper(pdf, max_file_mb=cfg.max_file_mb, max_pages=cfg.max_pages)
    paper, report, digest = prepare(paper, cfg, digest_budget(settings))
    head = head_score(paper, cfg) if cfg.head else None
    findings = run_findings(pdf) if findings is None else findings
    log.info("%s: digest ~%d tokens (%d words left out)", pdf.name, digest.tokens_est, digest.words_left_out)
    result = run_procedure(
        llm.bind(stage="review"),
        digest.text,
        cfg,
        pdf=pdf if paper.kind == "pdf" else None,
        title=paper.title,
        findings=findings,
    )
    agg = aggregate(result.reviews, result.meta_review)
    verdict = None
    if head is not None:
        model = load_head(cfg)
        if model.meta.stacker_llm is not None and cfg.decision_rule == "combined":
            head = head_score(paper, cfg, {name: stats.mean for name, stats in agg.scores.items()})
        verdict = decide(cfg.decision_rule, head, agg, model, cfg.flag_gap)
    used = meter.totals()
    outcome = ReviewOutcome(
        paper=pdf.name,
        title=paper.title,
        kind=paper.kind,
        pages=paper.pages,
        model=settings.models.reviewer.model,
        reviews=result.reviews,
        first_drafts=result.first_drafts,
        reflections=result.reflections,
        meta_review=result.meta_review,
        figure_review=result.figure_review,
        aggregate=agg,
        head=head,
        verdict=verdict,
        findings=findings,
        revision_requests=revision_requests(result.reviews, result.meta_review, result.figure_review),
        blind=report,
        digest=DigestInfo(**digest.model_dump(exclude={"text"})),
        warnings=paper.warnings,
        errors=result.errors,
        adjustments=result.adjustments,
        seconds=round(time.monotonic() - start, 2),
        calls=used.calls,
        tokens_in=used.tokens_in,
        tokens_out=used.tokens_out,
    )
    write_outputs(outcome, out_dir)
    return outcome
