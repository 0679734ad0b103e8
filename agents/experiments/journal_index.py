"""Incremental views of a journal for the search's hot path (policy, completion, memory, bandit, progress).

The journal's own views scan every node; at thousands of nodes one search step would cost seconds. This index
keeps what the search asks for up to date as nodes arrive and finish, so each step costs O(log n) (sorted
inserts) or O(1), apart from fitness-weighted sampling, which by its definition re-weights every candidate.

How it stays in step with the journal (``index_of`` reconciles on every call, under the journal's lock):

- nodes appended to ``journal.nodes`` since the last call are indexed (their structural facts: id, parent,
  stage, kind, tag, model; these never change);
- nodes not yet ``done`` are re-checked on every call (there are at most the workers in flight); when one is
  done its verdict (good / buggy / score) is indexed once;
- a finished node is ranked once, by ``Node.better_than`` itself (then journal order), so the index follows
  whatever that order is. Code that changes a finished node afterwards calls ``touch(journal, node)``: when the
  change affects ranking (status, bug verdict, score, plots judged invalid) the index is rebuilt on its next
  use. A replaced or shortened node list (``requeue_interrupted``) rebuilds it too.
"""

from __future__ import annotations

import bisect
import functools
import re
import threading
import weakref
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from agents.experiments.journal import Journal, Node


def normalize_tag(tag: str) -> str:
    """Tags that differ only in case, spaces, underscores or dashes are the same ("LR = 0.1" is "lr=0.1")."""
    return re.sub(r"[\s_\-]+", "", tag.lower())


def _order(a: tuple[int, Node], b: tuple[int, Node]) -> int:
    """Nodes' own order (``Node.better_than``: better first), then journal order: how the old scans ranked."""
    (pa, na), (pb, nb) = a, b
    if na.better_than(nb):
        return -1
    if nb.better_than(na):
        return 1
    return (pa > pb) - (pa < pb)


_RANK = functools.cmp_to_key(_order)


def _verdict(node: Node) -> tuple[str, bool, float | None, bool]:
    """What a finished node's ranking depends on; a change after indexing means a rebuild."""
    return node.status, node.is_buggy, node.metric.score, node.plots_status == "invalid"


@dataclass
class _Run:
    """Stage 3's no-improvement run over good nodes in finishing order: the (best score, run) after each node,
    recomputed from the first position where a node arrived since the last query (nodes finish mostly in order,
    so that is near the end)."""

    root: str | None = None
    prefix: list[tuple[Node | None, int]] = field(default_factory=list)
    dirty: int = 0


@dataclass
class JournalIndex:
    nodes: list[Node] | None = None
    seen: int = 0
    pos: dict[str, int] = field(default_factory=dict)
    by_id: dict[str, Node] = field(default_factory=dict)
    open: dict[str, Node] = field(default_factory=dict)
    children: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    seeds: defaultdict[str, list[Node]] = field(default_factory=lambda: defaultdict(list))
    work: Counter[int] = field(default_factory=Counter)
    work_open: Counter[int] = field(default_factory=Counter)
    work_done: Counter[int] = field(default_factory=Counter)
    drafts: Counter[int] = field(default_factory=Counter)
    tags: defaultdict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    done: int = 0
    buggy: int = 0
    good_work: defaultdict[int, list[tuple[int, Node]]] = field(default_factory=lambda: defaultdict(list))
    leaves: defaultdict[int, list[tuple[int, Node]]] = field(default_factory=lambda: defaultdict(list))
    ranked: list[tuple[int, Node]] = field(default_factory=list)
    failed: list[tuple[int, Node]] = field(default_factory=list)
    best: defaultdict[int | None, list[tuple[int, Node]]] = field(default_factory=lambda: defaultdict(list))
    verdicts: dict[str, tuple[str, bool, float | None, bool]] = field(default_factory=dict)
    stale: bool = False
    arms: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(lambda: [0, 0.0]))
    timeline: defaultdict[int, list[tuple[float, str, Node]]] = field(default_factory=lambda: defaultdict(list))
    runs: defaultdict[int, _Run] = field(default_factory=lambda: defaultdict(_Run))
    score: dict[str, float] = field(default_factory=dict)

    # -- upkeep ------------------------------------------------------------------------------------------------

    def _add(self, node: Node, pos: int) -> None:
        self.pos[node.id] = pos
        self.by_id[node.id] = node
        if node.kind == "seed":
            if node.parent is not None:
                self.seeds[node.parent].append(node)
        else:
            self.work[node.stage] += 1
            if node.kind == "draft":
                self.drafts[node.stage] += 1
            if node.tag:
                self.tags[node.stage].add(normalize_tag(node.tag))
            if node.parent is not None:
                self.children[node.parent] += 1
                parent = self.by_id.get(node.parent)
                if parent is not None:
                    self._drop(self.leaves[parent.stage], self.pos[parent.id], parent)
        if node.status == "done":
            self._finish(node)
        else:
            self.open[node.id] = node
            if node.kind != "seed":
                self.work_open[node.stage] += 1

    @staticmethod
    def _drop(items: list[tuple[int, Node]], pos: int, node: Node) -> None:
        i = bisect.bisect_left(items, pos, key=lambda t: t[0])
        if i < len(items) and items[i][1] is node:
            del items[i]

    def _finish(self, node: Node) -> None:
        pos = self.pos[node.id]
        self.verdicts[node.id] = _verdict(node)
        self.done += 1
        self.buggy += int(node.is_buggy)
        if node.kind == "seed":
            return
        self.work_done[node.stage] += 1
        pair = (pos, node)
        parent = self.by_id.get(node.parent) if node.parent else None
        if node.model:
            arm = self.arms[node.model]
            arm[0] += 1
            arm[1] += _reward(node, parent)
        if node.is_buggy:
            bisect.insort(self.failed, pair, key=lambda t: t[0])
            if not self.children.get(node.id):
                bisect.insort(self.leaves[node.stage], pair, key=lambda t: t[0])
        if node.is_good:
            self.score[node.id] = float(node.metric.score)  # type: ignore[arg-type]
            bisect.insort(self.good_work[node.stage], pair, key=lambda t: t[0])
            bisect.insort(self.ranked, pair, key=_RANK)
            line, key = self.timeline[node.stage], (node.finished_at or 0.0, node.id)
            at = bisect.bisect_left(line, key, key=lambda t: t[:2])
            line.insert(at, (*key, node))
            run = self.runs[node.stage]
            run.dirty = min(run.dirty, at)
            if node.kind != "ablate":
                bisect.insort(self.best[node.stage], pair, key=_RANK)
                bisect.insort(self.best[None], pair, key=_RANK)

    def reconcile(self, journal: Journal) -> None:
        nodes = journal.nodes
        if nodes is not self.nodes or len(nodes) < self.seen or self.stale:
            self.__init__()  # type: ignore[misc]
            self.nodes = nodes
        for node_id, node in list(self.open.items()):
            if node.status == "done":
                del self.open[node_id]
                if node.kind != "seed":
                    self.work_open[node.stage] -= 1
                self._finish(node)
        for pos in range(self.seen, len(nodes)):
            self._add(nodes[pos], pos)
        self.seen = len(nodes)

    # -- queries -----------------------------------------------------------------------------------------------

    def find(self, node_id: str | None) -> Node | None:
        return self.by_id.get(node_id) if node_id is not None else None

    def candidates(self, stage: int) -> list[Node]:
        """The stage's good non-seed nodes in journal order."""
        return [n for _, n in self.good_work[stage]]

    def buggy_leaves(self, stage: int) -> list[Node]:
        return [n for _, n in self.leaves[stage]]

    def top_good(self, k: int) -> list[Node]:
        return [n for _, n in self.ranked[:k]]

    def recent_failed(self, k: int) -> list[Node]:
        return [n for _, n in reversed(self.failed[-k:])] if k > 0 else []

    def best_node(self, stage: int | None = None) -> Node | None:
        best = self.best.get(stage)
        return best[0][1] if best else None

    def no_improvement_run(self, stage: int, root: Node | None) -> int:
        """Good non-seed nodes of ``stage`` in (finished_at, id) order that did not beat the best before them."""
        line = self.timeline[stage]
        root_id = root.id if root is not None and root.is_good else None
        st = self.runs[stage]
        if st.root != root_id:
            st.root, st.dirty = root_id, 0
        del st.prefix[st.dirty :]
        best, run = st.prefix[-1] if st.prefix else (root if root_id else None, 0)
        for t in line[st.dirty :]:
            n = t[2]
            if best is None or n.better_than(best):
                best, run = n, 0
            else:
                run += 1
            st.prefix.append((best, run))
        st.dirty = len(line)
        return run


def _reward(node: Node, parent: Node | None) -> float:
    """The bandit's reward (``bandit.reward``): good and better than a good parent (or no good parent)."""
    if not node.is_good:
        return 0.0
    if parent is None or not parent.is_good:
        return 1.0
    return 1.0 if node.better_than(parent) else 0.0


_INDEXES: dict[int, JournalIndex] = {}  # id(journal) -> its index, dropped when the journal is collected
_GUARD = threading.Lock()


def _forget(key: int) -> None:
    with _GUARD:
        _INDEXES.pop(key, None)


def index_of(journal: Journal) -> JournalIndex:
    """The journal's index, brought up to date (takes the journal's lock: other threads may be adding nodes)."""
    with journal.lock:
        key = id(journal)
        with _GUARD:
            ix = _INDEXES.get(key)
            if ix is None:
                ix = _INDEXES[key] = JournalIndex()
                weakref.finalize(journal, _forget, key)
        ix.reconcile(journal)
        return ix


def touch(journal: Journal, *nodes: Node) -> None:
    """Finished nodes changed after they were indexed (plots judged, seed statistics): rebuild the index on its
    next use if a change affects ranking (status, bug verdict, score, invalid plots). No nodes: always rebuild."""
    with journal.lock:
        with _GUARD:
            ix = _INDEXES.get(id(journal))
        if ix is None:
            return
        if not nodes or any(n.id in ix.verdicts and ix.verdicts[n.id] != _verdict(n) for n in nodes):
            ix.stale = True
