"""Shoal evolve against plain sequential sampling, same model, same task, same time budget each.

    python bench/bench_evolve.py [--task circle_packing] [--minutes 10] [--probe 2] [--set KEY=VALUE ...]

The task is one of ``examples/`` (its ``shoal.toml`` is loaded, then ``--set`` overrides; the default models are
the embedded local model). Phases, one after the other:

1. ``--probe N``: N proposals from the initial program in each edit format (rewrite, lines, diff; no repair),
   counting answers that apply and programs that are valid;
2. evolve for ``--minutes`` (``evolve.time_budget_min``; proposals in flight finish after it);
3. the baseline for ``--minutes`` (or ``--baseline-minutes``; 0 skips it): ask the model for an improved whole
   program from the initial program, over and over (no archive, no feedback), each answer evaluated with the same
   evaluator in the same sandbox.

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
from agents.llm import LLM, Ledger, read_ledger  # noqa: E402
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
        counts = {"asked": 0, "applied": 0, "salvaged": 0, "valid": 0, "seconds": 0}
        for i in range(n):
            t0 = time.monotonic()
            prop = proposer.propose(fmt, settings.models.coder.model, parent, code, [], [])
            counts["asked"] += 1
            if prop.code is not None:
                counts["applied"] += 1
                counts["salvaged"] += int(prop.applied_as != fmt)
                ev = evaluate(sandbox, work / f"{fmt}{i}", prop.code, task_dir / "evaluate.py", 60)
                counts["valid"] += int(ev.correct)
            else:
                print(f"  {fmt} #{i}: not applied: {prop.error[:120]}", flush=True)
            counts["seconds"] += int(time.monotonic() - t0)
        out[fmt] = counts
        print(f"probe {fmt}: {counts}", flush=True)
    return out


def evolve_figures(run_path: Path, seconds: float | None = None, status: str = "") -> dict[str, Any]:
    """The evolve side's figures from its run directory (so a bench cut short can still be summarised)."""
    from agents.evolve.population import Population

    pop = Population.load(run_path / "evolve", 16, 10_000)
    st = pop.stats()
    operators: dict[str, list[int]] = {}
    for smp in pop.samples:
        # proposals, applied, applied at the first try, read in another format (salvaged), valid
        row = operators.setdefault(smp.kind, [0, 0, 0, 0, 0])
        row[0] += 1
        row[1] += int(smp.applied)
        row[2] += int(smp.applied and smp.repairs == 0)
        row[3] += int(bool(smp.applied_as) and smp.applied_as != smp.kind)
        row[4] += int(smp.correct)
    readings: dict[str, int] = {}
    for smp in pop.samples:
        if smp.second_reading:
            readings[smp.second_reading] = readings.get(smp.second_reading, 0) + 1
    curve = sorted((p.sample, p.combined_score) for p in pop.all() if p.correct and p.kind != "migrant")
    return {
        "run": str(run_path), "seconds": seconds, "samples": st["samples"], "evaluated": st["evaluated"],
        "valid": st["valid"], "applied": st["applied"], "best": st["best"], "curve": curve, "status": status,
        "operators": operators, "second_readings": readings, "calls": _calls(run_path / "llm_calls.jsonl"),
    }  # fmt: skip


def _calls(ledger: Path) -> dict[str, Any]:
    recs = [r for r in read_ledger(ledger) if r.outcome in ("ok", "truncated")]
    if not recs:
        return {"n": 0}
    return {
        "n": len(recs),
        "mean_latency_s": round(sum(r.latency_s for r in recs) / len(recs), 1),
        "mean_tokens_out": round(sum(r.tokens_out for r in recs) / len(recs)),
        "tokens_per_s": round(sum(r.tokens_out for r in recs) / max(sum(r.latency_s for r in recs), 1e-9), 2),
        "truncated": sum(r.outcome == "truncated" for r in recs),
    }


def run_evolve(settings: Settings, task_dir: Path, minutes: float, result: dict[str, Any], save: Any) -> None:
    ev = settings.evolve.model_copy(update={"time_budget_min": minutes, "max_samples": 10_000})
    s = settings.model_copy(update={"evolve": ev})
    run = create_evolve_run(s, task_dir / "initial.py", task_dir / "evaluate.py")
    result["evolve"] = {"run": str(run.path)}
    save()
    engine = make_engine(run, s, make_sandbox(s.sandbox))
    t0 = time.monotonic()
    outcome = engine.run()
    result["evolve"] = evolve_figures(run.path, round(time.monotonic() - t0), outcome.status)


def run_baseline(
    settings: Settings, llm: LLM, task_dir: Path, minutes: float, work: Path, result: dict[str, Any], save: Any
) -> None:
    code = (task_dir / "initial.py").read_text(encoding="utf-8")
    sandbox = make_sandbox(settings.sandbox)
    evaluator = task_dir / "evaluate.py"
    first = evaluate(sandbox, work / "b-init", code, evaluator, settings.evolve.eval_timeout_s)
    variables = {"task": initial_task(code), "score": f"{first.combined_score:.6g}", "program": code.rstrip()}
    out: dict[str, Any] = {"samples": 0, "evaluated": 0, "valid": 0, "applied": 0, "best": first.combined_score,
                           "curve": [(0, first.combined_score)]}  # fmt: skip
    result["baseline"] = out
    deadline = time.monotonic() + 60 * minutes
    t0 = time.monotonic()
    while time.monotonic() < deadline:
        reply = llm.chat("coder", "bench/evolve_baseline", variables, max_tokens=settings.evolve.max_output_tokens)
        out["samples"] += 1
        program = extract_code(reply.content)
        verdict = "no program in the answer"
        if program is not None:
            out["applied"] += 1
            out["evaluated"] += 1
            ev = evaluate(sandbox, work / f"b{out['samples']}", program, evaluator, settings.evolve.eval_timeout_s)
            if ev.correct:
                out["valid"] += 1
                out["curve"].append((out["samples"], ev.combined_score))
                out["best"] = max(out["best"], ev.combined_score)
            verdict = f"valid {ev.combined_score:.6g}" if ev.correct else ev.error[:100]
        out["seconds"] = round(time.monotonic() - t0)
        out["calls"] = _calls(llm.ledger.path) if llm.ledger.path else {}
        save()
        print(f"baseline sample {out['samples']}: {verdict}", flush=True)


def best_after(curve: list[tuple[int, float]], n: int) -> float | None:
    vals = [s for k, s in curve if k <= n]
    return max(vals) if vals else None


def summarize(result: dict[str, Any]) -> None:
    ev = result["evolve"]
    if "samples" not in ev:  # the bench was cut during evolve: read its run directory
        ev = result["evolve"] = evolve_figures(Path(ev["run"]), None, "cut")
    bl = result.get("baseline") or {"samples": 0, "evaluated": 0, "valid": 0, "applied": 0, "best": None, "curve": []}
    n = min(ev["samples"], bl["samples"])
    rows = [
        ("samples", ev["samples"], bl["samples"]),
        ("valid-program rate", _rate(ev["valid"], ev["evaluated"]), _rate(bl["valid"], bl["evaluated"])),
        ("edit apply rate", _rate(ev["applied"], ev["samples"]), _rate(bl["applied"], bl["samples"])),
        ("best score", _num(ev["best"]), _num(bl["best"])),
        (f"best after {n} samples", _num(best_after(ev["curve"], n)), _num(best_after(bl["curve"], n))),
        ("seconds", ev.get("seconds"), bl.get("seconds")),
    ]
    bl_min = result.get("baseline_minutes", result["minutes"])
    print(f"\n{result['task']}, evolve {result['minutes']:g} min, baseline {bl_min:g} min, model {result['model']}")
    print(f"{'':26}{'evolve':>14}{'baseline':>14}")
    for name, a, b in rows:
        print(f"{name:26}{a!s:>14}{b!s:>14}")
    print(f"model calls: evolve {ev.get('calls')}, baseline {bl.get('calls')}")
    for fmt, c in result.get("probe", {}).items():
        print(f"probe {fmt:8} applied {c['applied']}/{c['asked']} ({c['salvaged']} read in another format), "
              f"valid {c['valid']}/{c['asked']}, {c['seconds']} s")  # fmt: skip
    for kind, (asked, applied, first, salvaged, valid) in sorted(ev["operators"].items()):
        print(f"evolve {kind:9} applied {applied}/{asked} ({first} at the first try, {salvaged} read in another "
              f"format), valid {valid}/{asked}")  # fmt: skip
    if ev.get("second_readings"):
        print(f"applied only after a second reading (salvage.py): {ev['second_readings']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", default="circle_packing", help="a folder under examples/")
    ap.add_argument("--minutes", type=float, default=10.0, help="time budget of each of evolve and the baseline")
    ap.add_argument("--baseline-minutes", type=float, default=None,
                    help="time budget of the baseline (default: --minutes; 0 skips it)")  # fmt: skip
    ap.add_argument("--probe", type=int, default=2, help="proposals per edit format in the probe (0: skip)")
    ap.add_argument("--set", action="append", default=[], help="a setting override, e.g. evolve.workers=1")
    ap.add_argument("--out", type=Path, default=None, help="write the figures here as JSON (after every step)")
    ap.add_argument("--summarize", type=Path, default=None, help="print the table of a saved --out file and stop")
    args = ap.parse_args()
    if args.summarize:
        summarize(json.loads(args.summarize.read_text(encoding="utf-8")))
        return
    task_dir = ROOT / "examples" / args.task
    work = Path(tempfile.mkdtemp(prefix="bench-evolve-"))
    settings = load_settings(task_dir / "shoal.toml", args.set, workspace=work / "workspace")
    llm = LLM(settings, Ledger(work / "baseline_calls.jsonl"), context={"stage": "bench"})
    baseline_minutes = args.minutes if args.baseline_minutes is None else args.baseline_minutes
    result: dict[str, Any] = {"task": args.task, "minutes": args.minutes, "baseline_minutes": baseline_minutes,
                              "model": settings.models.coder.model, "settings": args.set}  # fmt: skip

    def save() -> None:
        if args.out:
            args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")

    try:
        if args.probe:
            probe_llm = LLM(settings, Ledger(work / "probe_calls.jsonl"), context={"stage": "bench-probe"})
            result["probe"] = probe(settings, probe_llm, task_dir, args.probe, work / "probe")
            save()
        run_evolve(settings, task_dir, args.minutes, result, save)
        save()
        print(f"evolve: { {k: v for k, v in result['evolve'].items() if k != 'curve'} }", flush=True)
        if baseline_minutes > 0:
            run_baseline(settings, llm, task_dir, baseline_minutes, work / "baseline", result, save)
    finally:
        stop_shared_servers()
    summarize(result)


def _rate(a: int, b: int) -> str:
    return f"{a}/{b} ({a / b:.0%})" if b else "0/0"


def _num(x: float | None) -> str:
    return f"{x:.4f}" if x is not None else "-"


if __name__ == "__main__":
    main()
