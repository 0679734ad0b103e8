"""Benchmark the whole pipeline with the scripted model: orchestration overhead, calls and tokens per paper.

    .venv/bin/python bench/bench_pipeline.py [--json]

One complete scripted run (tests/pipeline_support.py answers every prompt; experiments really run in the
sandbox; pdflatex really compiles). Overhead = wall time minus model-call latency (ledger) minus experiment
execution time (journal); LaTeX builds and plotting scripts are part of the overhead. Goal: overhead <= 60 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from pipeline_support import pipeline_settings, script_pipeline

from agents.experiments.journal import Journal
from agents.ideation.inputs import topic_from_text
from agents.llm import LLM, Ledger, read_ledger
from agents.pipeline.runner import drive
from agents.pipeline.stages import StageContext, make_stage_fns, save_topic
from agents.rundir import create_run
from agents.testing import ScriptedServer

INPUTS = {"topic": "momentum", "num_ideas": 1, "idea_name": None, "exp_stages": [1, 4], "approve": [],
          "max_revisions": 1, "revision_round": 0}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ScriptedServer() as server:
        script_pipeline(server)
        settings = pipeline_settings(server, f"{tmp}/ws", f"{tmp}/cache")
        run = create_run(settings, "bench")
        save_topic(run, topic_from_text("Does momentum speed up gradient descent on least squares?"))
        llm = LLM(settings, Ledger(run.ledger_path))
        start = time.monotonic()
        out = drive(run, make_stage_fns(StageContext(run=run, settings=settings, llm=llm)), dict(INPUTS))  # type: ignore[arg-type]
        wall = time.monotonic() - start
        records = read_ledger(run.ledger_path)
        journal = Journal.load(run.file("journal.json"))
        model_s = sum(r.latency_s for r in records)
        exec_s = sum(n.exec.duration_s for n in journal.nodes if n.exec is not None)
        papers = 1 if run.file("paper/paper.pdf").is_file() else 0
        figures = {
            "status": out.status,
            "wall_s": round(wall, 1),
            "model_latency_s": round(model_s, 1),
            "experiment_exec_s": round(exec_s, 1),
            "overhead_s": round(wall - model_s - exec_s, 1),
            "nodes": len(journal.nodes),
            "model_calls_per_paper": len(records) if papers else None,
            "tokens_per_paper": sum(r.tokens_in + r.tokens_out for r in records) if papers else None,
        }
    if args.json:
        print(json.dumps(figures))
    else:
        for k, v in figures.items():
            print(f"{k:24} {v}")
    return 0 if out.status == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
