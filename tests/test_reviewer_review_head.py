"""The written review that reviews, with the scripted model server: empty Weaknesses/Questions are repaired (then
noted), the writeup's findings reach the prompt (given, from a file, from a Shoal run), disagreement is flagged;
and the head-only paths of the CLI: one paper, a folder into a CSV, review-eval with its refusals and guards."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from test_reviewer_procedure import KEEP, make_llm, review, small_paper
from typer.testing import CliRunner

from agents.cli.review_cmd import app
from agents.rundir import RunDir
from agents.settings import Settings
from agents.testing import ScriptedServer, json_reply
from agents.testing.shared_data import shared_data_dir
from reviewer.findings import run_findings
from reviewer.form import CheckedReviewForm
from reviewer.pipeline import review_paper

DATA = shared_data_dir()
ICLR = DATA / "reviewer" / "iclr2022"
AI_PAPERS = DATA / "pdfs" / "ai_scientist_generated"
needs_iclr = pytest.mark.skipif(not (ICLR / "labels.jsonl").is_file(), reason=f"ICLR 2022 data not found at {ICLR}")
ENV = {"SHOAL_CONFIG": "", "COLUMNS": "200"}


def flat(text: str) -> str:
    """CLI output with rich's line wrapping undone."""
    return " ".join(text.split())


def test_empty_weaknesses_and_questions_are_sent_back_for_repair(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    llm_settings.review.num_reflections = 0
    scripted_llm.script(
        "reviewer/review",
        json_reply(review(8, weaknesses=[], questions=[])),
        json_reply(review(5, weaknesses=["Table 2 has one seed."], questions=["How many seeds?"])),
    )
    outcome = review_paper(small_paper(tmp_path), make_llm(llm_settings, tmp_path), llm_settings, tmp_path / "o")
    assert outcome.reviews[0].weaknesses == ["Table 2 has one seed."] and not outcome.adjustments
    repair = scripted_llm.requests_for("reviewer/review")[1].messages[-1]["content"]
    assert "weaknesses is empty" in repair and "questions is empty" in repair


def test_a_review_that_stays_empty_is_kept_with_a_clear_note(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    llm_settings.review.num_reflections = 0
    scripted_llm.always("reviewer/review", json_reply(review(8, weaknesses=[], questions=[])))
    outcome = review_paper(small_paper(tmp_path), make_llm(llm_settings, tmp_path), llm_settings, tmp_path / "o")
    notes = " ".join(outcome.adjustments)
    assert "no weaknesses after the repairs" in notes and "no questions after the repairs" in notes
    md = (tmp_path / "o" / "review.md").read_text()
    assert "no weaknesses after the repairs" in md
    # the head disagrees with an 8/10 review of a tiny paper: flagged in the review
    assert outcome.verdict is not None and outcome.head is not None
    assert any("points from the head's predicted rating" in f for f in outcome.verdict.flags)
    assert "## Flags" in md


MAXED: dict[str, Any] = dict.fromkeys(
    ("originality", "quality", "clarity", "significance", "soundness", "presentation", "contribution"), 4
)


def test_every_sub_score_at_its_maximum_beside_weaknesses_is_sent_back_then_noted(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    """The embedded model's habit on an AI Scientist paper: Accept 8/10, all seven sub-scores 4, three weaknesses.
    It is sent back; a repaired review is kept as it is, one that stays saturated is kept with a note."""
    llm_settings.review.num_reflections = 0
    maxed = review(8, weaknesses=["Training time grows with the gradient penalty."], **MAXED)
    scripted_llm.script("reviewer/review", json_reply(maxed), json_reply(review(5)))
    outcome = review_paper(small_paper(tmp_path), make_llm(llm_settings, tmp_path), llm_settings, tmp_path / "a")
    repair = scripted_llm.requests_for("reviewer/review")[1].messages[-1]["content"]
    assert "every sub-score is 4 (excellent) although the review lists 1 weakness(es)" in repair
    assert outcome.reviews[0].overall == 5 and not outcome.adjustments

    scripted_llm.always("reviewer/review", json_reply(maxed))
    outcome = review_paper(small_paper(tmp_path), make_llm(llm_settings, tmp_path), llm_settings, tmp_path / "b")
    assert outcome.reviews[0].overall == 8
    assert outcome.adjustments == [
        "review 1: every sub-score at its maximum beside 1 listed weakness(es), after the repairs; the sub-scores do "
        "not assess this paper"
    ]
    assert "the sub-scores do not assess this paper" in (tmp_path / "b" / "review.md").read_text()
    # a strong paper may earn the maximum everywhere; without weaknesses that is the empty-list repair, not this one
    no_weakness = review(9, weaknesses=[], **MAXED)
    assert "every sub-score" not in " ".join(_problems(no_weakness))


def _problems(answer: dict[str, object]) -> list[str]:
    try:
        CheckedReviewForm.model_validate(answer)
    except ValidationError as exc:
        return [str(e["msg"]) for e in exc.errors()]
    return []


def test_findings_reach_the_reviewer_given_or_from_the_run(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm_settings.review.num_reflections = 0
    scripted_llm.always("reviewer/review", json_reply(review(4)))
    given = ["abstract claims a 12% gain; Table 1 shows a 3% loss"]
    out = review_paper(small_paper(tmp_path), make_llm(llm_settings, tmp_path), llm_settings, tmp_path / "o", given)
    prompt = scripted_llm.requests_for("reviewer/review")[0].messages[-1]["content"]
    assert "integrity and lint checks" in prompt and given[0] in prompt and out.findings == given
    assert given[0] in (tmp_path / "o" / "review.md").read_text()
    # a paper inside a Shoal run: the run's own reader supplies them
    run_dir = tmp_path / "run"
    (run_dir / "paper").mkdir(parents=True)
    (run_dir / "config.resolved.toml").write_text("", encoding="utf-8")
    monkeypatch.setattr(
        RunDir, "writeup_findings", lambda self: {"lint": ["reference invented in prose"]}, raising=False
    )
    assert run_findings(run_dir / "paper" / "paper.pdf") == ["lint: reference invented in prose"]
    assert run_findings(tmp_path / "elsewhere.pdf") == []


@needs_iclr
def test_cli_head_only_one_paper_and_a_folder(tmp_path: Path) -> None:
    runner = CliRunner()
    paper = ICLR / "texts" / "-8sBpe7rDiV.txt"
    one = runner.invoke(app, ["review", str(paper), "--head-only"], env=ENV)
    assert one.exit_code == 0, one.output
    assert "P(accept)" in one.output and "what moved it most" in one.output
    folder = tmp_path / "papers"
    folder.mkdir()
    for name in ("-8sBpe7rDiV", "-AW3SFO63GO", "-7UeX2KPqs"):
        (folder / f"{name}.txt").write_text((ICLR / "texts" / f"{name}.txt").read_text())
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (folder / "notes.docx").write_text("not a paper")
    (folder / "more").mkdir()
    out = tmp_path / "scores.csv"
    batch = runner.invoke(app, ["review", str(folder), "--head-only", "--out", str(out)], env=ENV)
    assert batch.exit_code == 1 and "3 scored, 0 already done, 1 failed" in flat(batch.output)
    assert "not reviewed: 1 file(s) of another type (notes.docx;" in flat(batch.output)
    assert "1 subfolder(s) (more/; give each as its own folder)" in flat(batch.output)
    rows = {r["paper"]: r for r in csv.DictReader(out.open())}
    assert rows["broken.pdf"]["status"] == "error"
    assert all(0 < float(rows[f"{n}.txt"]["head_p_accept"]) < 1 for n in ("-8sBpe7rDiV", "-AW3SFO63GO"))
    assert rows["-8sBpe7rDiV.txt"]["head_top"]


@needs_iclr
def test_review_eval_head_only_refuses_training_papers_and_reports_guards(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["review-eval", "--labels", str(ICLR / "labels.jsonl"), "--texts", str(ICLR / "texts"), "--head-only"]
    refused = runner.invoke(app, [*base, "--split", "train", "--out", str(tmp_path / "x")], env=ENV)
    assert refused.exit_code == 2 and "were used to train this head" in flat(refused.output)
    args = [*base, "--out", str(tmp_path / "e"), "--bootstrap", "100"]
    if AI_PAPERS.is_dir():
        args += ["--ai-generated", str(AI_PAPERS)]
    result = runner.invoke(app, args, env=ENV)
    assert result.exit_code == 0, result.output
    assert "score head (n=40, dev40)" in flat(result.output) and "front-matter-only" in flat(result.output)
    assert (tmp_path / "e" / "reliability_dev40.png").stat().st_size > 5000
    report = json.loads((tmp_path / "e" / "head_eval.json").read_text())
    metrics = {(x["what"].split(" (")[0], x["metric"]): x["value"]["value"] for x in report[0]["lines"]}
    assert 0.6 < metrics[("score head", "roc_auc")] <= 1 and 0 < metrics[("score head", "brier")] < 0.3
    if AI_PAPERS.is_dir():
        assert "not human labels" in flat(result.output)
        names = {r["paper"] for r in report[1]["ai_generated"]}
        assert names == {"gan_diffusion", "multi_style_adapter", "rl_lr_adaptation"}


@needs_iclr
def test_review_eval_combines_head_and_written_review(scripted_llm: ScriptedServer, tmp_path: Path) -> None:
    scripted_llm.always("reviewer/review", json_reply(review(7)))
    scripted_llm.always("reviewer/reflect", json_reply(KEEP))
    env = {
        **ENV,
        "SHOAL_MODELS__REVIEWER__BASE_URL": scripted_llm.base_url,
        "SHOAL_MODELS__REVIEWER__MODEL": "scripted-model",
        "SHOAL_LLM__BACKOFF_BASE_S": "0",
        "SHOAL_LLM__BACKOFF_MAX_S": "0",
    }
    args = ["review-eval", "--labels", str(ICLR / "labels.jsonl"), "--texts", str(ICLR / "texts")]
    args += ["--out", str(tmp_path / "e"), "--limit", "4", "--fit-limit", "2", "--bootstrap", "50"]
    if AI_PAPERS.is_dir():
        args += ["--ai-generated", str(AI_PAPERS)]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert "written review alone (n=4)" in out and "combined (mean of head rating" in out
    if AI_PAPERS.is_dir():  # the written review scored the generated papers too, beside the head and AI Scientist
        rows = json.loads((tmp_path / "e" / "head_eval.json").read_text())[-1]["ai_generated"]
        assert [r["review_overall"] for r in rows] == ["7", "7", "7"]


@needs_iclr
def test_review_eval_cv_refits_the_head_in_every_fold(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in (ICLR / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    train = [r for r in rows if r["split"] == "train"]
    small = [r for r in train if r["accept"]][:15] + [r for r in train if not r["accept"]][:15]
    small += [r for r in rows if r["split"] == "dev40"][:10]
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n".join(json.dumps(r) for r in small) + "\n", encoding="utf-8")
    args = ["review-eval", "--labels", str(labels), "--texts", str(ICLR / "texts"), "--head-only", "--cv"]
    result = CliRunner().invoke(
        app, [*args, "--folds", "3", "--bootstrap", "50", "--out", str(tmp_path / "e")], env=ENV
    )
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert "3-fold nested CV on train (n=30)" in out and "fitted on train, scored on dev40 (n=10)" in out
    assert "thresholds chosen on the training folds" in out and (tmp_path / "e" / "reliability_cv.png").is_file()
