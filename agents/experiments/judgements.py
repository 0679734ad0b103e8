"""The few model calls of the search besides the coder, each with a pydantic schema:

- ``review_node``: the feedback step, at most one call per node, only for nodes that ran and wrote metrics
  (crashes are explained by their traceback, seed re-runs by their parent);
- ``propose``: one call per stage 2 / 4, listing hyperparameter settings or components to ablate;
- ``break_tie``: only when several nodes share the best metric exactly;
- ``judge_stage``: at most one call per stage 3, on whether the planned experiments are covered.

A model that cannot produce valid JSON within the bounded repairs is data, not an error: the node keeps its
exec-based verdict, the stage gets no proposals (and ends), the tie goes to the first node, the stage goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from agents.errors import StructuredOutputError
from agents.experiments.coder import idea_vars, metrics_text
from agents.experiments.journal import Journal, Node
from agents.llm import LLM
from agents.prompts import render_text

log = logging.getLogger(__name__)


class NodeReview(BaseModel):
    is_buggy: bool
    bug_reason: str = Field(default="", max_length=400)
    summary: str = Field(default="", max_length=400)
    critique: str = Field(default="", max_length=600)


class Proposals(BaseModel):
    proposals: list[str] = Field(default_factory=list, max_length=12)


class TieBreak(BaseModel):
    choice: str
    reason: str = ""


class StageJudgement(BaseModel):
    complete: bool
    reason: str = ""


def review_node(llm: LLM, node: Node) -> NodeReview | None:
    """One feedback call on a node that ran; None when the model gave no valid answer."""
    output = node.exec.stdout_tail[-2000:] if node.exec else ""
    variables = {
        "stage_goal": render_text("experiments/stage_goal", {"stage": node.stage}),
        "plan": node.plan or node.kind,
        "metrics": metrics_text(node),
        "output": output,
    }
    try:
        return llm.structured("feedback", "feedback/review", NodeReview, variables)
    except StructuredOutputError as exc:
        log.info("node %s: no usable review (%s)", node.id, exc)
        return None


def propose(llm: LLM, idea: dict[str, Any], stage: int, code: str, n: int) -> list[str]:
    """Stage 2's hyperparameter settings or stage 4's components to ablate (unique, at most ``n``)."""
    variables = {"idea": idea_vars(idea), "stage": stage, "code": code[:12000], "n": n}
    try:
        got = llm.structured("coder", "experiments/proposals", Proposals, variables)
    except StructuredOutputError as exc:
        log.warning("stage %d: no usable proposals (%s)", stage, exc)
        return []
    seen: set[str] = set()
    out: list[str] = []
    for p in got.proposals:
        label = " ".join(str(p).split())[:80]
        key = label.lower()
        if label and key not in seen:
            seen.add(key)
            out.append(label)
    return out[:n]


def break_tie(llm: LLM, idea: dict[str, Any], nodes: Sequence[Node]) -> Node:
    cands = [{"id": n.id, "plan": n.plan or n.kind, "metrics": metrics_text(n)} for n in nodes]
    try:
        got = llm.structured(
            "feedback", "experiments/tie_break", TieBreak, {"idea": idea_vars(idea), "candidates": cands}
        )
    except StructuredOutputError as exc:
        log.info("tie-break: no usable answer (%s); keeping the first node", exc)
        return nodes[0]
    for n in nodes:
        if n.id == got.choice.strip():
            return n
    return nodes[0]


def judge_stage(llm: LLM, journal: Journal, stage: int) -> StageJudgement | None:
    runs = [
        f"{n.kind} {n.tag or n.plan}: {metrics_text(n) or n.bug_reason}"[:200]
        for n in journal.stage_nodes(stage)
        if n.status == "done" and n.kind != "seed"
    ][-10:]
    variables = {"idea": idea_vars(journal.idea or {}), "runs": runs}
    try:
        return llm.structured("feedback", "experiments/stage_judge", StageJudgement, variables)
    except StructuredOutputError as exc:
        log.info("stage %d judgement: no usable answer (%s)", stage, exc)
        return None
