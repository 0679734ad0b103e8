"""The score head on real ICLR 2022 texts: fitting, its tf-idf against scikit-learn's, save/load without pickle,
the shipped weights (provenance, speed, explanation), rebuilding them with ``shoal review-train``, and the
decision rule and flags that join it to the written review."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfTransformer
from typer.testing import CliRunner

from agents.cli.review_cmd import app
from agents.testing.shared_data import shared_data_dir
from reviewer.aggregate import aggregate
from reviewer.blind import blind_clean
from reviewer.calibrate import load_labels, text_file
from reviewer.findings import findings_lines
from reviewer.form import ReviewForm
from reviewer.head import SHIPPED, HeadConfig, HeadScore, ScoreHead, tfidf
from reviewer.head_data import training_set
from reviewer.head_fit import fit_head, head_predict
from reviewer.ingest import load_paper
from reviewer.verdict import decide

ICLR = shared_data_dir() / "reviewer" / "iclr2022"
LABELS, TEXTS = ICLR / "labels.jsonl", ICLR / "texts"
needs_iclr = pytest.mark.skipif(not LABELS.is_file(), reason=f"shared ICLR 2022 labels not found at {LABELS}")
SMALL = HeadConfig(min_df=2, max_features=3000, folds=3)


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """60 papers of dev40 + train (a labels file of their own), loaded once."""
    rows = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]
    rows = [r for r in rows if r["split"] == "dev40"] + [r for r in rows if r["split"] == "train"][:20]
    path = tmp_path_factory.mktemp("labels") / "labels.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    ts, hashes, digest = training_set(path, TEXTS, splits=None, ngram_max=2, embeddings=False, cache_dir=None)
    return ts, hashes, digest, path


@needs_iclr
def test_tfidf_matches_scikit_learn(small_set: tuple) -> None:
    ts = small_set[0]
    counts = ts.counts[:, :500]
    idf = np.log((1 + counts.shape[0]) / (1 + np.asarray((counts > 0).sum(axis=0)).ravel())) + 1
    ours = tfidf(counts, idf).toarray()
    theirs = TfidfTransformer(sublinear_tf=True).fit(counts).transform(counts).toarray()
    assert np.allclose(ours, theirs, atol=1e-12)


@needs_iclr
def test_fit_save_load_gives_the_same_predictions(small_set: tuple, tmp_path: Path) -> None:
    ts = small_set[0]
    rows = np.arange(len(ts))
    head = fit_head(ts, rows[:45], SMALL, {"command": "test", "data_hash": small_set[2]})
    rating, p, decision = head_predict(head, ts, rows[45:])
    npz, meta = head.save(tmp_path / "head")
    assert npz.stat().st_size < 500_000 and json.loads(meta.read_text())["command"] == "test"
    with np.load(npz, allow_pickle=False) as data:  # nothing in it needs pickle
        assert "vocab" in data.files and "text_coef" in data.files
    again = ScoreHead.load(tmp_path / "head")
    rating2, p2, decision2 = head_predict(again, ts, rows[45:])
    assert np.allclose(p, p2, atol=1e-5) and np.allclose(rating, rating2, atol=1e-4)
    assert (decision == decision2).all()
    assert ((p > 0) & (p < 1)).all() and ((rating >= 1) & (rating <= 10)).all()
    # calibration and threshold come from out-of-fold predictions on the training rows only
    st = head.meta.stacker
    assert 0 < st.threshold < 1 and st.blocks == ["text", "structure"] and head.meta.train_ids == ts.ids[:45]


@needs_iclr
def test_shipped_head_scores_a_paper_fast_and_explains_it() -> None:
    head = ScoreHead.load(SHIPPED)
    meta = head.meta
    assert meta.command.startswith("shoal review-train") and len(meta.data_hash) == 64
    assert {"scikit-learn", "numpy", "scipy"} <= set(meta.versions) and meta.cv["roc_auc"] > 0.6
    assert SHIPPED.with_suffix(".npz").stat().st_size < 2_000_000
    dev = [r for r in load_labels(LABELS) if r.split == "dev40"]
    assert not {r.paper_id for r in dev} & set(meta.train_ids)
    paper = blind_clean(load_paper(text_file(TEXTS, dev[0].paper_id)))[0]
    start = time.perf_counter()
    score = head.score(paper)
    assert time.perf_counter() - start < 2.0
    assert 0 < score.p_accept < 1 and 1 <= score.rating <= 10 and score.decision in ("Accept", "Reject")
    assert score.top and abs(sum(score.blocks.values()) + meta.base_rating - score.rating) < 1e-2


@pytest.mark.slow
@needs_iclr
def test_review_train_rebuilds_the_shipped_weights(tmp_path: Path) -> None:
    """Slow (about 3 minutes on 2 cores): tokenises and fits the 479 training papers again."""
    shipped = ScoreHead.load(SHIPPED)
    stem = tmp_path / "head"
    args = ["review-train", "--labels", str(LABELS), "--texts", str(TEXTS), "--out", str(stem), "--no-cv"]
    result = CliRunner().invoke(app, args, env={"SHOAL_CONFIG": ""})
    assert result.exit_code == 0, result.output
    rebuilt = ScoreHead.load(stem)
    assert rebuilt.meta.data_hash == shipped.meta.data_hash and rebuilt.vocab == shipped.vocab
    dev = [r for r in load_labels(LABELS) if r.split == "dev40"][:10]
    for label in dev:
        paper = blind_clean(load_paper(text_file(TEXTS, label.paper_id)))[0]
        a, b = shipped.score(paper), rebuilt.score(paper)
        assert abs(a.p_accept - b.p_accept) < 1e-3 and abs(a.rating - b.rating) < 1e-2


def _review(overall: int, **kw: object) -> ReviewForm:
    base = {
        "summary": "s", "strengths": ["a"], "weaknesses": ["b"], "questions": ["c"], "originality": 4, "quality": 4,
        "clarity": 4, "significance": 4, "soundness": 4, "presentation": 4, "contribution": 4, "overall": overall,
        "confidence": 4, "decision": "Accept" if overall >= 6 else "Reject",
    }  # fmt: skip
    return ReviewForm.model_validate({**base, **kw})


def test_decision_rules_and_disagreement_flags() -> None:
    head = HeadScore(p_accept=0.2, rating=4.0, decision="Reject", threshold=0.4)
    agg = aggregate([_review(8)])
    by_head = decide("head", head, agg, None)
    assert by_head.decision == "Reject" and by_head.rule == "head"
    flags = " | ".join(by_head.flags)
    assert "overall 8.0 is 4.0 points from the head's predicted rating 4.0" in flags
    assert "originality 4.0" in flags and "the review says Accept, the head says Reject" in flags
    assert decide("review", head, agg, None).decision == "Accept"
    assert decide("head", None, agg, None).rule == "review"  # no head: the review decides
    quiet = decide("head", HeadScore(p_accept=0.7, rating=7.0, decision="Accept", threshold=0.4), agg, None)
    assert quiet.flags == []


@needs_iclr
def test_combined_rule_averages_ratings_through_the_heads_calibration() -> None:
    model = ScoreHead.load(SHIPPED)
    st = model.meta.stacker
    head = HeadScore(p_accept=0.3, rating=5.0, decision="Reject", threshold=st.threshold)
    verdict = decide("combined", head, aggregate([_review(9)]), model)
    expected = 1 / (1 + np.exp(st.platt_a * 7.0 + st.platt_b))
    assert verdict.rule == "combined" and verdict.p_accept == pytest.approx(expected, abs=1e-4)
    assert verdict.decision == ("Accept" if expected >= st.threshold else "Reject")


def test_findings_of_any_shape_become_lines() -> None:
    data = {
        "numbers": [{"message": "abstract says 12% but table 2 says 1.2%", "fix": "kept the table's value"}],
        "claims": ["claimed direction is wrong"],
        "lint": {"citations": ["\\cite{smith2020} not in references"]},
        "ok": True,
        "empty": [],
    }
    assert findings_lines(data) == [
        "numbers: abstract says 12% but table 2 says 1.2% (kept the table's value)",
        "claims: claimed direction is wrong",
        "lint: citations: \\cite{smith2020} not in references",
    ]
    writeup = {  # the shape the writeup stage writes (paper findings of a Shoal run)
        "numbers": [
            {"section": "Results", "number": "0.93", "source": "node 3 metric"},
            {"section": "Abstract", "number": "12%", "source": "unmatched"},
        ],
        "sent_back": ["Results: claims an improvement the table does not show"],
        "removed_numbers": [],
        "removed_citations": ["smith2020 (not in the library)"],
        "removed_claims": [],
    }
    assert findings_lines(writeup) == [
        "12% in Abstract matches no recorded result",
        "removed before compiling, not in the paper: citation smith2020 (not in the library)",
    ]


def test_writeup_findings_say_what_is_true_of_the_final_paper() -> None:
    """As the demo's run wrote them: twenty issues sent back about hyper-parameter values, which the checks then
    removed, and two removed claims. Sent-back issues are not given (each was fixed or ended in a removal), removed
    numbers come as one line a section, and the removed claims are not cut off by the cap."""
    values = [f"{0.05 * k:.2f}" for k in range(1, 10)]
    writeup = {
        "numbers": [{"section": "abstract", "number": "0.632", "source": "node a: val_mse (mean over 3 seeds)"}],
        "sent_back": [f"abstract: the number {v} matches no recorded value" for v in values] * 3,
        "removed_numbers": [f"abstract: {v}" for v in values] + ["experimental_setup: 100", "appendix: 0.05"],
        "removed_citations": [],
        "removed_claims": [
            "experimental_setup: the sentence claims an improvement, but no comparison was recorded: 'Improved it.'",
            "appendix: 'significant' without a test over seeds saying so: 'a significant improvement'",
        ],
    }
    lines = findings_lines(writeup)
    assert lines == [
        "removed before compiling, not in the paper: claim in experimental_setup: the sentence claims an "
        "improvement, but no comparison was recorded: 'Improved it.'",
        "removed before compiling, not in the paper: claim in appendix: 'significant' without a test over seeds "
        "saying so: 'a significant improvement'",
        "removed before compiling, not in the paper: numbers in abstract with no recorded source: " + ", ".join(values),
        "removed before compiling, not in the paper: numbers in experimental_setup with no recorded source: 100",
        "removed before compiling, not in the paper: numbers in appendix with no recorded source: 0.05",
    ]
    assert findings_lines({"numbers": [{"message": "12% vs 1.2%"}]}) == ["numbers: 12% vs 1.2%"]  # not the writeup's


@needs_iclr
def test_a_head_trained_with_review_scores_works_with_and_without_them(small_set: tuple, tmp_path: Path) -> None:
    import dataclasses

    ts = small_set[0]
    rng = np.random.default_rng(0)
    # sub-scores that track the human rating (a good reviewer), so the LLM block must earn weight
    base = np.clip(np.round(ts.rating[:, None] / 2.5 + rng.normal(0, 0.3, (len(ts), 9))), 1, 4)
    base[:, 7] = np.clip(np.round(ts.rating + rng.normal(0, 0.5, len(ts))), 1, 10)  # overall
    with_reviews = dataclasses.replace(ts, llm=base)
    rows = np.arange(len(ts))
    head = fit_head(with_reviews, rows[:45], SMALL)
    assert head.meta.stacker_llm is not None and "llm" in head.meta.stacker_llm.blocks
    head.save(tmp_path / "h")
    again = ScoreHead.load(tmp_path / "h")
    _, p_plain, _ = head_predict(again, with_reviews, rows[45:])
    _, p_llm, _ = head_predict(again, with_reviews, rows[45:], use_llm=True)
    assert not np.allclose(p_plain, p_llm)
    paper = ts.papers[50]
    scores = dict(zip(("originality", "quality", "clarity", "significance", "soundness", "presentation",
                       "contribution", "overall", "confidence"), base[50], strict=True))  # fmt: skip
    with_llm, without = again.score(paper, scores), again.score(paper)
    assert with_llm.used_llm and not without.used_llm
    assert any(c.block == "llm" for c in with_llm.top) and "llm" in with_llm.blocks
    assert with_llm.p_accept == pytest.approx(p_llm[5], abs=1e-4) and without.p_accept == pytest.approx(
        p_plain[5], abs=1e-4
    )


def test_structure_counts_read_numeric_citations_and_the_papers_own_era() -> None:
    """A 2017 paper with a numbered reference list is counted as citing what it cites, and its recent references
    are those of its own time, not of the training papers' (2019 on)."""
    from reviewer.features import citations, recent_references

    numbered = "\n".join(f"[{i}] A. Author. A paper. In NIPS, {2010 + i}." for i in range(1, 8))
    body = "As in [1], and [2, 3] or [4-6], on [0, 1]; see [7]."
    assert citations(body, numbered) == 5  # an interval such as [0, 1] counts too in a numbered paper
    author_year = "A. Author. A paper. In NIPS, 2016.\nB. Author. Another. In ICML, 2015.\n"
    assert citations("Smith et al. (2016) on [0, 1]; Jones et al. (2015).", author_year) == 2  # no brackets counted
    # newest years 2015-2017 (third-latest 2015): 2013 and older are not recent
    assert recent_references(numbered) == 5  # 2013..2017
    # one stray late year moves the window by one year (2014 on: 2014..2017 and the stray), not to 2022 on
    assert recent_references(numbered + "\n[9] Z. Stray. 2024.") == 5
    assert recent_references("no years here") == 0
