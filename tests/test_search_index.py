"""The incremental journal index gives exactly what the old full scans gave (tests/search_reference.py), on random
journals, while they grow node by node, with nodes in flight, ties, both metric directions and pending actions."""

from __future__ import annotations

import random

import pytest
import search_reference as old

from agents.experiments import bandit, memory, policy, stages
from agents.experiments.journal import Journal
from agents.experiments.journal_index import index_of, touch
from agents.experiments.policy import Action
from agents.settings import SearchSettings
from agents.testing.synthetic_journal import MODELS, grow, new_node, verdict


def pending_for(journal: Journal, rng: random.Random) -> list[Action]:
    good = [n for n in journal.nodes if n.is_good]
    out: list[Action] = []
    for _ in range(rng.randrange(4)):
        if good and rng.random() < 0.6:
            out.append(Action("improve", rng.choice((1, 3)), parent=rng.choice(good).id))
        else:
            out.append(Action(rng.choice(("draft", "tune")), rng.choice((1, 2)), tag=f"lr={rng.randrange(20)}"))
    buggy = [n for n in journal.nodes if n.is_buggy]
    if buggy and rng.random() < 0.5:
        b = rng.choice(buggy)
        out.append(Action("debug", b.stage, parent=b.id))
    return out


def assert_same(journal: Journal, search: SearchSettings, rng: random.Random) -> None:
    for limit in (0, 1, 4, 7, 12):
        assert memory.memory_lines(journal, limit) == old.memory_lines(journal, limit)
    assert bandit.arm_stats(journal, MODELS) == old.arm_stats(journal, MODELS)
    ix = index_of(journal)
    for stage in (None, 1, 2, 3, 4):
        assert ix.best_node(stage) is journal.best_node(stage)
    pending = pending_for(journal, rng)
    for stage in (1, 2, 3, 4):
        assert policy.parent_candidates(journal, stage) == old.parent_candidates(journal, stage)
        assert policy.debuggable_leaves(journal, stage, search, pending) == old.debuggable_leaves(
            journal, stage, search, pending
        )
        assert policy.unused_proposals(journal, stage, pending) == old.unused_proposals(journal, stage, pending)
        assert stages.cap_left(journal, stage, search, pending) == old.cap_left(journal, stage, search, pending)
        assert stages.check_completion(journal, stage, search, pending) == old.check_completion(
            journal, stage, search, pending
        )
        assert stages._no_improvement_run(journal, stage) == old._no_improvement_run(journal, stage)
        cands = policy.parent_candidates(journal, stage)
        assert policy.sampling_weights(journal, cands, 5.0, pending) == old.sampling_weights(
            journal, cands, 5.0, pending
        )
        seed = rng.randrange(10**6)
        assert policy.choose_action(journal, stage, search, random.Random(seed), pending) == old.choose_action(
            journal, stage, search, random.Random(seed), pending
        )
    assert bandit.choose_model(journal, MODELS, 1.4) == old.choose_model(journal, MODELS, 1.4)


@pytest.mark.parametrize("seed", range(6))
def test_index_equals_full_scans_while_a_journal_grows(seed: int) -> None:
    rng = random.Random(seed)
    search = SearchSettings(num_drafts=3, debug_prob=0.5, max_debug_depth=2, patience=4)
    journal = grow(Journal(), 20, rng, open_nodes=3)
    in_flight = [n for n in journal.nodes if n.status != "done"]
    for step in range(120):
        assert_same(journal, search, rng) if step % 5 == 0 else None
        if in_flight and rng.random() < 0.5:
            verdict(in_flight.pop(rng.randrange(len(in_flight))), rng)
        else:
            in_flight.append(journal.add(new_node(journal, rng, float(len(journal.nodes)))))
    assert_same(journal, search, rng)


def test_index_on_a_large_random_journal_and_after_a_requeue() -> None:
    rng = random.Random(7)
    search = SearchSettings(num_drafts=3, debug_prob=0.3, max_debug_depth=3, patience=6)
    journal = grow(Journal(), 600, rng, open_nodes=5)
    assert_same(journal, search, rng)
    journal.requeue_interrupted()  # replaces the node list: the index is rebuilt
    assert_same(journal, search, rng)


def test_touch_rebuilds_after_a_finished_node_changes() -> None:
    rng = random.Random(3)
    journal = grow(Journal(), 80, rng)
    search = SearchSettings()
    assert_same(journal, search, rng)
    best = journal.best_node()
    assert best is not None
    best.is_buggy = True  # a verdict changed after the fact: the index must be told
    touch(journal)
    assert_same(journal, search, rng)
