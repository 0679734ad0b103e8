"""The table of runs in a workspace (``shoal runs``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from agents import runlock
from agents.errors import ShoalError
from agents.llm.ledger import Ledger
from agents.pipeline.runner import read_info
from agents.rundir import RunDir, is_run


class RunRow(BaseModel):
    name: str
    topic: str
    stage: str
    status: str
    best_metric: str
    spend_usd: float
    calls: int


def _best(run: RunDir) -> str:
    if run.is_evolve:
        from agents.evolve.population import Population

        top = Population.load(run.evolve_dir, 16, 10_000).best()
        return f"combined_score={top.combined_score:.4g}" if top else ""
    if not run.has_journal():
        return ""
    best = run.journal().best_node()
    if best is None or best.metric.primary is None:
        return ""
    p = best.metric.primary
    return f"{p.name}={p.mean:.4g}"


def _without_info(run: RunDir) -> tuple[str, str, str]:
    """(topic, stage, status) of a run that a single-stage command made (no ``run.json``)."""
    if run.is_evolve:
        return "evolve", "evolve", "-"
    if run.has_journal():
        journal = run.journal()
        title = str((journal.idea or {}).get("title", ""))
        records = journal.stages
        stage = f"experiments {records[-1].stage}" if records else "experiments"
        if any(r.status == "failed" for r in records):
            return title, stage, "failed"
        if journal.notes and journal.notes[-1].startswith("search stopped"):
            return title, stage, "stopped"
        done = bool(records) and all(r.status == "done" for r in records)
        return title, stage, "done" if done else "unfinished"
    if run.topic_path.is_file():
        return run.topic().title, "ideas", "done" if run.has_ideas() else "unfinished"
    return "", "", "-"


def _row(path: Path) -> RunRow:
    run = RunDir(path)
    info = read_info(run)
    totals = Ledger(run.ledger_path).totals() if run.ledger_path.is_file() else None
    topic, stage, status = (info.topic, info.stage, info.status) if info else _without_info(run)
    if runlock.busy(path):
        status = "running"
    elif status == "running":  # run.json says so, but no process holds the run: it crashed or was killed
        status = "interrupted"
    return RunRow(
        name=path.name,
        topic=topic,
        stage=stage,
        status=status,
        best_metric=_best(run),
        spend_usd=totals.cost_usd if totals else 0.0,
        calls=totals.calls if totals else 0,
    )


def list_runs(workspace: Path) -> list[RunRow]:
    """Every run in ``workspace``; one whose files cannot be read is listed as damaged, with the reason."""
    if not workspace.is_dir():
        return []
    rows = []
    for path in sorted(workspace.iterdir()):
        if not is_run(path):
            continue
        try:
            rows.append(_row(path))
        except (ShoalError, OSError, ValueError) as exc:  # a truncated journal, run.json or ledger
            reason = " ".join(str(exc).replace(f"{path}/", "").split())
            rows.append(RunRow(name=path.name, topic="", stage="", status=f"damaged: {reason}", best_metric="",
                               spend_usd=0.0, calls=0))  # fmt: skip
    return rows
