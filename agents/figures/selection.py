"""Which nodes' results the final figures may use, and staging their data where the aggregation script runs.

Selection (pure function of the journal): the best node, the best node of each stage, the good ablations, and
the seed re-runs of the best node, capped at ``figures.max_nodes`` non-seed nodes. The data is copied into
``figures/work/data/<id>/`` (``results/*.json`` as saved, ``metrics.json`` from the journal so that the seed
std_err is included) with ``data/nodes.json`` naming each node, so the script reads only its own working dir (the
Docker sandbox mounts nothing else).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pydantic import BaseModel

from agents.experiments.journal import Journal, Node
from agents.figures.data import summarize_node_data
from agents.rundir import RunDir

STAGE_NAMES = {1: "initial", 2: "tuned", 3: "research", 4: "ablation"}


class SelectedNode(BaseModel):
    id: str
    label: str
    kind: str
    stage: int
    is_best: bool = False


def select_nodes(journal: Journal, max_nodes: int) -> list[Node]:
    best = journal.best_node()
    if best is None:
        return []
    chosen: list[Node] = [best]
    for stage in (1, 2, 3):
        b = journal.best_node(stage)
        if b is not None and b not in chosen:
            chosen.append(b)
    ablations = [n for n in journal.good_nodes(4) if n.kind == "ablate" and n not in chosen]
    chosen += sorted(ablations, key=lambda n: n.created_at)
    chosen = chosen[:max_nodes]
    seeds = [n for n in journal.good_nodes() if n.kind == "seed" and n.parent == best.id]
    return sorted(chosen, key=lambda n: (n.stage, n.created_at)) + seeds


def node_label(node: Node, best_id: str | None) -> str:
    if node.kind == "seed":
        return f"seed {node.seed if node.seed is not None else node.id}"
    text = (node.tag or node.plan or node.kind).strip().splitlines()[0] if (node.tag or node.plan) else node.kind
    text = text if len(text) <= 32 else text[:31].rstrip() + "…"
    prefix = "best: " if node.id == best_id else ""
    return f"{prefix}{text}"


def stage_data(run: RunDir, journal: Journal, nodes: list[Node], workdir: Path) -> list[SelectedNode]:
    """Copy the nodes' data into ``workdir/data``; returns the node list also written to ``data/nodes.json``."""
    data = workdir / "data"
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True)
    best = journal.best_node()
    best_id = best.id if best else None
    out: list[SelectedNode] = []
    for node in nodes:
        src = run.node_dir(node.id)
        dst = data / node.id
        (dst / "results").mkdir(parents=True)
        for f in sorted((src / "results").glob("*.json")) if (src / "results").is_dir() else []:
            shutil.copyfile(f, dst / "results" / f.name)
        metrics = {"metrics": [m.model_dump(mode="json") for m in node.metric.metrics]}
        (dst / "metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
        out.append(
            SelectedNode(
                id=node.id,
                label=node_label(node, best_id),
                kind=node.kind,
                stage=node.stage,
                is_best=node.id == best_id,
            )
        )
    (data / "nodes.json").write_text(json.dumps([s.model_dump() for s in out], indent=1), encoding="utf-8")
    return out


def catalog(workdir: Path, selected: list[SelectedNode]) -> str:
    """The prompt's view of the staged data: one block per node."""
    blocks = []
    for s in selected:
        head = f"data/{s.id}/  id={s.id}  label={s.label!r}  {s.kind}, stage {s.stage} ({STAGE_NAMES[s.stage]})"
        if s.kind == "seed":
            blocks.append(f"{head}: seed re-run of the best node (same data files)")
            continue
        blocks.append(head + "\n" + summarize_node_data(workdir / "data" / s.id, folder=f"data/{s.id}/"))
    return "\n".join(blocks)
