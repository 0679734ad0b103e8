"""A UCB1 bandit over coder models, rewarded by improvement over the parent (ShinkaEvolve's model ensemble).

Its state is derived from the journal (each node records the model that wrote it), so it survives a resume.
Reward of a node: 1 when it is good and beats its parent (or its parent is not good, or it has none), else 0.
Untried models are tried first, in the configured order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from agents.experiments.journal import Journal, Node
from agents.experiments.journal_index import index_of


def reward(journal: Journal, node: Node) -> float:
    if not node.is_good:
        return 0.0
    parent = journal.find(node.parent)
    if parent is None or not parent.is_good:
        return 1.0
    return 1.0 if node.better_than(parent) else 0.0


def arm_stats(journal: Journal, models: Sequence[str]) -> dict[str, tuple[int, float]]:
    """model -> (pulls, total reward) over finished non-seed nodes written by a model."""
    arms = index_of(journal).arms  # kept as nodes finish (a node's parent has finished before it)
    return {m: (int(arms[m][0]), float(arms[m][1])) if m in arms else (0, 0.0) for m in models}


def choose_model(journal: Journal, models: Sequence[str], c: float, in_flight: Sequence[str] = ()) -> str:
    """The model with the highest UCB1 score; models in flight count as pulled with no reward yet."""
    return ucb_choice(arm_stats(journal, models), models, c, in_flight)


def ucb_choice(
    stats: dict[str, tuple[int, float]], models: Sequence[str], c: float, in_flight: Sequence[str] = ()
) -> str:
    """UCB1 over ``stats`` (model -> (pulls, total reward)); any search policy that keeps its own counts uses it."""
    if not models:
        raise ValueError("choose_model needs at least one model")
    stats = {m: stats.get(m, (0, 0.0)) for m in models}
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
