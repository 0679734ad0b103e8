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

from agents.errors import ShoalError
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
    plot_critique: str = ""
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
    numbers: list[dict[str, str]] = Field(default_factory=list, description="each number in the paper, its source")
    removed: list[str] = Field(default_factory=list, description="what the pre-compile checks removed")
    cost_by_stage: list[CostRow] = Field(default_factory=list)
    cost_by_role: list[CostRow] = Field(default_factory=list)
    total: CostRow | None = None
    warnings: list[str] = Field(default_factory=list, description="e.g. generated code ran below min_isolation")


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
    if not run.has_journal():
        return [], []
    journal = run.journal()
    best_ids = {n.id for n in (journal.best_node(s) for s in (1, 2, 3, 4)) if n is not None}
    views = []
    for n in journal.nodes:
        node_dir = run.node_dir(n.id)
        output = _read_text(node_dir / "stdout.txt", 8000) or (n.exec.stdout_tail if n.exec else "")
        if n.exec and n.exec.error:
            output = f"{output}\n{n.exec.error}".strip()
        metrics = [m.model_dump() for m in n.metric.metrics]
        views.append(
            NodeView(
                id=n.id, parent=n.parent, stage=n.stage, kind=n.kind, status=n.status, buggy=n.is_buggy,
                bug_reason=n.bug_reason, plan=n.plan, code=n.code[:_MAX_TEXT], output=output,
                metric=_metric_text(metrics), metrics=metrics,
                plots=[run.node_rel(n.id, p) for p in n.plots], plots_status=n.plots_status,
                critique=n.critique, plot_critique=n.plot_critique, best=n.id in best_ids,
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


def _chosen_idea(run: RunDir) -> dict[str, Any] | None:
    if not run.chosen_idea_path.is_file():
        return None
    try:
        return run.chosen_idea().model_dump(mode="json")
    except ShoalError:
        return None


def collect(run: RunDir, *, status: str | None = None) -> ReportData:
    """Everything for the report; ``status`` overrides ``run.json`` (the pipeline's last stage knows it is done)."""
    info = run.read_json(run.info_path) or {}
    idea = _chosen_idea(run)
    nodes, notes = _nodes(run)
    captions = run.read_json(run.captions_path) or {}
    figures = [
        {**f, "png": run.figure_rel(f["png"])}
        for f in captions.get("figures", [])
        if isinstance(f, dict) and "png" in f
    ]
    findings = run.writeup_findings()
    records = read_ledger(run.ledger_path)
    total = summarize(records, "endpoint")
    calls = sum(t.calls for t in total.values())
    data = ReportData(
        title=(idea or {}).get("title") or info.get("topic") or run.name,
        run_name=run.name,
        status=status or info.get("status", ""),
        topic=info.get("topic", ""),
        idea=idea,
        idea_md=_read_text(run.idea_md_path) if idea is not None else "",
        nodes=nodes,
        notes=notes,
        figures=figures,
        paper_pdf=run.paper_pdf_rel if run.paper_pdf.is_file() else None,
        review=run.read_json(run.review_json),
        review_md=_read_text(run.review_md),
        numbers=list(findings.get("numbers", [])),
        removed=[
            *(f"number {x}" for x in findings.get("removed_numbers", [])),
            *(f"citation {x}" for x in findings.get("removed_citations", [])),
            *(f"claim: {x}" for x in findings.get("removed_claims", [])),
        ],
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
