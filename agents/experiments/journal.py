"""The experiment tree's domain model: ``MetricValue``, ``ExecResult``, ``Node`` and ``Journal``.

The journal is the single record of a search; it is written to ``journal.json`` (atomically) after every node.
Node artefacts live in ``nodes/<id>/``: ``code.py``, ``stdout.txt``, ``metrics.json``, ``results/*.json``, ``*.png``.

``metrics.json`` (written by generated code through the helper module copied into the node dir)::

    {"metrics": [{"name": "val_loss", "direction": "minimize", "values": {"digits": 0.21, "iris": 0.35}}]}

The first metric is the primary one; nodes are compared on the mean of its per-dataset values. A buggy node is
worse than every non-buggy node, whatever its metrics.

Seed re-runs of a stage's best node are nodes of kind ``seed`` whose parent is that node; the parent's
``Metric.std_err`` and ``Metric.seed_mean`` are filled from them (the parent's own run counts as one sample).
``Journal.stages`` records each stage's state, completion reason and best node, so a resumed search knows where
it stands; ``Journal.coder_stats`` counts patch applications and valid programs per coder model.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr

NodeKind = Literal["draft", "debug", "improve", "tune", "ablate", "seed"]
Direction = Literal["maximize", "minimize"]


class Metric(BaseModel):
    name: str
    direction: Direction = "maximize"
    values: dict[str, float] = Field(description="dataset -> value")
    std_err: dict[str, float] = Field(default_factory=dict, description="dataset -> standard error (seed runs)")
    seed_mean: dict[str, float] = Field(default_factory=dict, description="dataset -> mean over the seed runs")
    n_seeds: int = Field(default=0, description="runs behind seed_mean/std_err (0: single run)")

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values.values()) if self.values else float("nan")


class MetricValue(BaseModel):
    """A node's metrics; ordered by the primary metric, direction-aware. ``None`` metrics mean 'no result'."""

    metrics: list[Metric] = Field(default_factory=list)

    @property
    def primary(self) -> Metric | None:
        return self.metrics[0] if self.metrics else None

    @property
    def score(self) -> float | None:
        """The primary metric's mean, signed so that larger is better (None when there is no usable value)."""
        p = self.primary
        if p is None or not p.values:
            return None
        m = p.mean
        if m != m or m in (float("inf"), float("-inf")):  # NaN or inf
            return None
        return m if p.direction == "maximize" else -m

    def better_than(self, other: MetricValue) -> bool:
        a, b = self.score, other.score
        if a is None:
            return False
        if b is None:
            return True
        return a > b


class ExecResult(BaseModel):
    exit_code: int | None = None
    timed_out: bool = False
    duration_s: float = 0.0
    stdout_tail: str = ""
    error: str = Field(default="", description="cleaned traceback or sandbox message")
    killed_reason: str | None = Field(
        default=None, description="timeout | memory | file_size | cpu | pids | disk | files"
    )
    verdict: str | None = Field(default=None, description="the sandbox's line, e.g. 'killed: memory limit 4096 MiB'")


class Node(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:10])
    parent: str | None = None
    stage: int = Field(ge=1, le=4)
    kind: NodeKind
    plan: str = ""
    code: str = ""
    status: Literal["pending", "running", "done"] = "pending"
    exec: ExecResult | None = None
    metric: MetricValue = Field(default_factory=MetricValue)
    is_buggy: bool = False
    bug_reason: str = ""
    debug_depth: int = 0
    plots: list[str] = Field(default_factory=list, description="PNG paths relative to the node dir")
    plots_status: Literal["none", "ok", "failed", "invalid"] = "none"
    critique: str = Field(default="", description="the feedback review's note on the program")
    plot_critique: str = Field(default="", description="the figure critic's note on the node's plots")
    lint_findings: list[str] = Field(default_factory=list, description="plot lint findings, one line each")
    model: str = ""
    tag: str = Field(default="", description="hyperparameter setting or ablated component, to avoid repeats")
    seed: int | None = None
    created_at: float = Field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    llm_calls: int = 0
    tokens_in: int = Field(default=0, description="prompt tokens of this node's model calls")
    edit: Literal["full", "patch", "patch_fallback", "none"] = Field(
        default="none", description="how the code was produced: full program, applied patch, failed patch + rewrite"
    )
    summary: str = Field(default="", description="one line for the what-worked/what-failed memory")

    @property
    def is_good(self) -> bool:
        return self.status == "done" and not self.is_buggy and self.metric.score is not None

    def better_than(self, other: Node) -> bool:
        """Direction-aware order; buggy (or unfinished) nodes are worst."""
        if not self.is_good:
            return False
        if not other.is_good:
            return True
        if self.metric.score == other.metric.score:  # equal metric: plots judged invalid rank below clean ones
            return self.plots_status != "invalid" and other.plots_status == "invalid"
        return self.metric.better_than(other.metric)


StageStatus = Literal["running", "seeding", "done", "failed"]


class StageRecord(BaseModel):
    """Where one stage stands: its root (the previous stage's best), proposals, completion and best node."""

    stage: int = Field(ge=1, le=4)
    status: StageStatus = "running"
    root: str | None = Field(default=None, description="node the stage starts from (previous stage's best)")
    proposals: list[str] | None = Field(default=None, description="tune settings (2) or ablated components (4)")
    best: str | None = None
    reason: str = Field(default="", description="why the stage ended (explicit completion criterion)")
    judge_calls: int = 0
    judged_complete: str = Field(default="", description="the model's reason when it judged the stage complete")
    tie_calls: int = 0


class CoderStats(BaseModel):
    """Per coder model: the bandit's counts and the measured patch-application / valid-program rates."""

    programs: int = 0
    valid_programs: int = Field(default=0, description="programs that compiled")
    patch_attempts: int = 0
    patches_applied: int = 0
    duplicates_rejected: int = 0


class Journal(BaseModel):
    """The whole tree. Derived views are computed, never stored."""

    nodes: list[Node] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list, description="logged stage decisions")
    idea: dict[str, Any] | None = Field(default=None, description="the idea being run (ideas.json entry)")
    stages: list[StageRecord] = Field(default_factory=list)
    coder_stats: dict[str, CoderStats] = Field(default_factory=dict)
    _lock: threading.RLock = PrivateAttr(default_factory=threading.RLock)

    @property
    def lock(self) -> threading.RLock:
        """Hold this while reading or changing nodes from several threads."""
        return self._lock

    def get(self, node_id: str) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def add(self, node: Node) -> Node:
        with self._lock:
            self.nodes.append(node)
        return node

    def find(self, node_id: str | None) -> Node | None:
        if node_id is None:
            return None
        for n in self.nodes:
            if n.id == node_id:
                return n
        return None

    def children(self, node_id: str) -> list[Node]:
        return [n for n in self.nodes if n.parent == node_id and n.kind != "seed"]

    def seed_runs(self, node_id: str) -> list[Node]:
        return [n for n in self.nodes if n.parent == node_id and n.kind == "seed"]

    def done_nodes(self, stage: int | None = None) -> list[Node]:
        return [n for n in self.nodes if n.status == "done" and (stage is None or n.stage == stage)]

    def stage_record(self, stage: int) -> StageRecord | None:
        for rec in self.stages:
            if rec.stage == stage:
                return rec
        return None

    def update_node(self, node_id: str, **fields: Any) -> Node:
        """Set fields of one node under the journal's lock (the way every later write to a node goes)."""
        with self._lock:
            node = self.get(node_id)
            for name, value in fields.items():
                if name not in Node.model_fields:
                    raise AttributeError(f"Node has no field {name!r}")
                setattr(node, name, value)
            return node

    def note(self, text: str) -> None:
        with self._lock:
            self.notes.append(text)

    def requeue_interrupted(self) -> None:
        """Nodes a crash left unfinished: re-run those with code (back to ``pending``), drop those without."""
        with self._lock:
            keep = []
            for n in self.nodes:
                if n.status != "done":
                    if not n.code.strip() and n.kind != "seed":
                        continue
                    n.status = "pending"
                keep.append(n)
            self.nodes = keep

    def stage_nodes(self, stage: int) -> list[Node]:
        return [n for n in self.nodes if n.stage == stage]

    def drafts(self, stage: int | None = None) -> list[Node]:
        return [n for n in self.nodes if n.kind == "draft" and (stage is None or n.stage == stage)]

    def good_nodes(self, stage: int | None = None) -> list[Node]:
        return [n for n in self.nodes if n.is_good and (stage is None or n.stage == stage)]

    def buggy_leaves(self, stage: int | None = None) -> list[Node]:
        """Finished buggy nodes nobody has tried to fix yet (seed re-runs are never debugged)."""
        return [
            n
            for n in self.nodes
            if n.status == "done"
            and n.is_buggy
            and n.kind != "seed"
            and not self.children(n.id)
            and (stage is None or n.stage == stage)
        ]

    def best_node(self, stage: int | None = None) -> Node | None:
        best: Node | None = None
        for n in self.good_nodes(stage):
            if n.kind in ("seed", "ablate"):  # ablations measure components; they are not candidate methods
                continue
            if best is None or n.better_than(best):
                best = n
        return best

    def save(self, path: Path) -> None:
        """Write atomically (temp file + rename) so a crash never leaves a torn journal."""
        with self._lock:
            data = self.model_dump_json(indent=1)
        tmp = path.with_suffix(f".tmp{os.getpid()}-{threading.get_ident()}")
        tmp.write_text(data, encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Journal:
        """The journal at ``path``: the snapshot plus the change log a running search appends (journal_store)."""
        from agents.experiments.journal_store import load_journal

        return load_journal(path)
