"""Graph wiring only: which stage follows which. No business logic lives here.

    ideation -> choose_idea (optional human approval: a LangGraph interrupt inside that stage) -> experiments -> figures
      -> writeup -> review -> (revision round: back to writeup, bounded) -> report -> END
    experiments with no working implementation -> report -> END

Each stage is a plain callable ``(state) -> updates`` supplied by ``agents.pipeline.stages``; every stage is
idempotent over its artefacts, so a node that re-runs after a crash skips what is already on disk.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agents.pipeline.state import PipelineState

StageFn = Callable[[PipelineState], dict[str, Any]]


@dataclass(frozen=True)
class StageFns:
    ideation: StageFn
    choose_idea: StageFn
    experiments: StageFn
    figures: StageFn
    writeup: StageFn
    review: StageFn
    report: StageFn


class _GraphNode(Protocol):
    def __call__(self, state: PipelineState) -> dict[str, Any]: ...


def _marked(name: str, fn: StageFn) -> _GraphNode:
    def node(state: PipelineState) -> dict[str, Any]:
        updates = dict(fn(state) or {})
        updates["done"] = [name]
        return updates

    node.__name__ = f"stage_{name}"
    return node


def after_review(state: PipelineState) -> str:
    """Another writing round while the reviewer asked for revisions and rounds are left."""
    if state.get("revision_requests") and state.get("revision_round", 0) <= state.get("max_revisions", 0):
        return "writeup"
    return "report"


def after_experiments(state: PipelineState) -> str:
    """No working implementation: nothing to plot, write or review; the report still records the search."""
    return "report" if state.get("experiments_status") == "no_working_implementation" else "figures"


def build_graph(stages: StageFns) -> StateGraph:
    g = StateGraph(PipelineState)
    for name in ("ideation", "choose_idea", "experiments", "figures", "writeup", "review", "report"):
        g.add_node(name, _marked(name, getattr(stages, name)))
    g.add_edge(START, "ideation")
    g.add_edge("ideation", "choose_idea")
    g.add_edge("choose_idea", "experiments")
    g.add_conditional_edges("experiments", after_experiments, {"figures": "figures", "report": "report"})
    g.add_edge("figures", "writeup")
    g.add_edge("writeup", "review")
    g.add_conditional_edges("review", after_review, {"writeup": "writeup", "report": "report"})
    g.add_edge("report", END)
    return g


def compile_graph(stages: StageFns, checkpoint_path: Path) -> tuple[CompiledStateGraph, sqlite3.Connection]:
    """The compiled graph with a SQLite checkpointer in the run directory; the caller closes the connection."""
    conn = sqlite3.connect(str(checkpoint_path), check_same_thread=False)
    return build_graph(stages).compile(checkpointer=SqliteSaver(conn)), conn
