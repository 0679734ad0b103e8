"""The evolve loop against the scripted model server and the real sandbox: islands, migration, selection,
novelty rejection, the bandit, the scratchpad, evaluator failures and repairs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from agents.evolve import evolve
from agents.evolve.population import Population
from agents.testing import ScriptedServer, json_reply, text
from tests.evolve_support import (
    Coder,
    constant_embed,
    first_user,
    hash_embed,
    script_all,
    settings_for,
    write_task,
)


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_islands_migration_scratchpad_and_files(tmp_path: Path) -> None:
    with ScriptedServer() as server:
        script_all(server, Coder(step=7, unique=True))
        settings = settings_for(
            server,
            tmp_path,
            "evolve.max_samples=8",
            "evolve.islands=2",
            "evolve.migration_interval=3",
            "evolve.scratchpad_every=4",
            "evolve.operators={rewrite = 1.0, lines = 1.0, diff = 1.0, crossover = 1.0}",
        )
        prog, ev = write_task(tmp_path)
        run, outcome = evolve(prog, ev, settings, embed=hash_embed)
        server.check()
        # the initial program was evaluated before any model call
        first_request = server.requests[0].time
        initial = json.loads((run.evolve_dir / "programs" / "p0000" / "metrics.json").read_text())
        assert initial["combined_score"] == 1.0
        assert (run.evolve_dir / "programs" / "p0000" / "program.py").stat().st_mtime <= first_request
    assert outcome.status == "complete"
    records = _lines(run.evolve_dir / "programs.jsonl")
    samples = _lines(run.evolve_dir / "samples.jsonl")
    assert len(samples) == 8
    assert Counter(s["island"] for s in samples) == {0: 4, 1: 4}  # islands take turns
    evaluated = [r for r in records if r["kind"] not in ("initial", "migrant")]
    assert len(evaluated) == 8 and all(r["correct"] for r in evaluated), [
        (s["kind"], s["outcome"], s["detail"]) for s in samples
    ]
    # every program has its code, diff and metrics on disk
    for r in evaluated:
        d = run.evolve_dir / "programs" / r["id"]
        assert (d / "program.py").is_file() and (d / "metrics.json").is_file()
        assert "+    base =" in (d / "diff.patch").read_text()
    # the initial program is copied to island 1, and migrations happened after 3 and 6 evaluations
    migrants = [r for r in records if r["kind"] == "migrant"]
    assert migrants[0]["parent"] == "p0000" and migrants[0]["island"] == 1
    assert len(migrants) >= 2
    # scratchpad written after 4 and 8 evaluated programs; later prompts carry its notes
    pads = _lines(run.evolve_dir / "scratchpad.jsonl")
    assert [p["at"] for p in pads] == [4, 8]
    edit_requests = [r for r in server.requests if r.prompt.startswith("evolve/") and "scratchpad" not in r.prompt]
    assert any("worked: raising base" in first_user(r) for r in edit_requests[5:])
    assert not any("worked: raising base" in first_user(r) for r in edit_requests[:4])
    # every operator was used and the mix adapted only from success counts (all succeeded)
    assert len({s["kind"] for s in samples}) >= 3
    assert outcome.stats["apply_rate"] == 1.0 and outcome.stats["valid_rate"] == 1.0
    assert outcome.stats["best"] > 1.0
    # private metrics never reach a prompt
    assert not any('"secret"' in first_user(r) or "secret=" in first_user(r) for r in server.requests)


def test_invalid_candidate_goes_back_once_then_is_recorded(tmp_path: Path) -> None:
    with ScriptedServer() as server:
        server.always(
            "evolve/rewrite", text("PLAN: too far\n```python\ndef value():\n    base = 500\n    return base\n```")
        )
        server.always(
            "evolve/repair", text("PLAN: fixed\n```python\ndef value():\n    base = 90\n    return base\n```")
        )
        settings = settings_for(server, tmp_path, "evolve.max_samples=1", "evolve.operators={rewrite = 1.0}")
        prog, ev = write_task(tmp_path)
        run, outcome = evolve(prog, ev, settings, embed=hash_embed)
        server.check()
        repairs = server.requests_for("evolve/repair")
    assert len(repairs) == 1
    assert "value 500 is above 100" in repairs[0].messages[-1]["content"]
    assert outcome.stats["best"] == 90.0
    rec = next(r for r in _lines(run.evolve_dir / "programs.jsonl") if r["kind"] == "rewrite")
    assert rec["repaired"] is True and rec["correct"] is True


def test_unappliable_answers_are_repaired_then_discarded(tmp_path: Path) -> None:
    with ScriptedServer() as server:
        server.always("evolve/lines", text("PLAN: x\nI would change something."))
        server.always("evolve/repair", text("PLAN: x\nLINES 99-100\n```python\n    base = 3\n```"))
        settings = settings_for(server, tmp_path, "evolve.max_samples=2", "evolve.operators={lines = 1.0}")
        prog, ev = write_task(tmp_path)
        run, outcome = evolve(prog, ev, settings, embed=hash_embed)
        server.check()
        assert len(server.requests_for("evolve/repair")) == 2
        assert "no 'LINES a-b' line" in server.requests_for("evolve/repair")[0].messages[-1]["content"]
    samples = _lines(run.evolve_dir / "samples.jsonl")
    assert [s["outcome"] for s in samples] == ["not-applied", "not-applied"]
    assert "LINES 99-100" in samples[0]["detail"]
    assert outcome.stats["apply_rate"] == 0.0 and outcome.stats["best"] == 1.0
    assert (run.evolve_dir / "unapplied" / "s0001.md").is_file()


def test_candidate_crash_and_hang_are_data(tmp_path: Path) -> None:
    with ScriptedServer() as server:
        server.script(
            "evolve/rewrite",
            text("```python\ndef value():\n    raise RuntimeError('boom')\n```"),
            text("```python\ndef value():\n    import time\n    time.sleep(60)\n    return 2\n```"),
        )
        settings = settings_for(
            server, tmp_path, "evolve.max_samples=2", "evolve.repairs=0", "evolve.operators={rewrite = 1.0}"
        )
        settings.evolve.eval_timeout_s = 4
        prog, ev = write_task(tmp_path)
        run, outcome = evolve(prog, ev, settings, embed=hash_embed)
        server.check()
    recs = [r for r in _lines(run.evolve_dir / "programs.jsonl") if r["kind"] == "rewrite"]
    assert "RuntimeError: boom" in recs[0]["error"] and not recs[0]["correct"]
    assert "timed out after 4 s" in recs[1]["error"] and not recs[1]["correct"]
    assert outcome.stats["valid_rate"] == 0.0


def test_exact_duplicates_are_resampled_then_discarded(tmp_path: Path) -> None:
    with ScriptedServer() as server:
        script_all(server, Coder(same=True))
        settings = settings_for(
            server, tmp_path, "evolve.max_samples=1", "evolve.max_resamples=2", "evolve.operators={rewrite = 1.0}"
        )
        prog, ev = write_task(tmp_path)
        run, outcome = evolve(prog, ev, settings, embed=hash_embed)
        assert len(server.requests_for("evolve/rewrite")) == 3  # the first try and two resamples
        assert not server.requests_for("evolve/novelty_judge")  # exact copies need no judge
    (sample,) = _lines(run.evolve_dir / "samples.jsonl")
    assert sample["outcome"] == "duplicate" and sample["resamples"] == 2
    assert outcome.stats["evaluated"] == 0


def test_close_candidates_go_to_the_judge(tmp_path: Path) -> None:
    with ScriptedServer() as server:
        script_all(server, Coder(step=1))
        server.script("evolve/novelty_judge", json_reply({"novel": False, "reason": "one constant changed"}))
        settings = settings_for(
            server,
            tmp_path,
            "evolve.max_samples=1",
            "evolve.max_resamples=1",
            "evolve.novelty_threshold=0.9",
            "evolve.operators={rewrite = 1.0}",
        )
        prog, ev = write_task(tmp_path)
        run, _ = evolve(prog, ev, settings, embed=constant_embed)
        judged = server.requests_for("evolve/novelty_judge")
        assert len(judged) == 2  # rejected once, the resample judged novel
        assert len(server.requests_for("evolve/rewrite")) == 2
        assert "base = 1" in first_user(judged[0]) and "base = 2" in first_user(judged[0])
    (sample,) = _lines(run.evolve_dir / "samples.jsonl")
    assert sample["resamples"] == 1 and sample["outcome"] == "evaluated"
    assert "one constant changed" in sample["detail"] or sample["correct"]


def test_bandit_prefers_the_model_that_improves(tmp_path: Path) -> None:
    with ScriptedServer(models=("good", "bad")) as server:
        good = Coder(step=3)

        def answer(req):  # type: ignore[no-untyped-def]
            if req.body.get("model") == "bad":
                return text("```python\ndef value():\n    return 1000\n```")
            return good(req)

        server.always("evolve/rewrite", answer)
        settings = settings_for(
            server,
            tmp_path,
            "evolve.max_samples=12",
            "evolve.repairs=0",
            'evolve.models=["good", "bad"]',
            "evolve.ucb_c=0.3",
            "evolve.operators={rewrite = 1.0}",
        )
        prog, ev = write_task(tmp_path)
        run, _ = evolve(prog, ev, settings, embed=hash_embed)
        pulls = Counter(r.body.get("model") for r in server.requests_for("evolve/rewrite"))
    assert pulls["good"] >= 9 and pulls["bad"] >= 1
    pop = Population.load(run.evolve_dir, 2, 20)
    assert pop.model_stats(["good", "bad"])["bad"][1] == 0.0


@pytest.mark.parametrize("policy", ["hill_climbing", "power_law", "weighted"])
def test_parent_selection_policies_run(tmp_path: Path, policy: str) -> None:
    with ScriptedServer() as server:
        script_all(server, Coder(step=5))
        settings = settings_for(
            server, tmp_path, "evolve.max_samples=4", "evolve.islands=1", f"evolve.parent_selection={policy}",
            "evolve.operators={rewrite = 1.0}",
        )  # fmt: skip
        prog, ev = write_task(tmp_path)
        run, outcome = evolve(prog, ev, settings, embed=hash_embed)
    recs = [r for r in _lines(run.evolve_dir / "programs.jsonl") if r["kind"] == "rewrite"]
    if policy == "hill_climbing":  # always the best: a straight line of +5 steps
        assert [r["combined_score"] for r in recs] == [6.0, 11.0, 16.0, 21.0]
    assert outcome.stats["best"] >= 6.0


def test_budget_stop_then_resume_with_more(tmp_path: Path) -> None:
    from agents.evolve import make_engine
    from agents.rundir import open_run
    from agents.sandbox import make_sandbox

    with ScriptedServer() as server:
        script_all(server, Coder(step=2))
        settings = settings_for(server, tmp_path, "evolve.max_samples=6", "budget.max_tokens=2500",
                                "evolve.operators={rewrite = 1.0}")  # fmt: skip
        prog, ev = write_task(tmp_path)
        run, outcome = evolve(prog, ev, settings, embed=hash_embed)
        assert outcome.status == "budget" and "budget" in outcome.message
        done = outcome.stats["samples"]
        assert 1 <= done < 6
        more = settings_for(server, tmp_path, "evolve.max_samples=6", "evolve.operators={rewrite = 1.0}")
        engine = make_engine(open_run(run.path), more, make_sandbox(more.sandbox), embed=hash_embed)
        again = engine.run()
    assert again.status == "complete" and again.stats["samples"] == 6
    assert len([r for r in _lines(run.evolve_dir / "programs.jsonl") if r["kind"] == "initial"]) == 1


def test_time_budget_stops_new_proposals(tmp_path: Path) -> None:
    with ScriptedServer() as server:
        script_all(server, Coder(step=2))
        settings = settings_for(server, tmp_path, "evolve.max_samples=50", "evolve.time_budget_min=0.02",
                                "evolve.operators={rewrite = 1.0}")  # fmt: skip
        prog, ev = write_task(tmp_path)
        _, outcome = evolve(prog, ev, settings, embed=hash_embed)
    assert outcome.status == "time" and 1 <= outcome.stats["samples"] < 50


def test_any_sandbox_like_executor_can_run_the_evaluations(tmp_path: Path) -> None:
    """A Ray-style executor only needs run(workdir, argv, *, timeout_s, env, mounts) and to leave outputs there."""
    from agents.sandbox import make_sandbox

    class Recording:
        def __init__(self) -> None:
            self.inner = make_sandbox(settings.sandbox)
            self.calls: list[tuple[Path, list[str], float | None]] = []

        def run(self, workdir, argv, *, timeout_s=None, env=None, mounts=()):  # type: ignore[no-untyped-def]
            self.calls.append((workdir, argv, timeout_s))
            return self.inner.run(workdir, argv, timeout_s=timeout_s, env=env, mounts=mounts)

    with ScriptedServer() as server:
        script_all(server, Coder(step=2, unique=True))
        settings = settings_for(server, tmp_path, "evolve.max_samples=2", "evolve.operators={rewrite = 1.0}")
        executor = Recording()
        prog, ev = write_task(tmp_path)
        _, outcome = evolve(prog, ev, settings, sandbox=executor, embed=hash_embed)
    assert len(executor.calls) == 3  # the initial program and two candidates
    assert all(argv[:2] == ["python", "shoal_evolve.py"] and t == 30 for _, argv, t in executor.calls)
    assert outcome.stats["evaluated"] == 2


def test_an_answer_in_another_format_is_salvaged_and_counted(tmp_path: Path) -> None:
    with ScriptedServer() as server:
        server.always("evolve/diff", text("PLAN: p\n```python\ndef value():\n    base = 50\n    return base\n```"))
        settings = settings_for(server, tmp_path, "evolve.max_samples=1", "evolve.operators={diff = 1.0}")
        prog, ev = write_task(tmp_path)
        run, outcome = evolve(prog, ev, settings, embed=hash_embed)
        assert not server.requests_for("evolve/repair")
    (sample,) = _lines(run.evolve_dir / "samples.jsonl")
    assert sample["kind"] == "diff" and sample["applied_as"] == "rewrite" and sample["correct"]
    assert outcome.stats["best"] == 50.0
