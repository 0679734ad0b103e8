"""review-eval metrics against hand-computed values on a small table; the CLI (typer CliRunner on our own app)
for one paper, a resumable batch with a bad file, and review-eval end to end with the scripted model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from test_reviewer_procedure import KEEP, review
from typer.testing import CliRunner

from agents.cli.review_cmd import app
from agents.testing import ScriptedServer, json_reply
from agents.testing.shared_data import shared_data_dir
from reviewer.calibrate import CalibrationReport, Label, report_from_scores, select
from reviewer.metrics import accuracy, balanced_accuracy, bootstrap, f1, fit_threshold, fnr, fpr, pearson, roc_auc

DATA = shared_data_dir()
ICLR = DATA / "reviewer" / "iclr2022"

# six papers: accepted = 1
Y = np.array([1, 1, 1, 0, 0, 0], dtype=bool)
PRED = np.array([1, 0, 1, 1, 1, 0], dtype=bool)  # TP 2, FN 1, FP 2, TN 1
OVERALL = np.array([8, 4, 6, 6, 3, 2], dtype=float)
HUMAN = np.array([7, 5, 6, 5, 3, 2], dtype=float)


def test_metrics_match_hand_computed_values() -> None:
    assert accuracy(Y, PRED) == pytest.approx(3 / 6)
    assert balanced_accuracy(Y, PRED) == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert f1(Y, PRED) == pytest.approx(2 * 2 / (2 * 2 + 2 + 1))
    assert fpr(Y, PRED) == pytest.approx(2 / 3) and fnr(Y, PRED) == pytest.approx(1 / 3)
    # AUC: accepted [8, 4, 6] vs rejected [6, 3, 2]: 3 + 2 + (0.5 + 2) wins of 9 pairs
    assert roc_auc(Y, OVERALL) == pytest.approx(7.5 / 9)
    # Pearson by hand: sum dxdy = 19.6667, sum dx^2 = 24.8333, sum dy^2 = 17.3333
    assert pearson(OVERALL, HUMAN) == pytest.approx(19.6667 / (24.8333 * 17.3333) ** 0.5, abs=1e-4)
    # threshold: best balanced accuracy on a fit table, the lowest of ties
    assert fit_threshold(np.array([1, 1, 0, 0], dtype=bool), np.array([7, 6, 5, 3.0])) == 6
    est = bootstrap(roc_auc, [Y, OVERALL], n=300, seed=1)
    assert est.lo <= est.value <= est.hi and est == bootstrap(roc_auc, [Y, OVERALL], n=300, seed=1)


def test_report_fits_threshold_on_one_split_and_reports_on_the_other() -> None:
    ev = [Label(paper_id=f"e{i}", accept=bool(a), mean_rating=h) for i, (a, h) in enumerate(zip(Y, HUMAN, strict=True))]
    ev_rows = [{"overall": str(o), "decision": "Accept" if p else "Reject"} for o, p in zip(OVERALL, PRED, strict=True)]
    fit = [Label(paper_id=f"f{i}", accept=a, mean_rating=5) for i, a in enumerate([True, True, False, False])]
    fit_rows = [{"overall": str(o), "decision": "Reject"} for o in (7, 6, 5, 3)]
    rep = report_from_scores(ev, ev_rows, fit, fit_rows, CalibrationReport(eval_split="dev", fit_split="train"), 200)
    assert rep.model_decision["balanced_accuracy"].value == pytest.approx(0.5)
    assert rep.overall["roc_auc"].value == pytest.approx(7.5 / 9)
    assert rep.threshold == 6 and rep.threshold_source.startswith("fitted on train")
    # Overall >= 6 on the eval table -> [1, 0, 1, 1, 0, 0]: TP 2, FN 1, FP 1, TN 2
    assert rep.threshold_metrics["balanced_accuracy"].value == pytest.approx(2 / 3)
    assert rep.threshold_metrics["fpr"].value == pytest.approx(1 / 3)


def test_select_alternates_classes_under_a_limit() -> None:
    labels = [Label(paper_id=f"p{i}", accept=i < 5, mean_rating=5, split="dev") for i in range(10)]
    chosen = select(labels, "dev", 4)
    assert [r.accept for r in chosen] == [True, False, True, False]


def _env(server: ScriptedServer) -> dict[str, str]:
    return {
        "SHOAL_MODELS__REVIEWER__BASE_URL": server.base_url,
        "SHOAL_MODELS__REVIEWER__MODEL": "scripted-model",
        "SHOAL_LLM__BACKOFF_BASE_S": "0",
        "SHOAL_LLM__BACKOFF_MAX_S": "0",
        "SHOAL_CONFIG": "",
    }


def _paper(path: Path, topic: str) -> Path:
    path.write_text(f"# {topic}\n\n## Abstract\nWe study {topic}.\n\n## 1 Introduction\n" + "Words. " * 80, "utf-8")
    return path


def test_cli_review_one_paper_prints_a_summary(scripted_llm: ScriptedServer, tmp_path: Path) -> None:
    scripted_llm.script("reviewer/review", json_reply(review(6)))
    scripted_llm.script("reviewer/reflect", json_reply(KEEP))
    paper = _paper(tmp_path / "widgets.md", "widgets")
    result = CliRunner().invoke(app, ["review", str(paper), "--out", str(tmp_path / "r")], env=_env(scripted_llm))
    assert result.exit_code == 0, result.output
    assert "decision" in result.output and "Accept" in result.output and "overall" in result.output
    assert "Score head" in result.output and "P(accept)" in result.output and "what moved it most" in result.output
    assert "Decision:" in result.output and "head" in result.output  # the default rule, named
    assert (tmp_path / "r" / "review.json").is_file() and (tmp_path / "r" / "llm_calls.jsonl").is_file()


def test_cli_bad_single_file_is_one_line_and_exit_2(
    scripted_llm: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "scan.pdf"
    bad.write_bytes(b"")
    result = CliRunner().invoke(app, ["review", str(bad)], env=_env(scripted_llm))
    text = " ".join(result.output.split())  # rich wraps at the terminal width, wherever the path ends
    assert result.exit_code == 2 and "the file is empty" in text and "Traceback" not in text
    assert not (tmp_path / "reviews").exists()  # nothing written for a file that cannot be reviewed
    url = CliRunner().invoke(app, ["review", "https://arxiv.org/pdf/1706.03762", "--head-only"])
    assert url.exit_code == 2 and "reads local files and downloads nothing" in url.output
    assert "https://arxiv.org/pdf/1706.03762" in " ".join(url.output.split())


def test_cli_batch_is_resumable_and_marks_bad_files(scripted_llm: ScriptedServer, tmp_path: Path) -> None:
    folder = tmp_path / "papers"
    folder.mkdir()
    _paper(folder / "a.md", "apples")
    _paper(folder / "b.md", "bananas")
    (folder / "c.pdf").write_bytes(b"%PDF-1.4\n" + b"\x00garbage" * 100)
    (folder / "notes.json").write_text("{}")
    scripted_llm.script("reviewer/review", json_reply(review(3)), json_reply(review(7)))
    scripted_llm.script("reviewer/reflect", json_reply(KEEP), json_reply(KEEP))
    out = tmp_path / "scores.csv"
    runner = CliRunner()
    first = runner.invoke(app, ["review", str(folder), "--out", str(out)], env=_env(scripted_llm))
    assert first.exit_code == 1, first.output  # one file failed
    rows = {r["paper"]: r for r in csv.DictReader(out.open())}
    assert set(rows) == {"a.md", "b.md", "c.pdf"}
    assert (rows["a.md"]["status"], rows["a.md"]["overall"], rows["b.md"]["review_decision"]) == ("ok", "3", "Accept")
    assert rows["a.md"]["decision"] == rows["a.md"]["head_decision"] and 0 <= float(rows["a.md"]["head_p_accept"]) < 1
    assert rows["c.pdf"]["status"] == "error" and "not a readable PDF" in rows["c.pdf"]["error"]
    assert (tmp_path / "scores_reviews" / "a" / "review.md").is_file()
    calls = len(scripted_llm.requests)
    again = runner.invoke(app, ["review", str(folder), "--out", str(out)], env=_env(scripted_llm))
    assert again.exit_code == 1 and "0 reviewed, 2 already done, 1 failed" in again.output
    assert len(scripted_llm.requests) == calls  # finished papers are skipped: no model calls


@pytest.mark.skipif(not (ICLR / "labels.jsonl").is_file(), reason=f"ICLR 2022 data not found at {ICLR}")
def test_cli_review_eval_end_to_end(scripted_llm: ScriptedServer, tmp_path: Path) -> None:
    scripted_llm.always("reviewer/review", json_reply(review(5)))
    scripted_llm.always("reviewer/reflect", json_reply(KEEP))
    out = tmp_path / "eval"
    args = ["review-eval", "--labels", str(ICLR / "labels.jsonl"), "--texts", str(ICLR / "texts"), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--limit", "2", "--bootstrap", "50"], env=_env(scripted_llm))
    assert result.exit_code == 0, result.output
    report = json.loads((out / "calibration.json").read_text())
    assert report["n_eval"] == 2 and report["n_fit"] == 2
    assert report["model_decision"]["balanced_accuracy"]["value"] == pytest.approx(0.5)  # always "Reject"
    assert report["leak_before"]["balanced_accuracy"]["value"] >= 0.9
    assert report["leak_after"]["balanced_accuracy"]["value"] == pytest.approx(0.5)
    assert len(scripted_llm.requests_for("reviewer/review")) == 4
    assert "leak detector, blind-cleaned" in result.output
