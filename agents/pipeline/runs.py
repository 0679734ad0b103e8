"""The table of runs in a workspace (``shoal runs``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

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


def list_runs(workspace: Path) -> list[RunRow]:
    if not workspace.is_dir():
        return []
    rows = []
    for path in sorted(workspace.iterdir()):
        if not is_run(path):
            continue
        run = RunDir(path)
        info = read_info(run)
        totals = Ledger(run.ledger_path).totals() if run.ledger_path.is_file() else None
        rows.append(
            RunRow(
                name=path.name,
                topic=info.topic if info else ("evolve" if run.is_evolve else ""),
                stage=info.stage if info else ("evolve" if run.is_evolve else ""),
                status=info.status if info else "-",
                best_metric=_best(run),
                spend_usd=totals.cost_usd if totals else 0.0,
                calls=totals.calls if totals else 0,
            )
        )
    return rows
