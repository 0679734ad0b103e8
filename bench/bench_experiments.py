"""Benchmark of the experiment manager with the scripted model and the real local sandbox.

    python bench/bench_experiments.py [--json]

Figures:
- model calls and prompt tokens per node over a full four-stage search (scripted model; the goal is <= 2.5 calls
  per node on average), from the run's ledger;
- parallel efficiency with 2 workers on fixed-length experiments (each program sleeps ``--sleep`` seconds):
  T(1 worker) / (2 * T(2 workers)) over stage 2's tuning nodes (goal >= 0.9);
- manager overhead per node in ms: wall time minus sandbox run time minus model latency, per node (1 worker).

``--embedded N`` instead measures the embedded model (slow): N debug calls in patch mode and N in full-rewrite
mode on one buggy program: patches applied, programs that compile, programs that run and log their metric.

The scripted coder and the tiny numpy experiment are the test suite's (``tests/exp_support.py``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import exp_support as S  # noqa: E402

from agents.experiments.journal import Journal  # noqa: E402
from agents.experiments.manager import ExperimentManager  # noqa: E402
from agents.llm import LLM, Ledger, read_ledger  # noqa: E402
from agents.rundir import create_run  # noqa: E402
from agents.settings import ROLES, Settings, load_settings  # noqa: E402
from agents.testing import (  # noqa: E402
    RecordedRequest,
    Reply,
    ScriptedServer,
    json_reply,
)


def _settings(server: ScriptedServer, workspace: Path, **search: Any) -> Settings:
    ov = [f"models.{r}.base_url={server.base_url}" for r in ROLES] + [f'models.{r}.model="m"' for r in ROLES]
    ov += ["llm.backoff_base_s=0", "llm.backoff_max_s=0", "llm.request_timeout_s=30"]
    return S.search_settings(load_settings(None, ov, workspace=workspace), **search)


def _script(server: ScriptedServer, coder: S.Coder, tunes: list[str] | None = None) -> None:
    coder.install(server)
    server.always("feedback/review", S.review_ok)
    server.always("experiments/tie_break", S.tie_last)
    server.always("experiments/stage_judge", lambda r: json_reply({"complete": False, "reason": "go on"}))
    if tunes is None:
        server.always("experiments/proposals", S.proposals)
    else:

        def props(req: RecordedRequest) -> Reply:
            return json_reply({"proposals": tunes if "hyperparameter" in S.last_user(req) else ["no momentum"]})

        server.always("experiments/proposals", props)


def _search(settings: Settings, title: str, stages: tuple[int, int] = (1, 4)) -> tuple[Journal, Path, float]:
    run = create_run(settings, title)
    llm = LLM(settings, Ledger(run.ledger_path))
    t0 = time.monotonic()
    manager = ExperimentManager(run, settings, llm, S.sandbox(), S.IDEA, stages=stages)
    outcome = manager.run()
    wall = time.monotonic() - t0
    if outcome.status != "complete":
        raise SystemExit(f"benchmark search did not complete: {outcome.message}")
    return manager.journal, run.path, wall


def calls_per_node(work: Path) -> dict[str, Any]:
    with ScriptedServer() as server:
        _script(server, S.Coder(fail_patch_for=("setting: steps=40",)))
        settings = _settings(
            server, work, num_drafts=2, debug_prob=1.0, stage_iters=[4, 3, 5, 2], num_seeds=2, patience=9
        )
        journal, run, wall = _search(settings, "calls")
    calls = [c for c in read_ledger(run / "llm_calls.jsonl") if c.outcome != "invalid"]  # invalid: a note, not a call
    nodes = len(journal.nodes)
    work_nodes = [n for n in journal.nodes if n.kind != "seed"]
    exec_s = sum(n.exec.duration_s for n in journal.nodes if n.exec)
    llm_s = sum(c.latency_s for c in calls)
    return {
        "nodes": nodes,
        "work_nodes (non-seed)": len(work_nodes),
        "model_calls": len(calls),
        "calls_per_node": round(len(calls) / nodes, 3),
        "calls_per_non_seed_node": round(len(calls) / len(work_nodes), 3),
        "prompt_tokens_per_node": round(sum(c.tokens_in for c in calls) / nodes, 1),
        "prompt_tokens_per_non_seed_node": round(sum(c.tokens_in for c in calls) / len(work_nodes), 1),
        "calls_by_prompt": {p: sum(1 for c in calls if c.prompt == p) for p in sorted({c.prompt for c in calls})},
        "overhead_ms_per_node": round(1000 * (wall - exec_s - llm_s) / nodes, 1),
        "wall_s": round(wall, 2),
    }


def parallel_efficiency(work: Path, sleep: float, n_tunes: int) -> dict[str, Any]:
    tunes = [f"steps={20 + i}" for i in range(n_tunes)]
    spans = {}
    for workers in (1, 2):
        with ScriptedServer() as server:
            _script(server, S.Coder(sleep=sleep, buggy_drafts=0), tunes)
            settings = _settings(
                server, work, num_drafts=1, stage_iters=[1, n_tunes, 1, 1], num_seeds=1, workers=workers
            )
            journal, _, _ = _search(settings, f"parallel{workers}", stages=(1, 2))
        nodes = [n for n in journal.nodes if n.kind == "tune"]
        assert len(nodes) == n_tunes, [n.kind for n in journal.nodes]
        spans[workers] = max(n.finished_at or 0 for n in nodes) - min(n.created_at for n in nodes)
    return {
        "tune_nodes": n_tunes,
        "sleep_s": sleep,
        "t_1_worker_s": round(spans[1], 2),
        "t_2_workers_s": round(spans[2], 2),
        "parallel_efficiency_2_workers": round(spans[1] / (2 * spans[2]), 3),
    }


def embedded_rates(work: Path, tries: int) -> dict[str, Any]:
    """Patch-application and valid-program rates of the embedded model on one debug task (a NameError)."""
    from agents.experiments.coder import Coder
    from agents.experiments.executor import execute
    from agents.experiments.journal import ExecResult, Node
    from agents.experiments.policy import Action

    out: dict[str, Any] = {}
    for mode in ("patch", "full"):
        settings = load_settings(
            None,
            ["models.coder.max_tokens=700", "llm.request_timeout_s=1800", "llm.max_retries=0"],
            workspace=work,
        )
        settings = S.search_settings(settings, edit_mode=mode)
        run = create_run(settings, f"embedded-{mode}")
        journal = Journal(idea=S.IDEA)
        parent = journal.add(
            Node(
                stage=1,
                kind="draft",
                status="done",
                code=S.program(bug=True),
                is_buggy=True,
                bug_reason="NameError: name 'undefined_name' is not defined",
                exec=ExecResult(exit_code=1, error="NameError: name 'undefined_name' is not defined"),
            )
        )
        coder = Coder(LLM(settings, Ledger(run.ledger_path)), settings, journal)
        good = seconds = 0.0
        for i in range(tries):
            t0 = time.monotonic()
            prop = coder.write(Action("debug", 1, parent=parent.id), settings.models.coder.model, f"{mode}{i}")
            seconds += time.monotonic() - t0
            node = Node(stage=1, kind="debug", code=prop.code)
            execute(S.sandbox(60), run.path, node, 60)
            good += node.is_good
        st = journal.coder_stats[settings.models.coder.model]
        out[mode] = {
            "tries": tries,
            "patches_applied": f"{st.patches_applied}/{st.patch_attempts}",
            "valid_programs": f"{st.valid_programs}/{st.programs}",
            "good_nodes": f"{int(good)}/{tries}",
            "seconds_per_node": round(seconds / tries, 1),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--sleep", type=float, default=2.0, help="length of each fixed-length experiment (s)")
    parser.add_argument("--tunes", type=int, default=8, help="fixed-length nodes per parallel run")
    parser.add_argument("--embedded", type=int, default=0, help="also measure the embedded model (N tries)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.embedded:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps({"embedded_debug_task": embedded_rates(Path(tmp), args.embedded)}, indent=1))
        return
    with tempfile.TemporaryDirectory() as tmp:
        figures = {
            "calls": calls_per_node(Path(tmp) / "a"),
            "parallel": parallel_efficiency(Path(tmp) / "b", args.sleep, args.tunes),
        }
    if args.json:
        print(json.dumps(figures, indent=1))
        return
    c, p = figures["calls"], figures["parallel"]
    print(
        f"four-stage scripted search: {c['nodes']} nodes ({c['work_nodes (non-seed)']} non-seed), wall {c['wall_s']} s"
    )
    print(f"  model calls per node        {c['calls_per_node']}  (per non-seed node {c['calls_per_non_seed_node']})")
    tok, tok_work = c["prompt_tokens_per_node"], c["prompt_tokens_per_non_seed_node"]
    print(f"  prompt tokens per node      {tok}  (per non-seed node {tok_work})")
    print(f"  calls by prompt             {c['calls_by_prompt']}")
    print(f"  manager overhead per node   {c['overhead_ms_per_node']} ms")
    print(f"parallel: {p['tune_nodes']} nodes of {p['sleep_s']} s each")
    print(f"  1 worker {p['t_1_worker_s']} s, 2 workers {p['t_2_workers_s']} s")
    print(f"  parallel efficiency (2 workers)  {p['parallel_efficiency_2_workers']}")


if __name__ == "__main__":
    main()
