"""The review procedure against the scripted model server (real openai client): ensemble, reflection that
revises, area-chair meta-review, repair of invalid scores, a failing reviewer, aggregation, outputs, digest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agents.errors import StructuredOutputError
from agents.llm import LLM, Ledger, read_ledger
from agents.settings import Settings
from agents.testing import ScriptedServer, json_reply, malformed_json
from agents.testing.shared_data import shared_data_dir
from reviewer.aggregate import aggregate
from reviewer.digest import build_digest
from reviewer.form import ReviewForm
from reviewer.ingest import load_paper
from reviewer.pipeline import review_paper

DATA = shared_data_dir()
PDFS = DATA / "pdfs"
needs_pdfs = pytest.mark.skipif(not PDFS.is_dir(), reason=f"shared real PDFs not found at {PDFS}")


def review(overall: int, decision: str = "", **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "summary": f"A review with overall {overall}.",
        "strengths": ["clear writing"],
        "weaknesses": [f"weakness seen by reviewer with overall {overall}"],
        "questions": ["Which seeds?"],
        "limitations": [],
        "ethical_concerns": False,
        "ethical_note": "",
        "originality": 2,
        "quality": 2,
        "clarity": 3,
        "significance": 2,
        "soundness": 2,
        "presentation": 3,
        "contribution": 2,
        "overall": overall,
        "confidence": 4,
        "decision": decision or ("Accept" if overall >= 6 else "Reject"),
    }
    base.update(kw)
    return base


KEEP = {"assessment": "The review is accurate.", "revise": False, "revised": None}


def small_paper(tmp_path: Path) -> Path:
    path = tmp_path / "paper.md"
    path.write_text(
        "# Sparse Widgets\n\nJane Roe, University of Nowhere, jane@nowhere.edu\n\n## Abstract\nWe study widgets.\n\n"
        "## 1 Introduction\n" + "Widgets matter. " * 60 + "\n\n## 2 Method\n" + "We count widgets. " * 60 + "\n\n"
        "## 3 Conclusion\nWidgets are sparse.\n\n## Acknowledgements\nWe thank the Widget Foundation.\n",
        encoding="utf-8",
    )
    return path


def make_llm(settings: Settings, tmp_path: Path) -> LLM:
    return LLM(settings, Ledger(tmp_path / "llm_calls.jsonl"), context={"stage": "test"})


def test_ensemble_reflection_meta_review_and_outputs(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    llm_settings.review.num_reviews = 3
    llm_settings.review.num_reflections = 2
    scripted_llm.script("reviewer/review", json_reply(review(3)), json_reply(review(5)), json_reply(review(7)))
    revised = review(4, summary="Revised after reflection.")
    scripted_llm.script(
        "reviewer/reflect",
        json_reply(KEEP),  # reviewer 1 keeps its review: one round only
        json_reply({"assessment": "Scores too generous.", "revise": True, "revised": revised}),
        json_reply(KEEP),  # reviewer 2, round 2: keeps the revision
        json_reply(KEEP),  # reviewer 3
    )
    meta = {
        "summary": "Reviewers agree the evaluation is thin.",
        "strengths": ["clear"],
        "weaknesses": ["few seeds"],
        "revision_requests": ["Report mean and std over 5 seeds in Table 1.", "Add a no-restart ablation."],
        "overall": 4,
        "decision": "Reject",
    }
    scripted_llm.script("reviewer/meta", json_reply(meta))
    out = tmp_path / "out"
    outcome = review_paper(small_paper(tmp_path), make_llm(llm_settings, tmp_path), llm_settings, out)

    assert [r.overall for r in outcome.reviews] == [3, 4, 7]
    assert outcome.reviews[1].summary == "Revised after reflection."
    assert [r.overall for r in outcome.first_drafts] == [3, 5, 7]
    assert [(r.review, r.round, r.revised) for r in outcome.reflections] == [
        (0, 1, False),
        (1, 1, True),
        (1, 2, False),
        (2, 1, False),
    ]
    stats = outcome.aggregate.scores["overall"]
    assert (stats.mean, stats.min, stats.max) == (pytest.approx(14 / 3, abs=1e-3), 3, 7)
    assert stats.std == pytest.approx(1.700, abs=1e-3)  # population std of 3, 4, 7
    assert outcome.aggregate.decision == "Reject" and outcome.aggregate.decision_source == "meta-review"
    assert outcome.head is not None and outcome.verdict is not None and outcome.verdict.rule == "head"
    assert outcome.decision == outcome.head.decision  # default rule: the head decides, the review explains
    assert outcome.revision_requests == meta["revision_requests"]
    assert outcome.calls == 3 + 4 + 1 and outcome.tokens_in > 0

    # the paper the model saw was blind-cleaned; the few-shot example is ours; reflection continues the chat
    first = scripted_llm.requests_for("reviewer/review")[0].messages
    seen = json.dumps(first)
    assert "Jane Roe" not in seen and "nowhere.edu" not in seen and "Widget Foundation" not in seen
    assert "Warm Restarts Are All You Need" in first[0]["content"]  # templates/prompts/reviewer/example_reject
    reflect = scripted_llm.requests_for("reviewer/reflect")[2].messages
    assert reflect[-2]["role"] == "assistant" and "Revised after reflection." in reflect[-2]["content"]
    assert reflect[:-2] == scripted_llm.requests_for("reviewer/review")[1].messages
    meta_prompt = scripted_llm.requests_for("reviewer/meta")[0].messages[-1]["content"]
    assert "Reviewer 3: overall 7" in meta_prompt and "Revised after reflection." in meta_prompt

    data = json.loads((out / "review.json").read_text())
    assert data["aggregate"]["scores"]["overall"]["max"] == 7 and data["revision_requests"]
    md = (out / "review.md").read_text()
    assert (
        "**Written review: Reject**" in md
        and "**Score head: P(accept)" in md
        and "Add a no-restart ablation." in md
        and "| overall | 4.67 |" in md
    )


def test_invalid_scores_are_repaired(scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path) -> None:
    llm_settings.review.num_reflections = 0
    scripted_llm.script(
        "reviewer/review",
        json_reply(review(15, soundness=0, decision="Strong Accept")),
        json_reply(review(6, decision="accept")),
    )
    outcome = review_paper(small_paper(tmp_path), make_llm(llm_settings, tmp_path), llm_settings, tmp_path / "o")
    assert outcome.reviews[0].overall == 6 and outcome.reviews[0].decision == "Accept"
    repair = scripted_llm.requests_for("reviewer/review")[1].messages[-1]["content"]
    assert "overall" in repair and "less than or equal to 10" in repair and "soundness" in repair
    assert [r.outcome for r in read_ledger(tmp_path / "llm_calls.jsonl")] == ["ok", "invalid", "ok"]
    # one review, no meta-review: requests come from the weaknesses and questions
    assert outcome.meta_review is None and outcome.aggregate.decision_source == "majority"
    assert outcome.revision_requests == [
        "weakness seen by reviewer with overall 6",
        "Answer in the paper: Which seeds?",
    ]


def test_decision_that_disagrees_with_overall_is_sent_back(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    llm_settings.review.num_reflections = 0
    scripted_llm.script("reviewer/review", json_reply(review(4, decision="Accept")), json_reply(review(4)))
    outcome = review_paper(small_paper(tmp_path), make_llm(llm_settings, tmp_path), llm_settings, tmp_path / "o")
    assert (outcome.reviews[0].overall, outcome.reviews[0].decision) == (4, "Reject")
    repair = scripted_llm.requests_for("reviewer/review")[1].messages[-1]["content"]
    assert "decision 'Accept' disagrees with overall 4" in repair
    assert outcome.adjustments == []


def test_example_text_copied_into_a_review_is_sent_back_then_dropped(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    """A small model copies the example review's weaknesses and keeps Accept at overall 4 through every repair:
    the review is kept, the copied item dropped, the decision set from overall, and both changes are listed."""
    llm_settings.review.num_reflections = 0
    copied = "Results are single runs; differences of 0.3 points are within seed noise."
    stubborn = review(4, decision="Accept", weaknesses=["Widgets are never counted twice.", copied])
    scripted_llm.script("reviewer/review", *[json_reply(stubborn)] * (llm_settings.llm.max_repairs + 1))
    out = tmp_path / "o"
    outcome = review_paper(small_paper(tmp_path), make_llm(llm_settings, tmp_path), llm_settings, out)
    repair = scripted_llm.requests_for("reviewer/review")[1].messages[-1]["content"]
    assert "copied from an example review of another paper" in repair and "0.3 points" in repair
    final = outcome.reviews[0]
    assert final.weaknesses == ["Widgets are never counted twice."] and final.decision == "Reject"
    assert outcome.adjustments == [
        "review 1: 1 item(s) copied from the example reviews dropped",
        "review 1: decision Accept disagreed with overall 4; set to Reject",
    ]
    assert "set to Reject" in (out / "review.md").read_text()


@pytest.mark.parametrize(
    ("item", "copied"),
    [
        ("No ablation separates restarts from the longer training budget.", True),
        ("No ablation study separates restarts from the longer training budget", True),
        ("Results are single runs, so the variance across seeds is unknown.", False),
        ("Only English read speech is evaluated.", False),
        ("Too short", False),
        ("Claims are weak. The results are single runs; differences of 0.3 points are within seed noise.", True),
    ],
)
def test_copy_detection(item: str, copied: bool) -> None:
    from reviewer.examples import is_copied

    assert is_copied(item) is copied


def test_repeated_items_are_kept_once() -> None:
    form = ReviewForm.model_validate(review(3, weaknesses=["No seeds.", "no  seeds.", "No baseline.", "No seeds."]))
    assert form.weaknesses == ["No seeds.", "No baseline."]


def test_a_failing_reviewer_is_recorded_and_the_ensemble_goes_on(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    llm_settings.review.num_reviews = 2
    llm_settings.review.num_reflections = 0
    llm_settings.llm.max_repairs = 1
    scripted_llm.script("reviewer/review", malformed_json("{"), malformed_json('{"summary": '), json_reply(review(5)))
    outcome = review_paper(small_paper(tmp_path), make_llm(llm_settings, tmp_path), llm_settings, tmp_path / "o")
    assert len(outcome.reviews) == 1 and outcome.errors and "review 1" in outcome.errors[0]
    assert outcome.meta_review is None  # auto: a meta-review needs more than one review


def test_no_valid_review_raises(scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path) -> None:
    llm_settings.llm.max_repairs = 0
    scripted_llm.script("reviewer/review", malformed_json("nope"))
    with pytest.raises(StructuredOutputError, match="no valid review"):
        review_paper(small_paper(tmp_path), make_llm(llm_settings, tmp_path), llm_settings, tmp_path / "o")


def test_aggregate_majority_and_tie_break() -> None:
    forms = [ReviewForm.model_validate(review(o)) for o in (7, 4, 8)]
    agg = aggregate(forms)
    assert (agg.decision, agg.decision_source, agg.accept_votes) == ("Accept", "majority", 2)
    tie = aggregate([ReviewForm.model_validate(review(o)) for o in (7, 4)])
    assert (tie.decision, tie.decision_source) == ("Reject", "overall mean")  # mean 5.5 < 6
    tie_hi = aggregate([ReviewForm.model_validate(review(o)) for o in (8, 5)])
    assert tie_hi.decision == "Accept"  # mean 6.5


@needs_pdfs
def test_digest_of_a_long_paper_fits_the_budget_and_keeps_intro_and_conclusion() -> None:
    paper = load_paper(PDFS / "papermage_fixtures" / "2206.10883v3.pdf")  # 37 pages
    digest = build_digest(paper, 3000)
    assert digest.tokens_est <= 3000
    assert "## 1 Introduction" in digest.text and "## 6 Conclusion" in digest.text
    assert digest.sections_cut and digest.words_left_out > 3000
    assert "(appendix)" in digest.text  # appendix headings are in the outline
    assert paper.references[:200] not in digest.text
    small = build_digest(paper, 100000)
    assert not small.sections_cut and small.words_left_out == 0


@pytest.mark.embedded
@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_embedded_model_reviews_a_real_pdf(tmp_path: Path) -> None:
    """Slow (a few minutes on 2 CPU cores): the embedded 1.5B model writes one review and one reflection of a real
    7-page generated paper through the default procedure (digest, schema-constrained JSON, bounded repairs)."""
    from agents.localmodel.weights import ensure_model_file
    from agents.settings import load_settings

    pdf = PDFS / "ai_scientist_generated" / "rl_lr_adaptation.pdf"
    if not pdf.is_file():
        pytest.skip(f"{pdf} not found")
    settings = load_settings(None, [], workspace=tmp_path / "ws")
    assert settings.models.reviewer.is_embedded
    try:
        ensure_model_file(settings.cache_dir)
    except Exception as exc:  # weights not installed on this machine
        pytest.skip(f"embedded weights not available: {exc}")
    llm = LLM(settings, Ledger(tmp_path / "llm_calls.jsonl"), context={"stage": "test"})
    outcome = review_paper(pdf, llm, settings, tmp_path / "out")
    review_ = outcome.reviews[0]
    assert 1 <= review_.overall <= 10 and review_.summary.strip() and review_.decision in ("Accept", "Reject")
    assert outcome.calls >= 1 and outcome.tokens_in > 1000 and outcome.revision_requests
    assert outcome.digest.tokens_est <= outcome.digest.budget_tokens
    assert (tmp_path / "out" / "review.md").read_text().startswith("# Review:")


@needs_pdfs
def test_vision_model_reviews_rendered_pages(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    import shutil

    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm is not installed")
    llm_settings.models.vlm.supports_images = True
    llm_settings.review.num_reflections = 0
    llm_settings.review.figure_pages = 2
    scripted_llm.script("reviewer/review", json_reply(review(4)))
    scripted_llm.script("reviewer/figures", json_reply({"issues": ["Figure 1 has no axis labels."], "presentation": 2}))
    pdf = PDFS / "ai_scientist_generated" / "rl_lr_adaptation.pdf"
    outcome = review_paper(pdf, make_llm(llm_settings, tmp_path), llm_settings, tmp_path / "o")
    parts = scripted_llm.requests_for("reviewer/figures")[0].messages[-1]["content"]
    images = [p for p in parts if p.get("type") == "image_url"]
    assert len(images) == 2 and images[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert outcome.figure_review is not None and outcome.figure_review.presentation == 2
    assert "Figure: Figure 1 has no axis labels." in outcome.revision_requests
