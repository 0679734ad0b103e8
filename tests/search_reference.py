"""The search functions as they were before the incremental index (full scans of the journal), kept as the
reference the index-equivalence tests compare against. Do not optimise: slow on purpose."""

from __future__ import annotations

import math
import random
import re
import statistics
from collections.abc import Sequence

from agents.experiments.journal import Journal, Node
from agents.experiments.policy import Action
from agents.experiments.stages import Completion, stage_cap, stage_work_nodes
from agents.settings import SearchSettings


def normalize_tag(tag: str) -> str:
    """Tags that differ only in case, spaces, underscores or dashes are the same ("LR = 0.1" is "lr=0.1")."""
    return re.sub(r"[\s_\-]+", "", tag.lower())


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
    scores = [c.metric.score for c in candidates]
    if any(s is None for s in scores):
        raise ValueError("parent candidates must be good nodes with a score")
    vals = [float(s) for s in scores if s is not None]
    med = statistics.median(vals)
    spread = _spread(vals)
    raw = []
    for node, score in zip(candidates, vals, strict=True):
        children = len(journal.children(node.id)) + sum(1 for a in pending if a.parent == node.id)
        raw.append(sigmoid(lam * (score - med) / spread) / (1 + children))
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
    return [n for n in journal.buggy_leaves(stage) if n.debug_depth + 1 <= search.max_debug_depth and n.id not in busy]


def used_tags(journal: Journal, stage: int, pending: Sequence[Action]) -> set[str]:
    tags = {normalize_tag(n.tag) for n in journal.stage_nodes(stage) if n.tag and n.kind != "seed"}
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
    cands = [n for n in journal.good_nodes(stage) if n.kind != "seed"]
    root = journal.find(rec.root) if rec else None
    if root is not None and root.is_good and root not in cands:
        cands.insert(0, root)
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
        drafts = len(journal.drafts(1)) + sum(1 for a in pending if a.kind == "draft")
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
    have = {n.seed for n in journal.seed_runs(node.id)}
    have |= {a.seed for a in pending if a.kind == "seed" and a.parent == node.id}
    return [Action("seed", stage, parent=node.id, seed=s) for s in range(1, num_seeds + 1) if s not in have]


def _metric_text(node: Node) -> str:
    p = node.metric.primary
    if p is None or not p.values:
        return "no metric"
    return f"{p.name}={p.mean:.4g}"


def _what(node: Node) -> str:
    label = node.tag or node.plan or node.kind
    return " ".join(label.split())[:90]


def memory_lines(journal: Journal, limit: int) -> tuple[list[str], list[str]]:
    """(worked, failed): at most ``limit`` lines in all, roughly half each, best and most recent first."""
    if limit <= 0:
        return [], []
    done = [n for n in journal.nodes if n.status == "done" and n.kind != "seed"]
    good = [n for n in done if n.is_good]
    ranked: list[Node] = []
    for n in good:
        i = 0
        while i < len(ranked) and not n.better_than(ranked[i]):
            i += 1
        ranked.insert(i, n)
    bad = [n for n in done if n.is_buggy][::-1]
    n_good = min(len(ranked), max(limit - min(len(bad), limit // 2), limit // 2))
    n_bad = min(len(bad), limit - n_good)
    worked = [f"{n.kind} {_what(n)}: {_metric_text(n)}" for n in ranked[:n_good]]
    failed = [f"{n.kind} {_what(n)}: {' '.join(n.bug_reason.split())[:120]}" for n in bad[:n_bad]]
    return worked, failed


def reward(journal: Journal, node: Node) -> float:
    if not node.is_good:
        return 0.0
    parent = journal.find(node.parent)
    if parent is None or not parent.is_good:
        return 1.0
    return 1.0 if node.better_than(parent) else 0.0


def arm_stats(journal: Journal, models: Sequence[str]) -> dict[str, tuple[int, float]]:
    """model -> (pulls, total reward) over finished non-seed nodes written by a model."""
    stats = {m: (0, 0.0) for m in models}
    for n in journal.nodes:
        if n.status != "done" or n.kind == "seed" or n.model not in stats:
            continue
        pulls, total = stats[n.model]
        stats[n.model] = (pulls + 1, total + reward(journal, n))
    return stats


def choose_model(journal: Journal, models: Sequence[str], c: float, in_flight: Sequence[str] = ()) -> str:
    """The model with the highest UCB1 score; models in flight count as pulled with no reward yet."""
    if not models:
        raise ValueError("choose_model needs at least one model")
    stats = arm_stats(journal, models)
    for m in in_flight:
        if m in stats:
            pulls, total = stats[m]
            stats[m] = (pulls + 1, total)
    for m in models:
        if stats[m][0] == 0:
            return m
    total_pulls = sum(p for p, _ in stats.values())
    best, best_score = models[0], -math.inf
    for m in models:
        pulls, total = stats[m]
        score = total / pulls + c * math.sqrt(2.0 * math.log(total_pulls) / pulls)
        if score > best_score:
            best, best_score = m, score
    return best


def cap_left(journal: Journal, stage: int, search: SearchSettings, pending: Sequence[Action] = ()) -> int:
    used = len(stage_work_nodes(journal, stage)) + sum(1 for a in pending if a.stage == stage and a.kind != "seed")
    return max(0, stage_cap(search, stage) - used)


def _no_improvement_run(journal: Journal, stage: int) -> int:
    """How many of the stage's most recent good nodes in a row failed to beat the best before them."""
    rec = journal.stage_record(stage)
    root = journal.find(rec.root) if rec else None
    good = sorted(
        (n for n in journal.good_nodes(stage) if n.kind != "seed"), key=lambda n: (n.finished_at or 0.0, n.id)
    )
    best = root if root is not None and root.is_good else None
    run = 0
    for n in good:
        if best is None or n.better_than(best):
            best, run = n, 0
        else:
            run += 1
    return run


def check_completion(
    journal: Journal, stage: int, search: SearchSettings, pending: Sequence[Action] = ()
) -> Completion | None:
    """The stage's completion by its explicit criteria, or None while it should go on."""
    work = stage_work_nodes(journal, stage)
    in_flight = any(a.stage == stage for a in pending) or any(n.status != "done" for n in work)
    finished = [n for n in work if n.status == "done"]
    cap = stage_cap(search, stage)
    at_cap = len(work) >= cap and not in_flight
    if stage == 1:
        good = [n for n in finished if n.is_good]
        if good:
            return Completion("done", f"first good node {good[0].id} found after {len(finished)} node(s)")
        if at_cap:
            return Completion("failed", f"no working implementation after {len(finished)} node(s) (cap {cap})")
        return None
    if at_cap:
        return Completion("done", f"iteration cap {cap} reached")
    if stage in (2, 4):
        rec = journal.stage_record(stage)
        if (
            rec is not None
            and rec.proposals is not None
            and not in_flight
            and not unused_proposals(journal, stage, pending)
            and not debuggable_leaves(journal, stage, search, pending)
        ):
            what = "hyperparameter settings" if stage == 2 else "ablations"
            return Completion("done", f"all {len(rec.proposals)} proposed {what} run")
        return None
    run = _no_improvement_run(journal, stage)
    if run >= search.patience:
        return Completion("done", f"{run} good nodes in a row without improvement (patience {search.patience})")
    return None
