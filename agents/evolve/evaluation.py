"""Running the user's evaluator on one candidate, in the sandbox, and reading its ``metrics.json``.

Any SandboxRunner object works (``run(workdir, argv, *, timeout_s, env, mounts)``): the local or docker sandbox, or
an executor that runs elsewhere and leaves the outputs in ``workdir``. The evaluator, the candidate (as
``program.py``) and ``shoal_evolve.py`` are copied into a fresh work directory; ``results/metrics.json`` is read
back. What goes wrong becomes an ``Evaluation`` with ``correct=False`` and a ``problem`` naming it: for a candidate
that is data fed back to the model; for the initial program it is the user's error (see ``check_initial``).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agents.evolve import shoal_evolve
from agents.sandbox.base import SandboxResult, SandboxRunner
from agents.sandbox.leftovers import MAX_METRICS_BYTES

RESULTS = "results"


class Evaluation(BaseModel):
    """What the evaluator said about one program (``problem`` is set when the evaluation itself failed)."""

    combined_score: float = 0.0
    public: dict[str, Any] = Field(default_factory=dict)
    private: dict[str, Any] = Field(default_factory=dict)
    correct: bool = False
    error: str = ""
    problem: str = Field(default="", description="crash | timeout | no-metrics | bad-metrics | '' when it ran")
    duration_s: float = 0.0

    @property
    def feedback(self) -> str:
        """The error text the model sees (never the private metrics)."""
        return self.error[-1500:]


def _tail(text: str, n: int = 1200) -> str:
    text = text.strip()
    return text[-n:]


def parse_metrics(path: Path) -> tuple[Evaluation | None, str]:
    """An Evaluation from ``metrics.json``, or (None, what is wrong with the file)."""
    if not path.is_file():
        return None, "the evaluator wrote no metrics.json"
    if path.stat().st_size > MAX_METRICS_BYTES:
        return None, f"metrics.json is larger than {MAX_METRICS_BYTES >> 20} MiB: keep it to the scores"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return None, f"metrics.json is not valid JSON ({exc})"
    if not isinstance(data, dict):
        return None, "metrics.json must hold a JSON object"
    correct = data.get("correct", True)
    if not isinstance(correct, bool):
        return None, f"metrics.json: 'correct' must be true or false, got {correct!r}"
    raw = data.get("combined_score")
    score = raw if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None
    if score is None or not math.isfinite(float(score)):
        if correct:
            return None, f"metrics.json: 'combined_score' must be a finite number, got {raw!r}"
        score = 0.0
    for key in ("public", "private"):
        if not isinstance(data.get(key, {}), dict):
            return None, f"metrics.json: '{key}' must be an object of metrics"
    return (
        Evaluation(
            combined_score=float(score),
            public=data.get("public") or {},
            private=data.get("private") or {},
            correct=correct,
            error=str(data.get("error") or ""),
        ),
        "",
    )


def evaluate(
    sandbox: SandboxRunner, workdir: Path, code: str, evaluator: Path, timeout_s: float, keep: Path | None = None
) -> Evaluation:
    """Run ``evaluator`` on ``code`` inside ``sandbox`` in ``workdir`` (made fresh, removed after)."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    try:
        (workdir / "program.py").write_text(code, encoding="utf-8")
        shutil.copyfile(evaluator, workdir / "evaluate.py")
        shutil.copyfile(Path(shoal_evolve.__file__), workdir / "shoal_evolve.py")
        (workdir / RESULTS).mkdir()
        res = sandbox.run(
            workdir,
            ["python", "shoal_evolve.py", "evaluate.py", "program.py", RESULTS],
            timeout_s=timeout_s,
        )
        ev = _read(res, workdir / RESULTS / "metrics.json", timeout_s)
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            (keep / "eval.log").write_text(f"--- stdout\n{res.stdout}\n--- stderr\n{res.stderr}\n", encoding="utf-8")
            if (workdir / RESULTS / "metrics.json").is_file():
                shutil.copyfile(workdir / RESULTS / "metrics.json", keep / "metrics.json")
        return ev
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _read(res: SandboxResult, metrics: Path, timeout_s: float) -> Evaluation:
    if res.timed_out:
        return Evaluation(
            problem="timeout", error=f"the evaluation timed out after {timeout_s:g} s", duration_s=res.duration_s
        )
    ev, why = parse_metrics(metrics)
    if ev is None:
        if not res.ok:
            reason = f" ({res.killed_reason})" if res.killed_reason else ""
            err = _tail(res.stderr) or _tail(res.stdout)
            msg = f"the evaluator exited with code {res.exit_code}{reason}: {err}"
            return Evaluation(problem="crash", error=msg, duration_s=res.duration_s)
        problem = "no-metrics" if "no metrics.json" in why else "bad-metrics"
        return Evaluation(problem=problem, error=why, duration_s=res.duration_s)
    ev.duration_s = res.duration_s
    return ev


def check_initial(ev: Evaluation, evaluator: Path, timeout_s: float) -> str | None:
    """The user-facing message when the initial program or the evaluator is unusable; None when all is well."""
    if ev.problem == "timeout":
        return (
            f"the evaluator {evaluator} did not finish on the initial program within {timeout_s:g} s; "
            "make it faster or raise evolve.eval_timeout_s (--set evolve.eval_timeout_s=600)"
        )
    if ev.problem == "crash":
        return f"the evaluator {evaluator} crashed on the initial program: {ev.error}"
    if ev.problem in ("no-metrics", "bad-metrics"):
        return (
            f"the evaluator {evaluator} on the initial program: {ev.error}; it must write metrics.json with a "
            "numeric combined_score (or define evaluate(program_path) returning a dict; see docs/evolve.md)"
        )
    if not ev.correct:
        return f"the initial program is invalid according to {evaluator}: {ev.error or 'correct is false'}"
    return None
