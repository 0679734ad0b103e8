"""The whole pipeline end to end with the scripted model: topic -> ideas -> 4 experiment stages (tiny numpy
experiments really executed in the sandbox) -> figures -> compiled PDF -> review -> revision -> report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pipeline_support import pipeline_settings, script_pipeline

from agents.experiments.journal import Journal
from agents.ideation.inputs import topic_from_text
from agents.llm import LLM, Ledger, read_ledger
from agents.pipeline.runner import drive, read_info
from agents.pipeline.stages import StageContext, make_stage_fns, save_topic
from agents.rundir import create_run
from agents.testing import ScriptedServer

INPUTS = {"topic": "momentum", "num_ideas": 1, "idea_name": None, "exp_stages": [1, 4], "approve": [],
          "max_revisions": 1, "revision_round": 0}  # fmt: skip


@pytest.mark.slow
def test_topic_to_reviewed_paper(scripted_llm: ScriptedServer, tmp_path: Path) -> None:
    """A complete scripted run: ~20 real sandboxed experiments, plots, two pdflatex builds (about a minute)."""
    script_pipeline(scripted_llm)
    settings = pipeline_settings(scripted_llm, str(tmp_path / "ws"), str(tmp_path / "cache"))
    run = create_run(settings, "momentum for least squares")
    save_topic(run, topic_from_text("Does momentum speed up gradient descent on least squares?"))
    llm = LLM(settings, Ledger(run.ledger_path))
    outcome = drive(run, make_stage_fns(StageContext(run=run, settings=settings, llm=llm)), dict(INPUTS))  # type: ignore[arg-type]

    assert outcome.status == "done"
    assert outcome.done == ["ideation", "choose_idea", "experiments", "figures", "writeup", "review", "writeup",
                            "review", "report"]  # fmt: skip
    assert json.loads(run.file("ideas.json").read_text())["ideas"][0]["title"]
    journal = Journal.load(run.file("journal.json"))
    kinds = {n.kind for n in journal.nodes}
    assert {"draft", "debug", "tune", "ablate", "seed"} <= kinds
    assert {n.stage for n in journal.nodes} == {1, 2, 3, 4}
    assert any(n.plots_status == "ok" for n in journal.nodes)
    assert run.file("figures/captions.json").is_file()
    pdf = run.file("paper/paper.pdf")
    assert pdf.is_file() and pdf.read_bytes()[:4] == b"%PDF"
    assert json.loads(run.file("review.json").read_text())
    html = run.file("report.html").read_text()
    assert "Stage 4" in html
    assert read_info(run).status == "done"  # type: ignore[union-attr]
    stages = {r.context.get("stage") for r in read_ledger(run.ledger_path)}
    assert {"ideation", "experiments", "figures", "writeup", "review"} <= stages
