"""Ray workers killed mid-node on a real cluster (a head and two worker nodes started by the fixture): the node
is re-run on the other worker and the search loses nothing; with no re-runs allowed the node fails cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import exp_support as S
import pytest

from agents import runlock
from agents.experiments.journal import Journal
from agents.experiments.manager import ExperimentManager
from agents.llm import LLM, Ledger
from agents.rundir import create_run
from agents.scale import make_executor
from agents.settings import Settings
from agents.testing import ScriptedServer, json_reply
from agents.testing.ray_cluster import RayCluster

pytestmark = pytest.mark.slow
TESTS = Path(__file__).resolve().parent


def _kill_when_running(cluster: RayCluster, needle: str, killed: list[int], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        i = cluster.worker_running(needle)
        if i is not None:
            time.sleep(0.5)  # well inside the program's run
            cluster.kill_worker(i)
            killed.append(i)
            return
        time.sleep(0.1)


def test_the_orchestrator_killed_mid_search_resumes_through_ray(
    scripted_llm: ScriptedServer, ray_cluster: RayCluster, tmp_path: Path, llm_settings: Settings
) -> None:
    """kill -9 of the process driving a Ray search (its tasks die with it), then a second process resumes."""
    S.Coder(sleep=0.6).install(scripted_llm)
    scripted_llm.always("feedback/review", S.review_ok)
    scripted_llm.always("experiments/proposals", S.proposals)
    scripted_llm.always("experiments/tie_break", S.tie_last)
    scripted_llm.always("experiments/stage_judge", lambda r: json_reply({"complete": False, "reason": "go on"}))
    run = create_run(llm_settings, "ray orchestrator kill")
    runlock.release_all()  # the run is made here and driven by the processes below, as a second command would
    cmd = [sys.executable, str(TESTS / "exp_driver.py"), str(run.path), scripted_llm.base_url, ray_cluster.address]
    env = {**os.environ, "PYTHONPATH": str(TESTS.parent)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    journal = run.file("journal.json")
    deadline = time.monotonic() + 150
    seen = False
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.is_file():
            j = Journal.load(journal)
            if len(j.done_nodes()) >= 3 and any(n.status == "running" for n in j.nodes):
                seen = True
                break
        time.sleep(0.05)
    assert seen, proc.communicate(timeout=5)[0] if proc.poll() is not None else "no progress"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    scripted_llm.violations[:] = [v for v in scripted_llm.violations if not v.startswith("bad request")]
    killed = Journal.load(journal)
    done_before = {n.id: n.finished_at for n in killed.nodes if n.status == "done"}
    interrupted = [n.id for n in killed.nodes if n.status != "done"]
    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert resumed.stdout.strip().splitlines()[-1].startswith("complete")
    final = Journal.load(journal)
    assert all(n.status == "done" for n in final.nodes)
    for node_id, finished in done_before.items():
        assert final.get(node_id).finished_at == finished  # kept, not run again
    for node_id in interrupted:
        assert final.get(node_id).status == "done"
    assert [r.status for r in final.stages] == ["done"] * 4


def test_a_worker_killed_mid_node_is_rerun_and_the_search_loses_nothing(
    scripted_llm: ScriptedServer, ray_settings: Settings, ray_cluster: RayCluster
) -> None:
    S.Coder(sleep=3.0, buggy_drafts=0).install(scripted_llm)
    scripted_llm.always("feedback/review", S.review_ok)
    scripted_llm.always("experiments/tie_break", S.tie_last)
    settings = S.search_settings(ray_settings, num_drafts=2, workers=2, stage_iters=[2, 1, 1, 1], num_seeds=1)
    run = create_run(settings, "ray kill")
    manager = ExperimentManager(
        run, settings, LLM(settings, Ledger(run.ledger_path)), make_executor(settings), S.IDEA, stages=(1, 1)
    )
    killed: list[int] = []
    killer = threading.Thread(target=_kill_when_running, args=(ray_cluster, "code.py", killed))
    killer.start()
    outcome = manager.run()
    killer.join(timeout=70)
    assert killed, "no program was seen running on a worker"
    j = Journal.load(run.file("journal.json"))
    assert outcome.status == "complete"
    drafts = [n for n in j.nodes if n.kind == "draft"]
    assert len(drafts) == 2 and all(n.status == "done" and n.is_good for n in drafts), [n.bug_reason for n in drafts]
    for n in drafts:  # the re-run's outputs came back: one run each in the returned directory
        assert len((run.path / "nodes" / n.id / "runs.log").read_text().splitlines()) == 1


def test_with_no_reruns_a_killed_worker_fails_the_node_cleanly(
    scripted_llm: ScriptedServer, ray_settings: Settings, ray_cluster: RayCluster
) -> None:
    S.Coder(sleep=20.0, buggy_drafts=0).install(scripted_llm)
    scripted_llm.always("experiments/stage_judge", lambda r: json_reply({"complete": False, "reason": "go on"}))
    no_retry = ray_settings.ray.model_copy(update={"max_retries": 0})
    settings = S.search_settings(
        ray_settings.model_copy(update={"ray": no_retry}), num_drafts=1, workers=1, stage_iters=[1, 1, 1, 1]
    )
    run = create_run(settings, "ray kill no retry")
    manager = ExperimentManager(
        run, settings, LLM(settings, Ledger(run.ledger_path)), make_executor(settings), S.IDEA, stages=(1, 1)
    )
    killed: list[int] = []
    killer = threading.Thread(target=_kill_when_running, args=(ray_cluster, "code.py", killed))
    killer.start()
    t0 = time.monotonic()
    outcome = manager.run()
    killer.join(timeout=70)
    assert killed and time.monotonic() - t0 < 20  # failed when the worker died, not at the program's end
    j = Journal.load(run.file("journal.json"))
    assert outcome.status == "no_working_implementation"
    (node,) = j.nodes
    assert node.status == "done" and node.is_buggy
    assert "Ray worker running this node died" in node.bug_reason, node.bug_reason
