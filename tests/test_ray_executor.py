"""The Ray executor on a real Ray cluster on this machine (a head and two worker nodes started by the fixture):
a program's files go to a worker and its outputs come back; a scripted search runs its nodes through Ray."""

from __future__ import annotations

import time
from pathlib import Path

import exp_support as S
import pytest

from agents.errors import ConfigError
from agents.experiments.journal import Journal
from agents.experiments.manager import ExperimentManager
from agents.llm import LLM, Ledger
from agents.rundir import create_run
from agents.scale import make_executor
from agents.scale.ray_executor import RayExecutor
from agents.settings import Settings
from agents.testing import ScriptedServer, json_reply
from agents.testing.ray_cluster import RayCluster

pytestmark = pytest.mark.slow

PROGRAM = """import os, pathlib, socket
print("hello from", os.getpid())
pathlib.Path("out").mkdir()
pathlib.Path("out/result.txt").write_text(open("input.txt").read().upper())
"""


def test_a_program_runs_on_a_worker_and_its_files_come_back(ray_settings: Settings, tmp_path: Path) -> None:
    ex = make_executor(ray_settings)
    assert isinstance(ex, RayExecutor)
    work = tmp_path / "node"
    work.mkdir()
    (work / "code.py").write_text(PROGRAM)
    (work / "input.txt").write_text("travels both ways")
    res = ex.run(work, ["python", "code.py"], timeout_s=30, env={"EXPERIMENT_SEED": "1"})
    assert res.exit_code == 0, res.stderr
    assert res.stdout.startswith("hello from")
    assert (work / "out" / "result.txt").read_text() == "TRAVELS BOTH WAYS"
    assert ex.bytes_sent > 0 and ex.bytes_received > 0
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "code.py").write_text("raise SystemExit('no data here')\n")
    res = ex.run(bad, ["python", "code.py"], timeout_s=30)
    assert res.exit_code == 1 and "no data here" in res.stderr  # the program's failure, as locally


def test_two_nodes_run_on_two_workers_at_once(ray_settings: Settings, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ex = make_executor(ray_settings)
    dirs = []
    for i in range(2):
        d = tmp_path / f"n{i}"
        d.mkdir()
        (d / "code.py").write_text("import time\nt = time.time()\ntime.sleep(2)\nprint(t, time.time())\n")
        dirs.append(d)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda d: ex.run(d, ["python", "code.py"], timeout_s=60), dirs))
    assert all(r.exit_code == 0 for r in results), [r.stderr for r in results]
    (a0, a1), (b0, b1) = (map(float, r.stdout.split()) for r in results)
    assert a0 < b1 and b0 < a1, "the two programs did not overlap: one worker ran both"


def test_scripted_search_through_ray(
    scripted_llm: ScriptedServer, ray_settings: Settings, ray_cluster: RayCluster
) -> None:
    coder = S.Coder(buggy_drafts=2)  # two workers write two drafts at once: both buggy, both debugged
    coder.install(scripted_llm)
    scripted_llm.always("feedback/review", S.review_ok)
    scripted_llm.always("experiments/proposals", S.proposals)
    scripted_llm.always("experiments/tie_break", S.tie_last)
    scripted_llm.always("experiments/stage_judge", lambda r: json_reply({"complete": False, "reason": "go on"}))
    settings = S.search_settings(ray_settings, num_drafts=1, debug_prob=1.0, stage_iters=[3, 2, 1, 1], workers=2)
    run = create_run(settings, "ray search")
    ex = make_executor(settings)
    manager = ExperimentManager(run, settings, LLM(settings, Ledger(run.ledger_path)), ex, S.IDEA, stages=(1, 2))
    outcome = manager.run()
    j = Journal.load(run.file("journal.json"))
    assert outcome.status == "complete"
    assert [(r.stage, r.status) for r in j.stages] == [(1, "done"), (2, "done")]
    buggy = [n for n in j.nodes if n.kind == "draft" and n.is_buggy]
    assert buggy and "undefined_name" in buggy[0].bug_reason  # the program's error came back from the worker
    assert any(n.is_good for n in j.nodes if n.stage == 1)
    for n in j.nodes:
        d = run.path / "nodes" / n.id
        assert n.status == "done"
        if n.is_good:  # the outputs written on the worker are in the run directory
            assert (d / "metrics.json").is_file() and (d / "results").is_dir() and (d / "runs.log").is_file()
    assert {n.kind for n in j.nodes} >= {"draft", "debug", "tune", "seed"}
    assert ex.bytes_received > 0


def test_a_ray_client_address_works(ray_settings: Settings, ray_cluster: RayCluster, tmp_path: Path) -> None:
    import ray

    ray.shutdown()  # the executor connects itself, through the head's Ray Client server (ray://)
    try:
        settings = ray_settings.model_copy(
            update={"ray": ray_settings.ray.model_copy(update={"address": ray_cluster.client_address})}
        )
        ex = make_executor(settings)
        assert isinstance(ex, RayExecutor)
        (tmp_path / "code.py").write_text("open('out.txt', 'w').write('via the client')\n")
        res = ex.run(tmp_path, ["python", "code.py"], timeout_s=30)
        assert res.exit_code == 0, res.stderr
        assert (tmp_path / "out.txt").read_text() == "via the client"
        ex.close()
    finally:
        ray.shutdown()
        ray.init(address=ray_cluster.address, log_to_driver=False, configure_logging=False)


def test_a_bad_address_is_one_clear_message(llm_settings: Settings, ray_cluster: RayCluster) -> None:
    import ray

    ray.shutdown()  # not connected: the executor must connect itself (and fail, quickly)
    try:
        bad = llm_settings.model_copy(
            update={"executor": "ray", "ray": llm_settings.ray.model_copy(update={"address": "127.0.0.1:1"})}
        )
        t0 = time.monotonic()
        with pytest.raises(ConfigError, match="ray.address='127.0.0.1:1'"):
            make_executor(bad)
        assert time.monotonic() - t0 < 10
    finally:
        ray.init(address=ray_cluster.address, log_to_driver=False, configure_logging=False)


def test_a_search_stopped_by_its_budget_resumes_through_ray(
    scripted_llm: ScriptedServer, ray_settings: Settings
) -> None:
    from agents.errors import BudgetExceeded

    S.Coder().install(scripted_llm)
    scripted_llm.always("feedback/review", S.review_ok)
    scripted_llm.always("experiments/tie_break", S.tie_last)
    scripted_llm.always("experiments/proposals", S.proposals)
    scripted_llm.always("experiments/stage_judge", lambda r: json_reply({"complete": False, "reason": "go on"}))
    search = {"num_drafts": 1, "debug_prob": 1.0, "stage_iters": [3, 1, 1, 1], "num_seeds": 1, "workers": 2}
    tight = S.search_settings(ray_settings, **search)
    tight = tight.model_copy(update={"budget": tight.budget.model_copy(update={"max_tokens": 4000})})
    run = create_run(tight, "ray resume")
    with pytest.raises(BudgetExceeded):
        ExperimentManager(run, tight, LLM(tight, Ledger(run.ledger_path)), make_executor(tight), S.IDEA).run()
    before = Journal.load(run.file("journal.json"))
    assert before.nodes and all(n.status == "done" for n in before.nodes)
    settings = S.search_settings(ray_settings, **search)
    manager = ExperimentManager(run, settings, LLM(settings, Ledger(run.ledger_path)), make_executor(settings))
    outcome = manager.run()
    after = Journal.load(run.file("journal.json"))
    assert outcome.status == "complete" and len(after.nodes) > len(before.nodes)
    for n in before.nodes:  # finished nodes are kept as they were, not run again
        assert after.get(n.id).finished_at == n.finished_at


class _FlakyClient:
    """ray.init that fails the way a loaded head's Ray Client proxy does, ``failures`` times."""

    def __init__(self, failures: int, message: str = "Initialization failure from server:\nTraceback ...") -> None:
        self.failures, self.message, self.calls = failures, message, 0

    def init(self, **kwargs: object) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionAbortedError(self.message)


def test_a_ray_client_session_that_failed_to_start_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from agents.scale import ray_executor

    monkeypatch.setattr(ray_executor.time, "sleep", lambda s: None)
    flaky = _FlakyClient(2)
    ray_executor._init_remote(flaky, "ray://127.0.0.1:10001", {})
    assert flaky.calls == 3  # two failures, then the session started
    with pytest.raises(ConnectionAbortedError):  # bounded: the third failure is the caller's
        ray_executor._init_remote(_FlakyClient(3), "ray://127.0.0.1:10001", {})
    once = _FlakyClient(1, "connection refused")  # any other failure is not retried
    with pytest.raises(ConnectionAbortedError):
        ray_executor._init_remote(once, "ray://127.0.0.1:10001", {})
    gcs = _FlakyClient(1)  # nor a GCS address (no client proxy there)
    with pytest.raises(ConnectionAbortedError):
        ray_executor._init_remote(gcs, "127.0.0.1:6379", {})
    assert once.calls == gcs.calls == 1


def _without_env(settings: Settings, tmp_path: Path) -> Settings:
    """The workers' sandbox points at an experiment environment no machine has (a worker that was never set up)."""
    sandbox = settings.sandbox.model_copy(update={"python_env": tmp_path / "never-built-env"})
    return settings.model_copy(update={"sandbox": sandbox})


def test_workers_without_the_environment_are_named_before_any_program(ray_settings: Settings, tmp_path: Path) -> None:
    t0 = time.monotonic()
    with pytest.raises(ConfigError) as err:
        make_executor(_without_env(ray_settings, tmp_path))
    text = str(err.value)
    assert text.startswith("2 of 2 Ray worker node(s) cannot run experiment programs:")  # not the CPU-less head
    assert text.count("never-built-env is missing or outdated") == 2 and "shoal sandbox env --build" in text
    assert "Traceback" not in text and "ray::" not in text
    assert time.monotonic() - t0 < 60
    make_executor(ray_settings).close()  # the same cluster with the environment passes (and stays connected)


def test_a_worker_that_joined_after_the_check_is_one_message(
    ray_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agents.scale import ray_executor

    monkeypatch.setattr(ray_executor, "check_workers", lambda *a, **k: None)  # as if no node was there yet
    ex = make_executor(_without_env(ray_settings, tmp_path))
    (tmp_path / "code.py").write_text("print('never runs')\n")
    with pytest.raises(ConfigError, match="a Ray worker cannot run experiment programs: the experiment environment"):
        ex.run(tmp_path, ["python", "code.py"], timeout_s=30)


def test_a_worker_where_shoal_fails_is_named(ray_settings: Settings, ray_cluster: RayCluster) -> None:
    import ray

    from agents.scale.ray_workers import check_workers

    failed = r"Shoal's code failed there \(ValidationError: 1 validation error for SandboxSettings\)"
    with pytest.raises(ConfigError, match=failed):
        check_workers(ray, ray_settings.ray, "{not sandbox settings")


def test_only_nodes_that_can_take_a_task_are_asked() -> None:
    from agents.scale.ray_workers import fits
    from agents.settings import RaySettings

    one_cpu = RaySettings(num_cpus=1.0)
    assert fits({"CPU": 2.0}, one_cpu) and not fits({"CPU": 0.0}, one_cpu) and not fits({}, one_cpu)
    gpu = RaySettings(num_cpus=1.0, num_gpus=1.0, memory_mb=1024)
    assert not fits({"CPU": 4.0, "memory": 8 * 2**30}, gpu)
    assert fits({"CPU": 4.0, "GPU": 1.0, "memory": 8 * 2**30}, gpu)
    assert not fits({"CPU": 4.0, "GPU": 1.0, "memory": 2**29}, gpu)


def test_shoal_run_checks_the_cluster_before_any_model_call(
    ray_settings: Settings, ray_cluster: RayCluster, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from agents.cli.main import app

    config = tmp_path / "shoal.toml"
    config.write_text(
        f'executor = "ray"\n[ray]\naddress = "{ray_cluster.address}"\n'
        f'[sandbox]\nbackend = "local"\npython_env = "{tmp_path / "never-built-env"}"\n'
    )
    ws = tmp_path / "ws"
    result = CliRunner().invoke(app, ["--config", str(config), "--workspace", str(ws), "run", "--topic", "t"])
    assert result.exit_code != 0
    text = " ".join(result.output.split())
    assert "Ray worker node(s) cannot run experiment programs" in text and "Traceback" not in text
    assert not ws.exists() or not any(ws.iterdir())  # no run directory left behind


def test_doctor_asks_the_cluster_and_its_workers(ray_settings: Settings, tmp_path: Path) -> None:
    from agents.doctor import check_ray

    (ok,) = check_ray(ray_settings)
    assert ok.status == "ok" and ok.detail.endswith(": 2 worker node(s) can run programs")
    (bad,) = check_ray(_without_env(ray_settings, tmp_path))
    assert bad.status == "fail" and bad.detail == "2 of 2 Ray worker node(s) cannot run experiment programs:"
    assert "never-built-env is missing or outdated" in bad.fix and "shoal sandbox env --build" in bad.fix
    big = ray_settings.model_copy(update={"ray": ray_settings.ray.model_copy(update={"num_cpus": 8.0})})
    (none,) = check_ray(big)
    assert none.status == "warn" and "no live node has the CPUs" in none.detail
    assert check_ray(ray_settings.model_copy(update={"executor": "local"})) == []
