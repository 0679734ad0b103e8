"""What a job's new node is, before the search places it: a seed re-run of its parent, the user's baseline as the
first draft, or the coder's program for the action (a coder that could not write one gives a buggy node whose
reason the debug step reads)."""

from __future__ import annotations

from typing import Any

from agents.experiments.coder import Coder
from agents.experiments.journal import Journal, Node
from agents.experiments.journal_index import index_of
from agents.experiments.workers import Job


def new_node(job: Job, journal: Journal, coder: Coder, baseline_code: str | None) -> Node:
    """The node ``job`` makes (not yet in the journal); the coder's model call happens here."""
    a = job.action
    parent = index_of(journal).find(a.parent)
    base: dict[str, Any] = dict(id=job.node_id, parent=a.parent, stage=a.stage, kind=a.kind, tag=a.tag, seed=a.seed)
    if parent is not None and a.kind in ("debug", "improve", "tune", "ablate"):
        base["debug_depth"] = parent.debug_depth + 1 if a.kind == "debug" else 0
    if a.kind == "seed" and parent is not None:
        return Node(**base, code=parent.code, plan=f"seed {a.seed} re-run of {parent.id}", model=parent.model)
    if a.kind == "draft" and baseline_code is not None and not journal.drafts(1):
        return Node(**base, code=baseline_code, plan="the user's baseline program", model="user")
    prop = coder.write(a, job.model, job.node_id)
    node = Node(
        **base,
        code=prop.code,
        plan=prop.plan or a.tag or a.kind,
        model=prop.model,
        edit=prop.edit,
        llm_calls=prop.calls,
        tokens_in=prop.tokens_in,
    )
    if prop.problem:
        node.is_buggy, node.bug_reason = True, prop.problem
    return node
