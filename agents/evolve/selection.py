"""Who breeds next: parent selection, inspirations, the mutation mix, and migration between islands.

Parent selection follows ShinkaEvolve over an island's elite archive:

- ``weighted``: weight_i = sigmoid(lambda * (score_i - median) / MAD) * 1 / (1 + children_i), MAD the median
  absolute deviation of the scores (floored at 1e-6), so the rule does not depend on the scale of the score;
- ``power_law``: the i-th best (rank i, from 1) is drawn with probability proportional to i^-alpha;
- ``hill_climbing``: always the island's best (the baseline).

The mutation mix starts from ``evolve.operators`` and is reweighted by each operator's measured success:
p(k) is proportional to prior(k) * (valid_k + 1) / (proposals_k + 2). Crossover needs two correct programs.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

from agents.evolve.population import Population, ProgramRecord

POLICIES = ("weighted", "power_law", "hill_climbing")


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def weighted_probs(scores: Sequence[float], children: Sequence[int], lam: float) -> list[float]:
    """ShinkaEvolve's weighted parent probabilities (uniform when every weight is zero)."""
    if not scores:
        return []
    med = _median(scores)
    mad = max(_median([abs(s - med) for s in scores]), 1e-6)
    w = [_sigmoid(lam * (s - med) / mad) / (1.0 + c) for s, c in zip(scores, children, strict=True)]
    total = sum(w)
    return [x / total for x in w] if total > 0 else [1.0 / len(w)] * len(w)


def power_law_probs(n: int, alpha: float) -> list[float]:
    """Probabilities of ranks 1..n proportional to rank^-alpha (best first)."""
    w = [(i + 1) ** (-alpha) for i in range(n)]
    total = sum(w)
    return [x / total for x in w]


def select_parent(pop: Population, island: int, policy: str, rng: random.Random, lam: float, alpha: float) -> str:
    """The id of the parent for the next proposal on ``island``; the initial program when nothing is correct."""
    elites = pop.island_archive(island)
    if not elites:
        elites = pop.archive()
    if not elites:
        first = min(pop.all(), key=lambda p: p.id)
        return first.id
    if policy == "hill_climbing":
        return elites[0].id
    if policy == "power_law":
        probs = power_law_probs(len(elites), alpha)
    elif policy == "weighted":
        with pop.lock:
            kids = [pop.children.get(p.id, 0) for p in elites]
        probs = weighted_probs([p.combined_score for p in elites], kids, lam)
    else:
        raise ValueError(f"unknown parent selection {policy!r}; choose one of {', '.join(POLICIES)}")
    return rng.choices(elites, weights=probs, k=1)[0].id


def inspirations(pop: Population, parent: str, top_k: int, random_k: int, rng: random.Random) -> list[ProgramRecord]:
    """Top archive programs and random archive programs (never the parent itself or a copy of its score)."""
    own = origin(pop, parent)
    pool = [p for p in pop.archive() if origin(pop, p.id) != own and p.kind != "migrant"]
    top = pool[:top_k]
    rest = [p for p in pool if p not in top]
    picked = top + rng.sample(rest, min(random_k, len(rest)))
    return picked


def origin(pop: Population, pid: str) -> str:
    """The program a migrant copies (itself for any other program)."""
    rec = pop.programs.get(pid)
    return rec.parent if rec is not None and rec.kind == "migrant" and rec.parent else pid


def choose_operator(
    priors: Mapping[str, float], stats: Mapping[str, tuple[int, int]], can_cross: bool, rng: random.Random
) -> str:
    """An edit operator drawn from the adapted mix."""
    kinds = [k for k, w in priors.items() if w > 0 and (k != "crossover" or can_cross)]
    if not kinds:
        return "rewrite"
    weights = [priors[k] * (stats.get(k, (0, 0))[1] + 1) / (stats.get(k, (0, 0))[0] + 2) for k in kinds]
    return rng.choices(kinds, weights=weights, k=1)[0]


def operator_mix(priors: Mapping[str, float], stats: Mapping[str, tuple[int, int]]) -> dict[str, float]:
    """The current mix as probabilities (for progress and the report)."""
    w = {k: v * (stats.get(k, (0, 0))[1] + 1) / (stats.get(k, (0, 0))[0] + 2) for k, v in priors.items() if v > 0}
    total = sum(w.values()) or 1.0
    return {k: round(v / total, 3) for k, v in w.items()}


def migrants(pop: Population, count: int) -> list[tuple[ProgramRecord, int]]:
    """(program, destination island) pairs: each island's best ``count`` elites move to the next island (a ring),
    unless the destination already holds that program or a copy of it."""
    out: list[tuple[ProgramRecord, int]] = []
    if pop.islands < 2:
        return out
    for src in range(pop.islands):
        dst = (src + 1) % pop.islands
        present = {p.parent if p.kind == "migrant" else p.id for p in pop.all() if p.island == dst}
        for prog in pop.island_archive(src)[:count]:
            origin = prog.parent if prog.kind == "migrant" and prog.parent else prog.id
            if origin not in present and prog.id not in present:
                out.append((prog, dst))
    return out
