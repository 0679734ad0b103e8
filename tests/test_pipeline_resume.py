"""SIGKILL the pipeline in each stage, resume it, and check that nothing finished was redone; model faults
injected at random; a budget that runs out stops the run cleanly and it resumes after raising the budget."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pipeline_support import pipeline_settings, script_pipeline

from agents.errors import BudgetExceeded
from agents.experiments.journal import Journal
from agents.ideation.inputs import topic_from_text
from agents.llm import LLM, Ledger, read_ledger
from agents.pipeline.runner import drive, read_info
from agents.pipeline.stages import StageContext, make_stage_fns, save_topic
from agents.rundir import create_run, open_run
from agents.testing import RecordedRequest, Reply, ScriptedServer, error, malformed_json, timeout

DRIVER = Path(__file__).resolve().parent / "pipeline_driver.py"
INPUTS = {"topic": "momentum", "num_ideas": 1, "idea_name": None, "exp_stages": [1, 4], "approve": [],
          "max_revisions": 1, "revision_round": 0}  # fmt: skip


def _events(run: Path) -> list[dict]:
    path = run / "events.jsonl"
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _reached(run: Path, stage: str) -> bool:
    events = _events(run)
    if stage == "experiments":  # mid-search: a few nodes finished, more to come
        journal = run / "journal.json"
        return journal.is_file() and sum(n["status"] == "done" for n in json.loads(journal.read_text())["nodes"]) >= 3
    return any(e.get("event") == "stage_started" and e.get("stage") == stage for e in events)


def _driver(run: Path, server: ScriptedServer, tmp: Path, mode: str) -> list[str]:
    return [sys.executable, str(DRIVER), str(run), server.base_url, str(tmp / "ws"), str(tmp / "cache"), mode]


def _snapshot(run: Path) -> tuple[dict[str, float | None], set[str]]:
    journal = Journal.load(run / "journal.json") if (run / "journal.json").is_file() else Journal()
    finished = {n.id: n.finished_at for n in journal.nodes if n.status == "done"}
    attempts = {p.name for p in (run / "paper" / "attempts").glob("*")} if (run / "paper").is_dir() else set()
    return finished, attempts


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["ideation", "experiments", "figures", "writeup", "review"])
def test_sigkill_in_each_stage_then_resume(stage: str, scripted_llm: ScriptedServer, tmp_path: Path) -> None:
    """Kill -9 the pipeline process in ``stage``, resume to completion (about a minute per stage)."""
    script_pipeline(scripted_llm)
    run = tmp_path / "ws" / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_driver(run, scripted_llm, tmp_path, "start"), env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + 240
    while not _reached(run, stage) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended before reaching {stage}: {proc.stdout.read().decode()[-2000:]}"  # type: ignore[union-attr]
    os.killpg(proc.pid, signal.SIGKILL)  # the process group we started, nothing else
    proc.wait(timeout=30)
    finished_before, attempts_before = _snapshot(run)
    ideation_calls = len(scripted_llm.requests_for("ideation/agent"))

    resumed = subprocess.run(_driver(run, scripted_llm, tmp_path, "resume"), env=env, capture_output=True,
                             text=True, timeout=600)  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    finished_after, attempts_after = _snapshot(run)
    for node_id, t in finished_before.items():
        assert finished_after[node_id] == t, f"finished node {node_id} was re-run"
    assert attempts_before <= attempts_after
    if stage != "ideation":
        assert len(scripted_llm.requests_for("ideation/agent")) == ideation_calls  # ideation was not redone
    assert (run / "paper" / "paper.pdf").is_file() and (run / "report.html").is_file()
    assert read_info(open_run(run)).status == "done"  # type: ignore[union-attr]


def _faulty(rng: random.Random, inner: object) -> object:
    """Wrap a reply: about one call in five first gets a fault (each fault is retried or repaired)."""
    faults = [error(429), error(500), timeout(3), malformed_json()]

    def reply(req: RecordedRequest) -> Reply:
        if rng.random() < 0.2:
            return rng.choice(faults)
        return inner(req) if callable(inner) else inner  # type: ignore[return-value]

    return reply


@pytest.mark.slow
def test_random_model_faults_still_complete(scripted_llm: ScriptedServer, tmp_path: Path) -> None:
    """429, 500, timeouts and malformed JSON injected at random into every prompt (about a minute)."""
    script_pipeline(scripted_llm)
    rng = random.Random(7)
    for name, reply in list(scripted_llm._always.items()):
        scripted_llm.always(name, _faulty(rng, reply))  # type: ignore[arg-type]
    settings = pipeline_settings(scripted_llm, str(tmp_path / "ws"), str(tmp_path / "cache"),
                                 "llm.max_retries=6", "llm.max_repairs=3", "llm.request_timeout_s=1.0")  # fmt: skip
    run = create_run(settings, "faults")
    save_topic(run, topic_from_text("Does momentum speed up gradient descent on least squares?"))
    llm = LLM(settings, Ledger(run.ledger_path))
    out = drive(run, make_stage_fns(StageContext(run=run, settings=settings, llm=llm)), dict(INPUTS))  # type: ignore[arg-type]
    assert out.status == "done"
    outcomes = {r.outcome for r in read_ledger(run.ledger_path)}
    assert any(o.startswith("error:") for o in outcomes)  # faults really happened
    assert run.file("paper/paper.pdf").is_file()


@pytest.mark.slow
def test_budget_stop_then_resume_after_raising_it(scripted_llm: ScriptedServer, tmp_path: Path) -> None:
    """A token budget that runs out in the experiments; resume with a larger one (about a minute)."""
    script_pipeline(scripted_llm)
    settings = pipeline_settings(scripted_llm, str(tmp_path / "ws"), str(tmp_path / "cache"), "budget.max_tokens=12000")
    run = create_run(settings, "budget")
    save_topic(run, topic_from_text("Does momentum speed up gradient descent on least squares?"))
    llm = LLM(settings, Ledger(run.ledger_path))
    with pytest.raises(BudgetExceeded):
        drive(run, make_stage_fns(StageContext(run=run, settings=settings, llm=llm)), dict(INPUTS))  # type: ignore[arg-type]
    assert read_info(run).status == "stopped"  # type: ignore[union-attr]
    spent = Ledger(run.ledger_path).totals().tokens
    assert spent <= 12000
    settings.budget.max_tokens = None
    llm = LLM(settings, Ledger(run.ledger_path))
    out = drive(run, make_stage_fns(StageContext(run=run, settings=settings, llm=llm)), None)
    assert out.status == "done"
    assert run.file("paper/paper.pdf").is_file()
