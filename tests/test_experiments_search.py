"""Whole searches with the scripted model over tiny numpy experiments that really run in the local sandbox:
four stages with debugging, seed re-runs, tuning and an ablation; template mode; stage-1 failure; budget stop
and resume; kill -9 and resume; two workers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import exp_support as S
import pytest

from agents import runlock
from agents.errors import BudgetExceeded
from agents.experiments.journal import Journal
from agents.experiments.manager import ExperimentManager, SearchOutcome
from agents.llm import LLM, Ledger, read_ledger
from agents.rundir import RunDir, create_run
from agents.settings import Settings
from agents.testing import ScriptedServer, json_reply

TESTS = Path(__file__).resolve().parent


def _script(server: ScriptedServer, coder: S.Coder | None = None) -> S.Coder:
    coder = coder or S.Coder()
    coder.install(server)
    server.always("feedback/review", S.review_ok)
    server.always("experiments/proposals", S.proposals)
    server.always("experiments/tie_break", S.tie_last)
    server.always("experiments/stage_judge", lambda r: json_reply({"complete": False, "reason": "go on"}))
    return coder


def _search(settings: Settings, run: RunDir, **kw: object) -> tuple[ExperimentManager, SearchOutcome]:
    manager = ExperimentManager(run, settings, LLM(settings, Ledger(run.ledger_path)), S.sandbox(), S.IDEA, **kw)
    return manager, manager.run()


def _runs(run: RunDir, node_id: str) -> int:
    log = run.path / "nodes" / node_id / "runs.log"
    return len(log.read_text().splitlines()) if log.is_file() else 0


@pytest.mark.slow
def test_full_four_stage_search(scripted_llm: ScriptedServer, llm_settings: Settings) -> None:
    """Slow (~12 s): 19 real sandboxed numpy programs across all four stages."""
    _script(scripted_llm, S.Coder(fail_patch_for=("setting: steps=40",)))
    settings = S.search_settings(
        llm_settings, num_drafts=1, debug_prob=1.0, stage_iters=[3, 3, 4, 1], num_seeds=2, patience=9
    )
    run = create_run(settings, "four stages")
    manager, outcome = _search(settings, run)
    j = Journal.load(run.file("journal.json"))
    assert outcome.status == "complete"
    assert [(r.stage, r.status) for r in j.stages] == [(1, "done"), (2, "done"), (3, "done"), (4, "done")]
    assert all(r.reason for r in j.stages)
    assert j.model_dump() == manager.journal.model_dump()

    # stage 1: the buggy draft is debugged into the first good node
    draft, fix = j.nodes[0], j.nodes[1]
    assert draft.kind == "draft" and draft.is_buggy and "undefined_name" in draft.bug_reason
    assert fix.kind == "debug" and fix.parent == draft.id and fix.debug_depth == 1 and fix.is_good
    assert fix.edit == "patch" and j.stage_record(1).best == fix.id
    assert "first good node" in j.stage_record(1).reason

    # seed re-runs after stages 1-3: same code, seeds 1..2, mean and standard error recorded on the best node
    for stage in (1, 2, 3):
        best = j.get(j.stage_record(stage).best)
        seeds = j.seed_runs(best.id)
        assert sorted(s.seed for s in seeds) == [1, 2] and all(s.code == best.code for s in seeds)
        p = best.metric.primary
        assert p.n_seeds == 3 and p.std_err["synthetic"] > 0
        vals = [best.metric.score] + [s.metric.score for s in seeds]
        assert p.seed_mean["synthetic"] == pytest.approx(-sum(vals) / 3)
    assert not any(n.kind == "seed" for n in j.stage_nodes(4))

    # stage 2: each proposed hyperparameter once, from the stage-1 best; a failed patch fell back to a rewrite
    tunes = {n.tag: n for n in j.stage_nodes(2) if n.kind == "tune"}
    assert set(tunes) == {"lr=0.02", "steps=40"}
    assert all(n.parent == fix.id and n.is_good for n in tunes.values())
    assert tunes["steps=40"].edit == "patch_fallback" and "steps = 40" in tunes["steps=40"].code
    assert "lr = 0.02" in tunes["lr=0.02"].code
    assert "all 2 proposed hyperparameter settings run" in j.stage_record(2).reason
    best2 = j.get(j.stage_record(2).best)
    assert best2.id == max(tunes.values(), key=lambda n: n.metric.score).id  # steps=40 beats lr=0.02

    # stage 3: improvements, capped; a model judgement was asked once
    improves = [n for n in j.stage_nodes(3) if n.kind == "improve"]
    assert len(improves) == 4 and j.stage_record(3).judge_calls == 1
    assert "iteration cap 4" in j.stage_record(3).reason
    assert j.get(j.stage_record(3).best).better_than(best2)

    # stage 4: one ablation of the stage-3 best, the component removed
    (abl,) = [n for n in j.stage_nodes(4) if n.kind == "ablate"]
    assert abl.tag == "no momentum" and abl.parent == j.stage_record(3).best and "momentum = 0.0" in abl.code
    assert j.best_node().id == j.stage_record(3).best

    # artefacts: every node ran exactly once in its own dir; events; model calls per node within budget
    for n in j.nodes:
        d = run.path / "nodes" / n.id
        assert (d / "code.py").read_text() == n.code and (d / "shoal_helper.py").is_file()
        assert _runs(run, n.id) == 1 and n.status == "done" and n.finished_at
    events = [json.loads(line)["event"] for line in run.events_path.read_text().splitlines()]
    assert events.count("experiments.node_done") == len(j.nodes)
    calls = read_ledger(run.ledger_path)
    assert len(calls) / len(j.nodes) <= 2.5
    assert {c.prompt for c in calls} == {
        "coder/draft",
        "coder/patch",
        "coder/edit",
        "feedback/review",
        "experiments/proposals",
        "experiments/stage_judge",
    }
    assert sum(n.llm_calls for n in j.nodes) == sum(1 for c in calls if c.context.get("node"))
    assert any("stage 2 proposals" in note for note in j.notes)


def test_template_mode_starts_from_the_users_program(scripted_llm: ScriptedServer, llm_settings: Settings) -> None:
    _script(scripted_llm)
    settings = S.search_settings(llm_settings, num_drafts=3, debug_prob=1.0, stage_iters=[3, 1, 1, 1], num_seeds=1)
    run = create_run(settings, "template")
    baseline = S.program(bug=True)
    _, outcome = _search(settings, run, stages=(1, 1), baseline_code=baseline)
    j = Journal.load(run.file("journal.json"))
    assert outcome.status == "complete"
    assert j.nodes[0].code == baseline and j.nodes[0].model == "user" and j.nodes[0].is_buggy
    assert j.nodes[1].kind == "debug" and j.nodes[1].is_good
    assert scripted_llm.requests_for("coder/draft") == []  # num_drafts is 1 in template mode
    assert [r.stage for r in j.stages] == [1]


def test_a_working_user_baseline_is_not_overruled_by_the_review(
    scripted_llm: ScriptedServer, llm_settings: Settings
) -> None:
    _script(scripted_llm)
    suspicious = json_reply({"is_buggy": True, "bug_reason": "looks odd", "summary": "odd", "critique": "x"})
    scripted_llm.always("feedback/review", suspicious)
    settings = S.search_settings(llm_settings, num_drafts=1, stage_iters=[1, 1, 1, 1], num_seeds=1)
    run = create_run(settings, "trusted baseline")
    _, outcome = _search(settings, run, stages=(1, 1), baseline_code=S.program())
    j = Journal.load(run.file("journal.json"))
    assert j.nodes[0].model == "user" and j.nodes[0].is_good
    assert outcome.status == "complete"


def test_stage1_without_a_working_program_ends_cleanly(scripted_llm: ScriptedServer, llm_settings: Settings) -> None:
    _script(scripted_llm, S.Coder(buggy_drafts=99))
    scripted_llm.always("coder/patch", lambda r: S.text(S.patch("w = undefined_name", "w = other_undefined")))
    settings = S.search_settings(
        llm_settings, num_drafts=2, debug_prob=1.0, max_debug_depth=1, stage_iters=[3, 1, 1, 1]
    )
    run = create_run(settings, "fail")
    _, outcome = _search(settings, run)
    j = Journal.load(run.file("journal.json"))
    assert outcome.status == "no_working_implementation" and outcome.best is None
    assert "no working implementation after 3 node(s)" in outcome.message
    assert len(j.nodes) == 3 and all(n.is_buggy for n in j.nodes)
    assert [(r.stage, r.status) for r in j.stages] == [(1, "failed")]
    _, again = _search(settings, run)  # resuming a failed search does not spend more
    assert again.status == "no_working_implementation" and len(Journal.load(run.file("journal.json")).nodes) == 3


@pytest.mark.slow
def test_budget_stops_cleanly_and_resume_finishes(scripted_llm: ScriptedServer, llm_settings: Settings) -> None:
    """Slow (~8 s): a search stopped by its token budget, then resumed to the end with real sandbox runs."""
    _script(scripted_llm)
    search = {"num_drafts": 1, "debug_prob": 1.0, "stage_iters": [3, 1, 1, 1], "num_seeds": 1, "patience": 9}
    tight = S.search_settings(llm_settings, **search)
    tight = tight.model_copy(update={"budget": tight.budget.model_copy(update={"max_tokens": 4000})})
    run = create_run(tight, "budget")
    with pytest.raises(BudgetExceeded):
        _search(tight, run)
    before = Journal.load(run.file("journal.json"))
    assert before.nodes and all(n.status == "done" for n in before.nodes)
    assert any("search stopped (BudgetExceeded)" in note for note in before.notes)
    _, outcome = _search(S.search_settings(llm_settings, **search), run)
    after = Journal.load(run.file("journal.json"))
    assert outcome.status == "complete" and len(after.nodes) > len(before.nodes)
    for n in before.nodes:
        assert after.get(n.id).finished_at == n.finished_at and _runs(run, n.id) == 1


def test_two_workers_run_nodes_in_parallel(scripted_llm: ScriptedServer, llm_settings: Settings) -> None:
    _script(scripted_llm, S.Coder(sleep=0.8, buggy_drafts=0))
    settings = S.search_settings(llm_settings, num_drafts=2, workers=2, stage_iters=[2, 1, 1, 1], num_seeds=1)
    run = create_run(settings, "parallel")
    _, outcome = _search(settings, run, stages=(1, 1))
    j = Journal.load(run.file("journal.json"))
    a, b = (n for n in j.nodes if n.kind == "draft")
    assert outcome.status == "complete"
    assert a.started_at < b.finished_at and b.started_at < a.finished_at  # the two runs overlapped
    # the scripted coder wrote the same program twice: equal metrics, so one tie-break call picked the best
    assert a.metric.score == b.metric.score and j.stage_record(1).tie_calls == 1
    tie_prompt = S.last_user(scripted_llm.requests_for("experiments/tie_break")[0])
    assert j.stage_record(1).best == re.findall(r"Run (\w+):", tie_prompt)[-1]


def _cwd_inside(path: Path) -> list[int]:
    hits = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if Path(os.readlink(f"/proc/{pid}/cwd")).is_relative_to(path):
                    hits.append(int(pid))
            except OSError:
                continue
    return hits


@pytest.mark.slow
def test_kill_9_mid_search_then_resume(scripted_llm: ScriptedServer, llm_settings: Settings) -> None:
    """Slow (~20 s): a real manager process is killed with SIGKILL mid-search and a second one resumes."""
    _script(scripted_llm, S.Coder(sleep=0.6))
    run = create_run(llm_settings, "kill")
    runlock.release_all()  # the run is made here and driven by the processes below, as a second command would
    cmd = [sys.executable, str(TESTS / "exp_driver.py"), str(run.path), scripted_llm.base_url]
    env = {**os.environ, "PYTHONPATH": str(TESTS.parent)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    journal = run.file("journal.json")
    deadline = time.monotonic() + 120
    snapshot: Journal | None = None
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.is_file():
            j = Journal.load(journal)
            if len(j.done_nodes()) >= 4 and any(n.status == "running" for n in j.nodes):
                snapshot = j
                break
        time.sleep(0.05)
    assert snapshot is not None, proc.communicate(timeout=5)[0] if proc.poll() is not None else "no progress"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    # A request the killed process was sending arrives torn; that is the kill, not a scripting error.
    scripted_llm.violations[:] = [v for v in scripted_llm.violations if not v.startswith("bad request")]
    killed = Journal.load(journal)
    done_before = {n.id: n.finished_at for n in killed.nodes if n.status == "done"}
    interrupted = [n.id for n in killed.nodes if n.status != "done"]
    assert len(done_before) >= 4 and interrupted

    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert resumed.stdout.startswith("complete")
    final = Journal.load(journal)
    assert all(n.status == "done" for n in final.nodes)
    for node_id, finished in done_before.items():
        assert final.get(node_id).finished_at == finished  # not lost, not re-run
        assert _runs(run, node_id) == 1
    for node_id in interrupted:
        assert final.get(node_id).status == "done" and _runs(run, node_id) == 1  # re-run in a fresh dir
    assert [r.status for r in final.stages] == ["done"] * 4
    deadline = time.monotonic() + 10
    while _cwd_inside(run.path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _cwd_inside(run.path) == []  # no experiment process left behind


def test_ucb_bandit_over_two_coder_models(scripted_llm: ScriptedServer, llm_settings: Settings) -> None:
    _script(scripted_llm, S.Coder(buggy_drafts=99))
    settings = S.search_settings(
        llm_settings, num_drafts=4, debug_prob=0.0, stage_iters=[4, 1, 1, 1], coder_models=["m-one", "m-two"]
    )
    run = create_run(settings, "bandit")
    _, outcome = _search(settings, run, stages=(1, 1))
    j = Journal.load(run.file("journal.json"))
    assert outcome.status == "no_working_implementation"
    assert [n.model for n in j.nodes] == ["m-one", "m-two", "m-one", "m-two"]  # untried first, then UCB ties
    sent = [r.body["model"] for r in scripted_llm.requests_for("coder/draft")]
    assert sent[0] == "m-one" and set(sent) == {"m-one", "m-two"}
    assert set(j.coder_stats) == {"m-one", "m-two"}


def test_stage3_ends_when_the_model_judges_it_complete(scripted_llm: ScriptedServer, llm_settings: Settings) -> None:
    _script(scripted_llm)
    scripted_llm.always("experiments/stage_judge", lambda r: json_reply({"complete": True, "reason": "covered"}))
    settings = S.search_settings(
        llm_settings, num_drafts=1, debug_prob=1.0, stage_iters=[3, 1, 6, 1], num_seeds=1, patience=9
    )
    run = create_run(settings, "judge")
    _, outcome = _search(settings, run, stages=(1, 3))
    j = Journal.load(run.file("journal.json"))
    rec = j.stage_record(3)
    assert outcome.status == "complete" and rec.status == "done"
    assert rec.reason == "judged complete by the model: covered" and rec.judge_calls == 1
    assert len([n for n in j.stage_nodes(3) if n.kind == "improve"]) == 3  # judged after half the cap of 6
    assert len(scripted_llm.requests_for("experiments/stage_judge")) == 1


def test_review_is_one_call_and_can_mark_a_node_buggy(scripted_llm: ScriptedServer, llm_settings: Settings) -> None:
    _script(scripted_llm, S.Coder(buggy_drafts=0))
    scripted_llm.script(
        "feedback/review",
        json_reply({"is_buggy": True, "bug_reason": "loss is constant", "summary": "flat", "critique": "fix"}),
        S.text("not json"),  # no repair round: the node keeps its exec-based verdict
    )
    settings = S.search_settings(llm_settings, num_drafts=2, debug_prob=0.0, stage_iters=[2, 1, 1, 1], num_seeds=1)
    run = create_run(settings, "review")
    _, outcome = _search(settings, run, stages=(1, 1))
    j = Journal.load(run.file("journal.json"))
    first, second = j.nodes[0], j.nodes[1]
    assert first.is_buggy and first.bug_reason == "review: loss is constant" and first.critique == "fix"
    assert second.is_good and second.critique == "" and j.stage_record(1).best == second.id
    assert outcome.status == "complete" and [n.kind for n in j.nodes] == ["draft", "draft", "seed"]
    reviews = [(c.context["node"], c.outcome) for c in read_ledger(run.ledger_path) if c.prompt == "feedback/review"]
    assert reviews == [(first.id, "ok"), (second.id, "ok"), (second.id, "invalid")]  # one call each, no repair
    assert len(scripted_llm.requests_for("feedback/review")) == 2
