"""Synthetic search journals for the scaling benchmark and the index-equivalence tests.

``grow`` adds nodes the way a search does (drafts, then improves of good nodes, debugs of buggy leaves, tuning
and ablation children of a root, seed re-runs), with random verdicts: some buggy, scores drawn from a few
values so that ties occur, both metric directions, two coder models, finishing times slightly out of order.
``payload`` sets the size of each node's code and output (the bytes a real node carries).
"""

from __future__ import annotations

import random

from agents.experiments.journal import ExecResult, Journal, Metric, MetricValue, Node, NodeKind, StageRecord

MODELS = ("coder-a", "coder-b")


def verdict(node: Node, rng: random.Random, direction: str = "maximize") -> None:
    """Finish ``node`` with a random verdict (about a third buggy; scores rounded so that ties happen)."""
    node.status = "done"
    node.finished_at = (node.created_at or 0.0) + rng.random() * 3
    if rng.random() < 0.33:
        node.is_buggy, node.bug_reason = True, f"ValueError: shapes do not match ({rng.randrange(100)})"
        return
    if rng.random() < 0.05:
        return  # ran, but logged no usable metric: neither good nor buggy
    node.plots_status = "invalid" if rng.random() < 0.2 else "ok"  # the figure critic may judge plots invalid
    value = round(rng.gauss(0.7, 0.1), 2)
    node.metric = MetricValue(metrics=[Metric(name="acc", direction=direction, values={"d1": value, "d2": value})])  # type: ignore[arg-type]


def new_node(journal: Journal, rng: random.Random, clock: float, payload: int = 0) -> Node:
    """A node a search could create next in ``journal`` (not finished)."""
    done = [n for n in journal.nodes[-400:] if n.status == "done" and n.kind != "seed"]
    good = [n for n in done if n.is_good]
    buggy = [n for n in done if n.is_buggy]
    stage = 1 if len(journal.nodes) < 5 else rng.choice((1, 2, 3, 3, 3, 4))
    kind: NodeKind
    parent: Node | None = None
    tag = ""
    seed = None
    r = rng.random()
    if not done or r < 0.1:
        kind = "draft"
    elif r < 0.35 and buggy:
        kind, parent = "debug", rng.choice(buggy)
    elif r < 0.45 and good:
        kind, parent, tag = ("tune" if stage == 2 else "ablate"), rng.choice(good), f"lr = {rng.randrange(20)}"
        stage = 2 if kind == "tune" else 4
    elif r < 0.5 and good:
        kind, parent, seed = "seed", rng.choice(good), rng.randrange(1, 4)
    elif good:
        kind, parent = "improve", rng.choice(good)
    else:
        kind = "draft"
    code = f"# node {len(journal.nodes)}\n" + "x = 1\n" * (payload // 6)
    node = Node(
        parent=parent.id if parent else None,
        stage=stage if kind != "debug" or parent is None else parent.stage,
        kind=kind,
        plan=f"{kind} try {rng.randrange(1000)}",
        code=code,
        tag=tag,
        seed=seed,
        model=rng.choice(MODELS),
        debug_depth=parent.debug_depth + 1 if parent is not None and kind == "debug" else 0,
        created_at=clock,
        status="running",
    )
    node.exec = ExecResult(exit_code=0, stdout_tail="epoch loss\n" * (payload // 22))
    return node


def grow(journal: Journal, n: int, rng: random.Random, *, payload: int = 0, open_nodes: int = 0) -> Journal:
    """Add ``n`` nodes (all finished but the last ``open_nodes``) and stage records for stages 1-4."""
    direction = journal.nodes[0].metric.primary.direction if journal.nodes and journal.nodes[0].metric.primary else ""
    direction = direction or rng.choice(("maximize", "minimize"))
    start = len(journal.nodes)
    for i in range(n):
        node = journal.add(new_node(journal, rng, float(start + i), payload))
        if i < n - open_nodes:
            verdict(node, rng, direction)
    for stage in range(1, 5):
        if journal.stage_record(stage) is None:
            good = [x for x in journal.nodes if x.is_good and x.stage == stage - 1]
            journal.stages.append(
                StageRecord(
                    stage=stage,
                    root=good[0].id if good else None,
                    proposals=[f"lr = {k}" for k in range(24)] if stage in (2, 4) else None,
                )
            )
    return journal
