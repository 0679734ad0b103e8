"""Gather what a run directory holds into one ``ReportData`` for the HTML report.

Every artefact is optional: a run stopped halfway still gets a report of what it finished.
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agents.experiments.journal import Journal
from agents.llm.ledger import read_ledger, summarize
from agents.rundir import RunDir

log = logging.getLogger(__name__)

_MAX_TEXT = 20_000


class NodeView(BaseModel):
    id: str
    parent: str | None
    stage: int
    kind: str
    status: str
    buggy: bool
    bug_reason: str
    plan: str
    code: str
    output: str
    metric: str
    metrics: list[dict[str, Any]]
    plots: list[str] = Field(description="paths relative to the run dir")
    plots_status: str
    critique: str
    best: bool
    verdict: str = Field(default="", description="the sandbox's verdict when a limit ended the run")


class CostRow(BaseModel):
    key: str
    calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float


class ReportData(BaseModel):
    title: str
    run_name: str
    status: str = ""
    topic: str = ""
    idea: dict[str, Any] | None = None
    idea_md: str = ""
    nodes: list[NodeView] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    figures: list[dict[str, Any]] = Field(default_factory=list)
    paper_pdf: str | None = None
    review: dict[str, Any] | None = None
    review_md: str = ""
    cost_by_stage: list[CostRow] = Field(default_factory=list)
    cost_by_role: list[CostRow] = Field(default_factory=list)
    total: CostRow | None = None
    warnings: list[str] = Field(default_factory=list, description="e.g. generated code ran below min_isolation")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _read_text(path: Path, limit: int = _MAX_TEXT) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return text if len(text) <= limit else text[:limit] + "\n… (truncated)"


def _metric_text(metrics: list[dict[str, Any]]) -> str:
    if not metrics:
        return ""
    m = metrics[0]
    vals = m.get("values") or {}
    if not vals:
        return m.get("name", "")
    mean = sum(vals.values()) / len(vals)
    arrow = "↑" if m.get("direction") == "maximize" else "↓"
    return f"{m.get('name')} {mean:.4g} {arrow}"


def _nodes(run: RunDir) -> tuple[list[NodeView], list[str]]:
    path = run.file("journal.json")
    if not path.is_file():
        return [], []
    journal = Journal.load(path)
    best_ids = {n.id for n in (journal.best_node(s) for s in (1, 2, 3, 4)) if n is not None}
    views = []
    for n in journal.nodes:
        node_dir = run.path / "nodes" / n.id
        output = _read_text(node_dir / "stdout.txt", 8000) or (n.exec.stdout_tail if n.exec else "")
        if n.exec and n.exec.error:
            output = f"{output}\n{n.exec.error}".strip()
        metrics = [m.model_dump() for m in n.metric.metrics]
        views.append(
            NodeView(
                id=n.id, parent=n.parent, stage=n.stage, kind=n.kind, status=n.status, buggy=n.is_buggy,
                bug_reason=n.bug_reason, plan=n.plan, code=n.code[:_MAX_TEXT], output=output,
                metric=_metric_text(metrics), metrics=metrics,
                plots=[f"nodes/{n.id}/{p}" for p in n.plots], plots_status=n.plots_status,
                critique=n.critique, best=n.id in best_ids,
                verdict=(n.exec.verdict or "") if n.exec else "",
            )
        )  # fmt: skip
    return views, list(journal.notes)


def _cost_rows(run: RunDir, by: str) -> list[CostRow]:
    records = read_ledger(run.ledger_path)
    rows = [
        CostRow(key=k, calls=t.calls, tokens_in=t.tokens_in, tokens_out=t.tokens_out, cost_usd=t.cost_usd)
        for k, t in sorted(summarize(records, by).items())
    ]
    return rows


def _sandbox_warnings(run: RunDir) -> list[str]:
    out: list[str] = []
    try:
        lines = run.events_path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return out
    for line in lines:
        if '"sandbox_weak"' in line:
            with contextlib.suppress(ValueError):
                warning = str(json.loads(line).get("warning", ""))
                if warning and warning not in out:
                    out.append(warning)
    return out


def collect(run: RunDir) -> ReportData:
    info = _read_json(run.file("run.json")) or {}
    ideas = _read_json(run.file("ideas.json")) or {}
    idea_list = ideas.get("ideas", []) if isinstance(ideas, dict) else []
    chosen = info.get("inputs", {}).get("idea_name") if isinstance(info, dict) else None
    idea = next((i for i in idea_list if i.get("name") == chosen), idea_list[0] if idea_list else None)
    nodes, notes = _nodes(run)
    captions = _read_json(run.file("figures/captions.json")) or {}
    figures = [
        {**f, "png": f"figures/{f['png']}"} for f in captions.get("figures", []) if isinstance(f, dict) and "png" in f
    ]
    pdf = run.file("paper/paper.pdf")
    records = read_ledger(run.ledger_path)
    total = summarize(records, "endpoint")
    calls = sum(t.calls for t in total.values())
    data = ReportData(
        title=(idea or {}).get("title") or info.get("topic") or run.name,
        run_name=run.name,
        status=info.get("status", ""),
        topic=info.get("topic", ""),
        idea=idea,
        idea_md=_read_text(run.file("idea.md")),
        nodes=nodes,
        notes=notes,
        figures=figures,
        paper_pdf="paper/paper.pdf" if pdf.is_file() else None,
        review=_read_json(run.file("review.json")),
        review_md=_read_text(run.file("review.md")),
        cost_by_stage=_cost_rows(run, "stage"),
        cost_by_role=_cost_rows(run, "role"),
        total=CostRow(
            key="total",
            calls=calls,
            tokens_in=sum(t.tokens_in for t in total.values()),
            tokens_out=sum(t.tokens_out for t in total.values()),
            cost_usd=sum(t.cost_usd for t in total.values()),
        ),
        warnings=_sandbox_warnings(run),
    )
    return data
