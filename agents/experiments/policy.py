"""The search policy: which node to create next. A pure function of the journal, the search settings, the actions
already in flight and a seeded ``random.Random`` (so it is unit-testable and reproducible).

Rules, per stage (the stage's record in the journal gives its root node and proposals):

- Stage 1 (initial implementation): new drafts until ``num_drafts`` exist; then, with probability
  ``debug_prob``, debug a buggy leaf whose debug depth is below ``max_debug_depth``; otherwise improve a good node
  chosen by fitness-weighted sampling; with no good node yet, draft again (as AIDE does).
- Stage 2 (baseline tuning) and 4 (ablations): debug a buggy leaf with probability ``debug_prob``; otherwise the
  next proposal (hyperparameter setting or ablated component) that no node of the stage carries yet, applied to
  the stage's root; when every proposal is taken, debug what is left, then nothing.
- Stage 3 (creative research): debug with probability ``debug_prob``, otherwise improve a parent drawn by
  fitness-weighted sampling over the root and the stage's good nodes.

Fitness-weighted sampling (ShinkaEvolve's weighted parent selection)::

    p_i ~ sigmoid(lambda * (score_i - median) / spread) / (1 + children_i)

``score`` is the direction-aware primary metric (larger is better), ``spread`` the scaled median absolute
deviation (else the standard deviation, else 1), ``children`` counts existing children and actions in flight.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from agents.experiments.journal import Journal, Node, NodeKind
from agents.experiments.journal_index import index_of, normalize_tag
from agents.settings import SearchSettings


@dataclass(frozen=True)
class Action:
    """One node to create: its kind, stage, parent, and the tag (tune setting / ablated component) or seed."""

    kind: NodeKind
    stage: int
    parent: str | None = None
    tag: str = ""
    seed: int | None = None


__all__ = ["Action", "choose_action", "normalize_tag", "sample_parent", "sampling_weights", "seed_actions"]


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _spread(scores: Sequence[float]) -> float:
    if len(scores) < 2:
        return 1.0
    med = statistics.median(scores)
    mad = statistics.median(abs(s - med) for s in scores) * 1.4826
    if mad > 0:
        return mad
    std = statistics.pstdev(scores)
    return std if std > 0 else 1.0


def sampling_weights(
    journal: Journal, candidates: Sequence[Node], lam: float, pending: Sequence[Action] = ()
) -> list[float]:
    """Normalised selection probabilities of ``candidates`` (good nodes) for the next improve action."""
    if not candidates:
        return []
    ix = index_of(journal)
    known = ix.score  # scores of finished good nodes, computed once
    ids = [c.id for c in candidates]
    if all(i in known for i in ids):
        vals = [known[i] for i in ids]
    else:
        scores = [c.metric.score for c in candidates]
        if any(s is None for s in scores):
            raise ValueError("parent candidates must be good nodes with a score")
        vals = [float(s) for s in scores if s is not None]
    med = statistics.median(vals)
    spread = _spread(vals)
    children, busy = ix.children, Counter(a.parent for a in pending)
    raw = [
        sigmoid(lam * (score - med) / spread) / (1 + children.get(i, 0) + busy.get(i, 0))
        for i, score in zip(ids, vals, strict=True)
    ]
    total = sum(raw)
    return [w / total for w in raw]


def sample_parent(
    journal: Journal, candidates: Sequence[Node], lam: float, rng: random.Random, pending: Sequence[Action] = ()
) -> Node:
    weights = sampling_weights(journal, candidates, lam, pending)
    return rng.choices(list(candidates), weights=weights, k=1)[0]


def debuggable_leaves(journal: Journal, stage: int, search: SearchSettings, pending: Sequence[Action]) -> list[Node]:
    """Buggy leaves of the stage whose fix would stay within ``max_debug_depth`` and that nobody is fixing."""
    busy = {a.parent for a in pending if a.kind == "debug"}
    return [
        n
        for n in index_of(journal).buggy_leaves(stage)
        if n.debug_depth + 1 <= search.max_debug_depth and n.id not in busy
    ]


def used_tags(journal: Journal, stage: int, pending: Sequence[Action]) -> set[str]:
    tags = set(index_of(journal).tags[stage])
    tags |= {normalize_tag(a.tag) for a in pending if a.stage == stage and a.tag}
    return tags


def unused_proposals(journal: Journal, stage: int, pending: Sequence[Action]) -> list[str]:
    rec = journal.stage_record(stage)
    if rec is None or not rec.proposals:
        return []
    used = used_tags(journal, stage, pending)
    out: list[str] = []
    for p in rec.proposals:
        key = normalize_tag(p)
        if key and key not in used:
            used.add(key)
            out.append(p)
    return out


def parent_candidates(journal: Journal, stage: int) -> list[Node]:
    """The stage's good non-seed nodes plus its root (when the root is good)."""
    rec = journal.stage_record(stage)
    ix = index_of(journal)
    cands = ix.candidates(stage)
    root = ix.find(rec.root) if rec else None
    if root is not None and root.is_good and not (root.stage == stage and root.kind != "seed"):
        cands.insert(0, root)  # (a good non-seed root of this very stage is among the candidates already)
    return cands


def choose_action(
    journal: Journal,
    stage: int,
    search: SearchSettings,
    rng: random.Random,
    pending: Sequence[Action] = (),
) -> Action | None:
    """The next node to create in ``stage``, or None when the policy has nothing (more) to do there."""
    pending = [a for a in pending if a.stage == stage]
    debuggable = debuggable_leaves(journal, stage, search, pending)

    def debug() -> Action:
        leaf = rng.choice(debuggable)
        return Action("debug", stage, parent=leaf.id, tag=leaf.tag)

    if stage == 1:
        drafts = index_of(journal).drafts[1] + sum(1 for a in pending if a.kind == "draft")
        if drafts < search.num_drafts:
            return Action("draft", 1)
        if debuggable and rng.random() < search.debug_prob:
            return debug()
        cands = parent_candidates(journal, 1)
        if cands:
            return Action("improve", 1, parent=sample_parent(journal, cands, search.sampling_lambda, rng, pending).id)
        return Action("draft", 1)

    if debuggable and rng.random() < search.debug_prob:
        return debug()
    rec = journal.stage_record(stage)
    if stage in (2, 4):
        todo = unused_proposals(journal, stage, pending)
        if todo and rec is not None and rec.root is not None:
            return Action("tune" if stage == 2 else "ablate", stage, parent=rec.root, tag=todo[0])
        return debug() if debuggable else None
    cands = parent_candidates(journal, stage)
    if cands:
        return Action("improve", stage, parent=sample_parent(journal, cands, search.sampling_lambda, rng, pending).id)
    return debug() if debuggable else None


def seed_actions(
    journal: Journal, node: Node, stage: int, num_seeds: int, pending: Sequence[Action] = ()
) -> list[Action]:
    """Seed re-runs (seeds 1..num_seeds) of ``node`` after ``stage`` that neither exist nor are in flight (a node
    carried over as a later stage's best keeps its earlier seed runs)."""
    have = {n.seed for n in index_of(journal).seeds.get(node.id, [])}
    have |= {a.seed for a in pending if a.kind == "seed" and a.parent == node.id}
    return [Action("seed", stage, parent=node.id, seed=s) for s in range(1, num_seeds + 1) if s not in have]
