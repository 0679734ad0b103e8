"""The four stages: iteration caps, explicit completion criteria, best-node selection and seed statistics.

Completion criteria (checked after every finished node; the reason is logged in the journal's notes and in the
stage's record):

1. Initial implementation: done at the first good node; failed ("no working implementation") when the cap is
   reached without one (the search then stops).
2. Baseline tuning: done when every proposed hyperparameter setting has run (and its debugging is exhausted) or
   at the cap.
3. Creative research: done at the cap, after ``patience`` good nodes in a row that do not beat the stage's best,
   or when the model judges the idea's planned experiments covered (at most one judgement call per stage).
4. Ablations: done when every proposed component has been ablated once, or at the cap.

In every stage the policy running out of actions with nothing in flight also ends it ("nothing left to try").
The best node is chosen by metric among the stage's good nodes and its root; only an exact tie asks the model.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from agents.experiments.journal import Journal, Node
from agents.experiments.journal_index import index_of
from agents.experiments.policy import Action, debuggable_leaves, parent_candidates, unused_proposals
from agents.settings import SearchSettings

STAGE_NAMES = {1: "initial implementation", 2: "baseline tuning", 3: "creative research", 4: "ablations"}


@dataclass(frozen=True)
class Completion:
    status: Literal["done", "failed"]
    reason: str


def stage_cap(search: SearchSettings, stage: int) -> int:
    return search.stage_iters[stage - 1]


def stage_work_nodes(journal: Journal, stage: int) -> list[Node]:
    """Nodes that count against the stage's cap (seed re-runs do not)."""
    return [n for n in journal.stage_nodes(stage) if n.kind != "seed"]


def cap_left(journal: Journal, stage: int, search: SearchSettings, pending: Sequence[Action] = ()) -> int:
    used = index_of(journal).work[stage] + sum(1 for a in pending if a.stage == stage and a.kind != "seed")
    return max(0, stage_cap(search, stage) - used)


def _no_improvement_run(journal: Journal, stage: int) -> int:
    """How many of the stage's most recent good nodes in a row failed to beat the best before them."""
    rec = journal.stage_record(stage)
    ix = index_of(journal)
    return ix.no_improvement_run(stage, ix.find(rec.root) if rec else None)


def check_completion(
    journal: Journal, stage: int, search: SearchSettings, pending: Sequence[Action] = ()
) -> Completion | None:
    """The stage's completion by its explicit criteria, or None while it should go on."""
    ix = index_of(journal)
    in_flight = any(a.stage == stage for a in pending) or ix.work_open[stage] > 0
    finished = ix.work_done[stage]
    cap = stage_cap(search, stage)
    at_cap = ix.work[stage] >= cap and not in_flight
    if stage == 1:
        good = ix.good_work[1]
        if good:
            return Completion("done", f"first good node {good[0][1].id} found after {finished} node(s)")
        if at_cap:
            return Completion("failed", f"no working implementation after {finished} node(s) (cap {cap})")
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


def nothing_left(stage: int) -> Completion:
    return Completion("failed" if stage == 1 else "done", "nothing left to try")


TieBreaker = Callable[[list[Node]], Node]


def _ties(cands: list[Node]) -> list[Node]:
    top = max(float(n.metric.score or 0.0) for n in cands)
    return [n for n in cands if math.isclose(float(n.metric.score or 0.0), top, rel_tol=1e-9, abs_tol=1e-12)]


def select_best(journal: Journal, stage: int, tie_breaker: TieBreaker | None = None) -> Node | None:
    """The stage's best node by metric (root included); ``tie_breaker`` (a model call) only for exact ties."""
    cands = parent_candidates(journal, stage)
    if not cands:
        return None
    tied = _ties(cands)
    clean = [n for n in tied if n.plots_status != "invalid"]  # plots judged invalid rank below clean ones
    tied = clean or tied
    if len(tied) == 1 or tie_breaker is None:
        return tied[0]
    choice = tie_breaker(tied)
    return choice if choice in tied else tied[0]


def aggregate_seeds(journal: Journal, node: Node) -> None:
    """Fill ``seed_mean``/``std_err``/``n_seeds`` of ``node``'s metrics from its good seed runs plus itself."""
    runs = [node, *[s for s in journal.seed_runs(node.id) if s.is_good]]
    for metric in node.metric.metrics:
        samples: dict[str, list[float]] = {}
        for run in runs:
            other = next((m for m in run.metric.metrics if m.name == metric.name), None)
            if other is None:
                continue
            for ds, v in other.values.items():
                if math.isfinite(v):
                    samples.setdefault(ds, []).append(v)
        metric.seed_mean = {ds: statistics.fmean(vs) for ds, vs in samples.items()}
        metric.std_err = {
            ds: (statistics.stdev(vs) / math.sqrt(len(vs)) if len(vs) > 1 else 0.0) for ds, vs in samples.items()
        }
        metric.n_seeds = max((len(vs) for vs in samples.values()), default=0)
