"""Benchmark the embedded model: load time, prompt/generation speed, memory, and structured-output validity.

    .venv/bin/python bench/bench_embedded.py [--modes json_schema,text] [--role ideation] [--limit 20] [--json]

- load: ``EmbeddedServer.start()`` to ready (the model file is built/verified before the clock starts).
- speed: three direct chat calls through the ``openai`` client; prompt and generation tokens/s come from the
  llama.cpp server's ``timings`` field in each response.
- memory: the child's VmRSS (after load and at the end) and VmHWM (peak) from ``/proc/<pid>/status``.
- structured: 20 varied prompts (``templates/prompts/bench/structured.md.j2``) with varied pydantic schemas, sent
  through ``agents.llm.LLM.structured`` (the pipeline's path: schema-constrained JSON, bounded repair rounds). Per
  mode it reports the share valid on the first answer, valid after repairs, calls and seconds per answer.
  ``--modes text`` asks for JSON in text (no grammar) to show what the model does unconstrained.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import openai
from rich.console import Console
from rich.table import Table

from agents.errors import ShoalError
from agents.llm import LLM, CallRecord, Ledger
from agents.localmodel.server import get_shared_server, other_model_servers, stop_shared_servers
from agents.localmodel.weights import ensure_model_file
from agents.settings import load_settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from structured_cases import CASES

PROMPT = "bench/structured"


class RecordingLedger(Ledger):
    """An in-memory ledger that also keeps every record, so the bench can count calls and repairs."""

    def __init__(self) -> None:
        super().__init__(None)
        self.records: list[CallRecord] = []

    def record(self, rec: CallRecord) -> None:
        super().record(rec)
        self.records.append(rec)


def _proc_status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) // 1024  # MiB
    return out


def measure_speed(base_url: str, model: str, calls: int = 3) -> dict[str, float]:
    client = openai.OpenAI(base_url=base_url, api_key="embedded", max_retries=0, timeout=900)
    prompt_tps: list[float] = []
    gen_tps: list[float] = []
    for i in range(calls):
        text = (
            f"Variant {i}. Explain in about 100 words why a validation set is needed when tuning the learning rate "
            "of a small neural network, and what goes wrong when the test set is used for tuning instead. "
            "Mention overfitting, data leakage and the role of early stopping. " * 2
        )
        resp = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": text}], max_tokens=128, temperature=0.0
        )
        timings = (resp.model_extra or {}).get("timings", {})
        prompt_tps.append(float(timings.get("prompt_per_second", 0.0)))
        gen_tps.append(float(timings.get("predicted_per_second", 0.0)))
    return {"prompt_tok_s": statistics.median(prompt_tps), "gen_tok_s": statistics.median(gen_tps)}


def run_structured(llm: LLM, ledger: RecordingLedger, role: str, limit: int, console: Console) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for case, schema, variables in CASES[:limit]:
        before = len(ledger.records)
        start = time.monotonic()
        error = ""
        try:
            llm.structured(role, PROMPT, schema, {"case": case, **variables})
            valid = True
        except ShoalError as exc:
            valid, error = False, f"{type(exc).__name__}: {str(exc)[:160]}"
        recs = ledger.records[before:]
        sent = [r for r in recs if r.outcome in ("ok", "truncated")]
        invalid = [r for r in recs if r.outcome == "invalid"]
        rows.append(
            {
                "case": case,
                "schema": schema.__name__,
                "valid": valid,
                "first_try": valid and not invalid,
                "calls": len(sent),
                "tokens_out": sum(r.tokens_out for r in sent),
                "seconds": round(time.monotonic() - start, 2),
                "error": error,
            }
        )
        r = rows[-1]
        verdict = "ok" if r["first_try"] else "repaired" if r["valid"] else "FAILED"
        console.print(f"  {case:<12} {verdict:<8} {r['calls']} call(s) {r['seconds']:6.1f} s", markup=False)
    n = len(rows)
    total_s = sum(r["seconds"] for r in rows)
    return {
        "n": n,
        "valid_rate": sum(r["valid"] for r in rows) / n,
        "first_try_rate": sum(r["first_try"] for r in rows) / n,
        "calls_per_answer": sum(r["calls"] for r in rows) / n,
        "seconds_per_answer": total_s / n,
        "effective_gen_tok_s": sum(r["tokens_out"] for r in rows) / total_s if total_s else 0.0,
        "cases": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", default="json_schema", help="comma list of json_schema, json_object, text")
    parser.add_argument("--role", default="ideation", help="the role whose settings (temperature...) are used")
    parser.add_argument("--limit", type=int, default=len(CASES), help="number of structured prompts")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    args = parser.parse_args(argv)
    console = Console(stderr=args.json)

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    base = load_settings(None, [f'models.{args.role}.base_url=""'])
    t0 = time.monotonic()
    model_path = ensure_model_file(base.cache_dir)
    ensure_s = time.monotonic() - t0
    server = get_shared_server(base)
    try:
        console.print("loading the embedded model...")
        base_url = server.start()
        pid = server.pid
        assert pid is not None
        mem_loaded = _proc_status(pid)
        others_start = [p for p in other_model_servers() if p != pid]
        if others_start:
            console.print(f"[yellow]warning:[/] {len(others_start)} other model server(s) share the CPU here")
        console.print("measuring prompt and generation speed...")
        speed = measure_speed(base_url, server.model_name)
        results: dict[str, Any] = {}
        for mode in modes:
            console.print(f"structured output, mode {mode}: {min(args.limit, len(CASES))} prompts...")
            settings = load_settings(
                None, [f'models.{args.role}.base_url=""', f'models.{args.role}.structured_mode="{mode}"']
            )
            ledger = RecordingLedger()
            results[mode] = run_structured(LLM(settings, ledger), ledger, args.role, args.limit, console)
        mem_end = _proc_status(pid)
        others_end = [p for p in other_model_servers() if p != pid]
    finally:
        stop_shared_servers()

    role_model = base.models.for_role(args.role)
    report = {
        "model": server.model_name,
        "model_file": str(model_path),
        "threads": server.threads,
        "n_ctx": base.embedded.n_ctx,
        "role": args.role,
        "temperature": role_model.temperature,
        "max_repairs": base.llm.max_repairs,
        "ensure_model_file_s": round(ensure_s, 2),
        "load_s": round(server.load_seconds or 0.0, 2),
        "prompt_tok_s": round(speed["prompt_tok_s"], 1),
        "gen_tok_s": round(speed["gen_tok_s"], 1),
        "rss_mib_loaded": mem_loaded.get("VmRSS"),
        "rss_mib_end": mem_end.get("VmRSS"),
        "rss_mib_peak": mem_end.get("VmHWM"),
        "other_model_servers": max(len(others_start), len(others_end)),
        "structured": results,
    }
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    table = Table(title=f"embedded model: {server.model_name}", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("load (start to ready)", f"{report['load_s']} s (model file check {report['ensure_model_file_s']} s)")
    table.add_row("prompt speed", f"{report['prompt_tok_s']} tok/s")
    table.add_row("generation speed", f"{report['gen_tok_s']} tok/s")
    table.add_row("child RSS", f"{report['rss_mib_loaded']} MiB loaded, {report['rss_mib_end']} MiB at end")
    table.add_row("child peak RSS", f"{report['rss_mib_peak']} MiB")
    table.add_row("other model servers running", str(report["other_model_servers"]))
    for mode, res in results.items():
        table.add_row(
            f"structured [{mode}]",
            f"{res['valid_rate']:.0%} valid, {res['first_try_rate']:.0%} first try "
            f"({res['n']} prompts, {res['calls_per_answer']:.2f} calls and {res['seconds_per_answer']:.1f} s "
            f"per answer, {res['effective_gen_tok_s']:.1f} out-tok/s)",
        )
    console.print(table)
    for mode, res in results.items():
        failed = [r for r in res["cases"] if not r["first_try"]]
        for r in failed:
            status = "repaired" if r["valid"] else "FAILED"
            console.print(f"  [{mode}] {r['case']}: {status} after {r['calls']} call(s) {r['error']}", markup=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
