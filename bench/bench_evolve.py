"""Shoal evolve against plain sequential sampling, same model, same task, same time budget each.

    python bench/bench_evolve.py [--task circle_packing] [--minutes 10] [--probe 2] [--set KEY=VALUE ...]

The task is one of ``examples/`` (its ``shoal.toml`` is loaded, then ``--set`` overrides; the default models are
the embedded local model). Phases, one after the other:

1. ``--probe N``: N proposals from the initial program in each edit format (rewrite, lines, diff; no repair),
   counting answers that apply and programs that are valid;
2. evolve for ``--minutes`` (``evolve.time_budget_min``; proposals in flight finish after it);
3. the baseline for ``--minutes``: ask the model for an improved whole program from the initial program, over and
   over (no archive, no feedback), each answer evaluated with the same evaluator in the same sandbox.

It prints samples, valid-program rate, edit apply rate (baseline: answers holding a program), best score and the
best score after N samples (N = the smaller sample count) side by side, and writes them to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.evolve import create_evolve_run, make_engine  # noqa: E402
from agents.evolve.engine import initial_task  # noqa: E402
from agents.evolve.evaluation import evaluate  # noqa: E402
from agents.evolve.population import ProgramRecord  # noqa: E402
from agents.evolve.proposer import Proposer  # noqa: E402
from agents.experiments.patches import extract_code  # noqa: E402
from agents.llm import LLM, Ledger  # noqa: E402
from agents.localmodel.server import stop_shared_servers  # noqa: E402
from agents.sandbox import make_sandbox  # noqa: E402
from agents.settings import Settings, load_settings  # noqa: E402


def probe(settings: Settings, llm: LLM, task_dir: Path, n: int, work: Path) -> dict[str, dict[str, int]]:
    """Apply and valid counts per edit format, from the initial program (no repairs)."""
    code = (task_dir / "initial.py").read_text(encoding="utf-8")
    cfg = settings.model_copy(update={"evolve": settings.evolve.model_copy(update={"repairs": 0})})
    proposer = Proposer(cfg, llm.bind(stage="bench-probe"), initial_task(code))
    sandbox = make_sandbox(settings.sandbox)
    first = evaluate(sandbox, work / "init", code, task_dir / "evaluate.py", settings.evolve.eval_timeout_s)
    parent = ProgramRecord(id="p0000", kind="initial", combined_score=first.combined_score, public=first.public,
                           correct=first.correct)  # fmt: skip
    out: dict[str, dict[str, int]] = {}
    for fmt in ("rewrite", "lines", "diff"):
        counts = {"asked": 0, "applied": 0, "valid": 0, "seconds": 0}
        for i in range(n):
            t0 = time.monotonic()
            prop = proposer.propose(fmt, settings.models.coder.model, parent, code, [], [])
            counts["asked"] += 1
            if prop.code is not None:
                counts["applied"] += 1
                ev = evaluate(sandbox, work / f"{fmt}{i}", prop.code, task_dir / "evaluate.py", 60)
                counts["valid"] += int(ev.correct)
            else:
                print(f"  {fmt} #{i}: not applied: {prop.error[:120]}", flush=True)
            counts["seconds"] += int(time.monotonic() - t0)
        out[fmt] = counts
        print(f"probe {fmt}: {counts}", flush=True)
    return out


def run_evolve(settings: Settings, task_dir: Path, minutes: float) -> dict[str, Any]:
    ev = settings.evolve.model_copy(update={"time_budget_min": minutes, "max_samples": 10_000})
    s = settings.model_copy(update={"evolve": ev})
    run = create_evolve_run(s, task_dir / "initial.py", task_dir / "evaluate.py")
    engine = make_engine(run, s, make_sandbox(s.sandbox))
    t0 = time.monotonic()
    outcome = engine.run()
    curve = sorted((p.sample, p.combined_score) for p in engine.pop.all() if p.correct and p.kind not in ("migrant",))
    st = outcome.stats
    operators: dict[str, list[int]] = {}
    for smp in engine.pop.samples:
        row = operators.setdefault(smp.kind, [0, 0, 0])
        row[0] += 1
        row[1] += int(smp.applied)
        row[2] += int(smp.correct)
    return {
        "run": str(run.path), "seconds": round(time.monotonic() - t0), "samples": st["samples"],
        "evaluated": st["evaluated"], "valid": st["valid"], "applied": st["applied"], "best": st["best"],
        "curve": curve, "status": outcome.status, "operators": operators,
    }  # fmt: skip


def run_baseline(settings: Settings, llm: LLM, task_dir: Path, minutes: float, work: Path) -> dict[str, Any]:
    code = (task_dir / "initial.py").read_text(encoding="utf-8")
    sandbox = make_sandbox(settings.sandbox)
    evaluator = task_dir / "evaluate.py"
    first = evaluate(sandbox, work / "b-init", code, evaluator, settings.evolve.eval_timeout_s)
    variables = {"task": initial_task(code), "score": f"{first.combined_score:.6g}", "program": code.rstrip()}
    best, samples, applied, valid, curve = first.combined_score, 0, 0, 0, [(0, first.combined_score)]
    deadline = time.monotonic() + 60 * minutes
    t0 = time.monotonic()
    while time.monotonic() < deadline:
        reply = llm.chat("coder", "bench/evolve_baseline", variables, max_tokens=settings.evolve.max_output_tokens)
        samples += 1
        program = extract_code(reply.content)
        if program is None:
            continue
        applied += 1
        ev = evaluate(sandbox, work / f"b{samples}", program, evaluator, settings.evolve.eval_timeout_s)
        if ev.correct:
            valid += 1
            curve.append((samples, ev.combined_score))
            best = max(best, ev.combined_score)
        verdict = f"valid {ev.combined_score:.6g}" if ev.correct else ev.error[:100]
        print(f"baseline sample {samples}: {verdict}", flush=True)
    return {"seconds": round(time.monotonic() - t0), "samples": samples, "evaluated": applied, "valid": valid,
            "applied": applied, "best": best, "curve": curve}  # fmt: skip


def best_after(curve: list[tuple[int, float]], n: int) -> float | None:
    vals = [s for k, s in curve if k <= n]
    return max(vals) if vals else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", default="circle_packing", help="a folder under examples/")
    ap.add_argument("--minutes", type=float, default=10.0, help="time budget of each of evolve and the baseline")
    ap.add_argument("--probe", type=int, default=2, help="proposals per edit format in the probe (0: skip)")
    ap.add_argument("--set", action="append", default=[], help="a setting override, e.g. evolve.workers=1")
    ap.add_argument("--out", type=Path, default=None, help="write the figures here as JSON")
    args = ap.parse_args()
    task_dir = ROOT / "examples" / args.task
    work = Path(tempfile.mkdtemp(prefix="bench-evolve-"))
    settings = load_settings(task_dir / "shoal.toml", args.set, workspace=work / "workspace")
    llm = LLM(settings, Ledger(work / "baseline_calls.jsonl"), context={"stage": "bench"})
    result: dict[str, Any] = {"task": args.task, "minutes": args.minutes, "model": settings.models.coder.model}

    def save() -> None:
        if args.out:
            args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")

    try:
        if args.probe:
            result["probe"] = probe(settings, llm, task_dir, args.probe, work / "probe")
            save()
        result["evolve"] = run_evolve(settings, task_dir, args.minutes)
        print(f"evolve: { {k: v for k, v in result['evolve'].items() if k != 'curve'} }", flush=True)
        save()
        result["baseline"] = run_baseline(settings, llm, task_dir, args.minutes, work / "baseline")
        save()
    finally:
        stop_shared_servers()
    ev, bl = result["evolve"], result["baseline"]
    n = min(ev["samples"], bl["samples"])
    rows = [
        ("samples", ev["samples"], bl["samples"]),
        ("valid-program rate", _rate(ev["valid"], ev["evaluated"]), _rate(bl["valid"], bl["evaluated"])),
        ("edit apply rate", _rate(ev["applied"], ev["samples"]), _rate(bl["applied"], bl["samples"])),
        ("best score", _num(ev["best"]), _num(bl["best"])),
        (f"best after {n} samples", _num(best_after(ev["curve"], n)), _num(best_after(bl["curve"], n))),
    ]
    print(f"\n{args.task}, {args.minutes:g} min each, model {result['model']}")
    print(f"{'':26}{'evolve':>14}{'baseline':>14}")
    for name, a, b in rows:
        print(f"{name:26}{a!s:>14}{b!s:>14}")
    for fmt, c in result.get("probe", {}).items():
        print(f"probe {fmt:8} applied {c['applied']}/{c['asked']}, valid {c['valid']}/{c['asked']}, {c['seconds']} s")
    for kind, (asked, applied, valid) in sorted(ev["operators"].items()):
        print(f"evolve {kind:9} applied {applied}/{asked}, valid {valid}/{asked}")


def _rate(a: int, b: int) -> str:
    return f"{a}/{b} ({a / b:.0%})" if b else "0/0"


def _num(x: float | None) -> str:
    return f"{x:.4f}" if x is not None else "-"


if __name__ == "__main__":
    main()
