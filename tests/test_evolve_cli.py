"""``shoal evolve`` and ``shoal resume`` from the command line: bad inputs stop with one message before any model
call; a run killed with SIGKILL resumes without losing an evaluated program; ``shoal report`` draws the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.cli.main import app
from agents.testing import ScriptedServer
from tests.evolve_support import EVALUATOR, INITIAL, Coder, script_all, write_task

runner = CliRunner()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("SHOAL_CONFIG", "SHOAL_WORKSPACE"):
        monkeypatch.delenv(key, raising=False)


def _global(server: ScriptedServer, tmp: Path, *extra: str) -> list[str]:
    sets = [
        f"models.coder.base_url={server.base_url}",
        f"models.feedback.base_url={server.base_url}",
        "llm.backoff_base_s=0",
        "llm.max_retries=0",
        "sandbox.backend=local",
        "evolve.workers=2",
        *extra,
    ]
    out = ["--workspace", str(tmp / "ws")]
    for s in sets:
        out += ["--set", s]
    return out


SCRIPT_NO_METRICS = "import sys\nprint('evaluated', sys.argv[1])\n"
SCRIPT_BAD_JSON = "import os, sys\nopen(os.path.join(sys.argv[2], 'metrics.json'), 'w').write('{oops')\n"
SCRIPT_CRASH = "raise SystemExit('evaluator broke: missing data file')\n"
SCRIPT_HANG = "import time\ntime.sleep(60)\n"
FN_TEXT_SCORE = "def evaluate(path):\n    return {'combined_score': 'high', 'correct': True}\n"
FN_INVALID = "def evaluate(path):\n    return {'combined_score': 0, 'correct': False, 'error': 'value is wrong'}\n"

BAD = {
    "no-block": (INITIAL.replace("# EVOLVE-BLOCK-START\n", "").replace("# EVOLVE-BLOCK-END\n", ""), EVALUATOR,
                 "no EVOLVE-BLOCK"),
    "unclosed": (INITIAL.replace("# EVOLVE-BLOCK-END\n", ""), EVALUATOR, "without a matching EVOLVE-BLOCK-END"),
    "syntax": (INITIAL.replace("return base", "return base +"), EVALUATOR, "does not compile"),
    "crash": (INITIAL, SCRIPT_CRASH,
              "crashed on the initial program: the evaluator exited with code 1: evaluator broke: missing data file"),
    "hang": (INITIAL, SCRIPT_HANG, "did not finish on the initial program within 3 s"),
    "no-metrics": (INITIAL, SCRIPT_NO_METRICS, "wrote no metrics.json"),
    "bad-json": (INITIAL, SCRIPT_BAD_JSON, "metrics.json is not valid JSON"),
    "text-score": (INITIAL, FN_TEXT_SCORE, "'combined_score' must be a finite number, got 'high'"),
    "invalid-initial": (INITIAL, FN_INVALID, "the initial program is invalid according to"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_inputs_give_one_message_before_any_model_call(case: str, tmp_path: Path) -> None:
    initial, evaluator, message = BAD[case]
    prog, ev = write_task(tmp_path, initial, evaluator)
    with ScriptedServer() as server:
        args = _global(server, tmp_path, "evolve.eval_timeout_s=3")
        result = runner.invoke(app, [*args, "evolve", str(prog), "--evaluator", str(ev), "--max-samples", "2"])
        assert server.requests == []
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output
    runs = list((tmp_path / "ws").glob("*")) if (tmp_path / "ws").exists() else []
    assert runs == []  # nothing half-made is left behind


def test_missing_evaluator(tmp_path: Path) -> None:
    prog, _ = write_task(tmp_path)
    with ScriptedServer() as server:
        result = runner.invoke(app, [*_global(server, tmp_path), "evolve", str(prog), "--evaluator", "nope.py"])
    assert result.exit_code == 2 and "the evaluator nope.py does not exist" in result.output


def test_an_experiment_environment_not_built_yet_leaves_no_run(tmp_path: Path) -> None:
    prog, ev = write_task(tmp_path)
    with ScriptedServer() as server:
        args = _global(server, tmp_path, 'sandbox.extra_packages=["shoal-never-built"]')
        result = runner.invoke(app, [*args, "evolve", str(prog), "--evaluator", str(ev)])
        assert server.requests == []
    assert result.exit_code == 2 and "shoal sandbox env --build" in " ".join(result.output.split())
    assert not list((tmp_path / "ws").glob("*"))


def test_program_given_as_a_folder(tmp_path: Path) -> None:
    _, ev = write_task(tmp_path)
    with ScriptedServer() as server:
        result = runner.invoke(app, [*_global(server, tmp_path), "evolve", str(tmp_path), "--evaluator", str(ev)])
    text = " ".join(result.output.split())  # rich wraps at the terminal width, wherever the path ends
    assert result.exit_code == 2 and "is a folder; give the path of a file" in text


def _records(run: Path) -> dict[str, dict]:
    out = {}
    for line in (run / "evolve" / "programs.jsonl").read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        out[rec["id"]] = rec
    return out


SLOW_EVALUATOR = EVALUATOR.replace("    v = load_program", "    import time\n    time.sleep(0.4)\n    v = load_program")


def test_kill_9_then_resume_loses_no_evaluated_program(tmp_path: Path) -> None:
    prog, ev = write_task(tmp_path, INITIAL, SLOW_EVALUATOR)
    with ScriptedServer() as server:
        script_all(server, Coder(step=3))
        args = _global(server, tmp_path, "evolve.migration_interval=3", "evolve.scratchpad_every=5")
        cmd = [sys.executable, "-m", "agents.cli.main", "-q", *args, "evolve", str(prog), "--evaluator", str(ev)]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        proc = subprocess.Popen(
            [*cmd, "--max-samples", "12"], env=env, start_new_session=True, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        ws = tmp_path / "ws"
        deadline = time.monotonic() + 120
        before: dict[str, dict] = {}
        while time.monotonic() < deadline:
            runs = list(ws.glob("*")) if ws.exists() else []
            if runs and (runs[0] / "evolve" / "programs.jsonl").is_file():
                before = _records(runs[0])
                if sum(r["kind"] not in ("initial", "migrant") for r in before.values()) >= 4:
                    break
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)  # the process group we started, nothing else
        proc.communicate(timeout=30)
        (run,) = list(ws.glob("*"))
        before = _records(run)
        assert sum(r["kind"] not in ("initial", "migrant") for r in before.values()) >= 4
        resumed = subprocess.run(
            [sys.executable, "-m", "agents.cli.main", "-q", *args, "resume", str(run)],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        server.check()
    after = _records(run)
    for pid, rec in before.items():  # every program evaluated before the kill is still there, unchanged
        assert after[pid] == rec
        assert (run / "evolve" / "programs" / pid / "program.py").is_file()
    samples = [json.loads(x) for x in (run / "evolve" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 12
    assert len({s["sample"] for s in samples}) >= 11
    evaluated = [r for r in after.values() if r["kind"] not in ("initial", "migrant")]
    done = [s for s in samples if s["outcome"] == "evaluated"]
    assert {s["program"] for s in done} <= {r["id"] for r in evaluated}
    assert len(evaluated) - len(done) <= 1  # a program whose sample line the kill cut is kept; its sample redone
    assert {s["outcome"] for s in samples} <= {"evaluated", "duplicate"}  # same parent, same deterministic edit
    assert [r for r in after.values() if r["kind"] == "initial"] == [before["p0000"]]

    report = runner.invoke(app, ["report", str(run)])
    assert report.exit_code == 0, report.output
    html = (run / "report.html").read_text()
    assert "<svg" in html and "Best score over samples" in html
    # the best program: the highest score, a tie to the earliest id (two islands can make the same edit; the file
    # order after a resume need not be id order)
    best = min((r for r in after.values() if r["correct"]), key=lambda r: (-r["combined_score"], r["id"]))
    assert best["id"] in html and "+    base =" in html


def test_evolve_run_from_the_command_line(tmp_path: Path) -> None:
    prog, ev = write_task(tmp_path)
    with ScriptedServer() as server:
        # unique answers: with 2 workers both first samples come from the initial program, and two equal answers
        # make the later one an exact copy (rejected) or not, depending on which evaluation finishes first
        script_all(server, Coder(step=4, unique=True))
        args = _global(server, tmp_path, "evolve.novelty_judge=false", "evolve.novelty_threshold=1.0")
        result = runner.invoke(
            app,
            [*args, "evolve", str(prog), "--evaluator", str(ev), "--max-samples", "3"],
            env={"COLUMNS": "200", "LINES": "60"},  # the live view's size, whatever terminal the suite runs in
        )
        server.check()
    assert result.exit_code == 0, result.output
    assert "done (complete): 3 samples, 3 evaluated" in result.output, result.output[-3000:]
    assert "best program:" in result.output


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_at_once_and_says_how_to_resume(tmp_path: Path) -> None:
    prog, ev = write_task(tmp_path, INITIAL, SLOW_EVALUATOR)
    with ScriptedServer() as server:
        script_all(server, Coder(step=3, unique=True))
        args = _global(server, tmp_path)
        cmd = [sys.executable, "-m", "agents.cli.main", "-q", *args, "evolve", str(prog), "--evaluator", str(ev)]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        # as a terminal starts it: SIGINT at its default, so Python turns it into KeyboardInterrupt (a suite started
        # in the background by a shell without job control inherits SIGINT ignored, and Python then keeps ignoring it)
        proc = subprocess.Popen([*cmd, "--max-samples", "50"], env=env, start_new_session=True,
                                preexec_fn=_default_sigint,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((tmp_path / "ws").glob("*/evolve/samples.jsonl")):
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    # it stopped, it did not finish the 50 samples (0.4 s of evaluation each); a bound on seconds flaked when the
    # machine was loaded (18.8 s with two embedded models running beside the suite)
    samples = next((tmp_path / "ws").glob("*/evolve/samples.jsonl")).read_text().splitlines()
    assert len(samples) < 10, len(samples)
    assert proc.returncode == 130, out
    assert "resume with: shoal resume" in " ".join(out.split())
