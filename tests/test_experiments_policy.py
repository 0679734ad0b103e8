"""Unit tests of the search's pure parts: the journal's order and views, the policy, stages, bandit and memory."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from agents.experiments.bandit import arm_stats, choose_model, reward
from agents.experiments.journal import Journal, Metric, MetricValue, Node, StageRecord
from agents.experiments.memory import memory_lines
from agents.experiments.policy import (
    Action,
    choose_action,
    sampling_weights,
    seed_actions,
    sigmoid,
    unused_proposals,
)
from agents.experiments.stages import aggregate_seeds, cap_left, check_completion, select_best
from agents.settings import SearchSettings


def mk(
    j: Journal,
    kind: str = "draft",
    stage: int = 1,
    *,
    parent: str | None = None,
    score: float | None = None,
    direction: str = "maximize",
    buggy: bool = False,
    status: str = "done",
    depth: int = 0,
    tag: str = "",
    seed: int | None = None,
    finished: float | None = None,
) -> Node:
    metric = MetricValue()
    if score is not None:
        metric = MetricValue(metrics=[Metric(name="acc", direction=direction, values={"d": score})])
    n = Node(
        stage=stage,
        kind=kind,
        parent=parent,
        metric=metric,
        is_buggy=buggy,
        bug_reason="boom" if buggy else "",
        status=status,
        debug_depth=depth,
        tag=tag,
        seed=seed,
        finished_at=finished if finished is not None else float(len(j.nodes)),
    )
    return j.add(n)


def search(**kw: object) -> SearchSettings:
    return SearchSettings(**kw)


# -- journal ------------------------------------------------------------------------------------------------------


def test_better_than_is_direction_aware_and_buggy_is_worst() -> None:
    j = Journal()
    hi, lo = mk(j, score=0.9), mk(j, score=0.1)
    assert hi.better_than(lo) and not lo.better_than(hi)
    loss_small, loss_big = mk(j, score=0.1, direction="minimize"), mk(j, score=0.9, direction="minimize")
    assert loss_small.better_than(loss_big) and not loss_big.better_than(loss_small)
    bug = mk(j, score=100.0, buggy=True)
    assert lo.better_than(bug) and not bug.better_than(lo)
    running = mk(j, score=5.0, status="running")
    assert lo.better_than(running) and not running.better_than(lo)
    no_metric = mk(j)
    assert lo.better_than(no_metric) and not no_metric.is_good
    assert not hi.better_than(hi)


def test_nan_metric_is_not_good() -> None:
    j = Journal()
    n = mk(j, score=float("nan"))
    assert n.metric.score is None and not n.is_good


def test_views_best_and_good_nodes_skip_seeds_and_ablations() -> None:
    j = Journal()
    d = mk(j, score=0.5)
    mk(j, "seed", parent=d.id, score=0.99, seed=1)
    mk(j, "ablate", stage=4, parent=d.id, score=0.98, tag="x")
    b = mk(j, "draft", buggy=True)
    assert j.best_node() is d
    assert {n.id for n in j.good_nodes(1)} == {d.id, j.nodes[1].id}
    assert j.buggy_leaves() == [b]
    assert j.children(d.id) == [j.nodes[2]]  # seed runs are not children
    assert [n.seed for n in j.seed_runs(d.id)] == [1]
    mk(j, "debug", parent=b.id, buggy=True, depth=1)
    assert [n.kind for n in j.buggy_leaves()] == ["debug"]


def test_journal_round_trip_is_atomic(tmp_path: Path) -> None:
    j = Journal(idea={"title": "t"})
    d = mk(j, score=0.5)
    j.stages.append(StageRecord(stage=1, best=d.id, status="done", reason="first good node"))
    path = tmp_path / "journal.json"
    j.save(path)
    back = Journal.load(path)
    assert back.get(d.id).metric.score == 0.5
    assert back.stage_record(1).reason == "first good node"
    assert [p.name for p in tmp_path.iterdir()] == ["journal.json"]
    assert Journal.load(tmp_path / "missing.json").nodes == []


# -- policy -------------------------------------------------------------------------------------------------------


def test_stage1_drafts_until_num_drafts_counting_in_flight() -> None:
    j = Journal()
    s = search(num_drafts=3)
    rng = random.Random(0)
    assert choose_action(j, 1, s, rng) == Action("draft", 1)
    mk(j, buggy=True)
    pending = [Action("draft", 1)]
    assert choose_action(j, 1, s, rng, pending).kind == "draft"
    pending.append(Action("draft", 1))
    assert choose_action(j, 1, s, random.Random(1), pending).kind != "draft" or s.debug_prob < 1


def test_stage1_debugs_with_probability_and_respects_depth_cap() -> None:
    j = Journal()
    s = search(num_drafts=1, debug_prob=1.0, max_debug_depth=2)
    d = mk(j, buggy=True)
    a = choose_action(j, 1, s, random.Random(0))
    assert a == Action("debug", 1, parent=d.id)
    c1 = mk(j, "debug", parent=d.id, buggy=True, depth=1)
    assert choose_action(j, 1, s, random.Random(0)).parent == c1.id
    mk(j, "debug", parent=c1.id, buggy=True, depth=2)  # depth 2 == cap: a fix would be depth 3
    assert choose_action(j, 1, s, random.Random(0)).kind == "draft"
    never = search(num_drafts=1, debug_prob=0.0)
    j2 = Journal()
    mk(j2, buggy=True)
    assert all(choose_action(j2, 1, never, random.Random(i)).kind == "draft" for i in range(20))


def test_debug_probability_is_respected_statistically() -> None:
    j = Journal()
    mk(j, buggy=True)
    mk(j, score=0.5)
    s = search(num_drafts=2, debug_prob=0.3)
    rng = random.Random(42)
    kinds = Counter(choose_action(j, 1, s, rng).kind for _ in range(2000))
    assert 0.25 < kinds["debug"] / 2000 < 0.35
    assert kinds["improve"] + kinds["debug"] == 2000


def test_leaf_being_debugged_is_not_chosen_twice() -> None:
    j = Journal()
    d = mk(j, buggy=True)
    s = search(num_drafts=1, debug_prob=1.0)
    busy = [Action("debug", 1, parent=d.id)]
    assert choose_action(j, 1, s, random.Random(0), busy).kind == "draft"


def test_sampling_weights_follow_the_formula() -> None:
    j = Journal()
    a, b, c = mk(j, score=1.0), mk(j, score=2.0), mk(j, score=3.0)
    mk(j, "improve", parent=c.id, score=0.0)  # c has one child (that is also a candidate below? no: not passed)
    w = sampling_weights(j, [a, b, c], lam=2.0)
    # median 2, MAD*1.4826 = 1.4826; c's weight is halved by its child
    raw = [sigmoid(2.0 * (x - 2.0) / 1.4826) for x in (1.0, 2.0, 3.0)]
    raw[2] /= 2
    assert w == pytest.approx([r / sum(raw) for r in raw])
    assert sum(w) == pytest.approx(1.0)


def test_sampling_equal_scores_penalises_children_and_pending() -> None:
    j = Journal()
    a, b = mk(j, score=1.0), mk(j, score=1.0)
    mk(j, "improve", parent=a.id, score=0.5)
    w = sampling_weights(j, [a, b], lam=10.0, pending=[Action("improve", 1, parent=b.id)] * 3)
    assert w == pytest.approx([(1 / 2) / (1 / 2 + 1 / 4), (1 / 4) / (1 / 2 + 1 / 4)])


def test_sampling_exploits_better_nodes_with_large_lambda() -> None:
    j = Journal()
    cands = [mk(j, score=x) for x in (0.1, 0.2, 0.3, 0.9)]
    j.stages.append(StageRecord(stage=3, root=cands[0].id))
    for c in cands[1:]:
        c.stage = 3

    def picks(lam: float) -> Counter[str | None]:
        rng = random.Random(3)
        s = search(debug_prob=0.0, sampling_lambda=lam)
        return Counter(choose_action(j, 3, s, rng).parent for _ in range(500))

    sharp, soft = picks(20.0), picks(1.0)
    # exploit: the sigmoid saturates, so the two above-median nodes share nearly all picks
    assert sharp[cands[2].id] + sharp[cands[3].id] > 490
    assert soft.most_common(1)[0][0] == cands[3].id and set(soft) == {c.id for c in cands}  # and explore
    uniform = sampling_weights(j, cands, lam=0.0)
    assert uniform == pytest.approx([0.25] * 4)


def test_sampling_rejects_ungraded_candidates() -> None:
    j = Journal()
    with pytest.raises(ValueError):
        sampling_weights(j, [mk(j, buggy=True)], lam=1.0)


def test_stage2_tunes_each_proposal_once_then_stops() -> None:
    j = Journal()
    root = mk(j, score=0.5)
    j.stages.append(StageRecord(stage=2, root=root.id, proposals=["lr=0.1", "LR = 0.1", "epochs=5"]))
    s = search(debug_prob=0.0)
    rng = random.Random(0)
    a1 = choose_action(j, 2, s, rng)
    assert a1 == Action("tune", 2, parent=root.id, tag="lr=0.1")
    a2 = choose_action(j, 2, s, rng, [a1])
    assert a2.tag == "epochs=5"  # "LR = 0.1" is the same setting (normalised); no repeat
    mk(j, "tune", 2, parent=root.id, tag="lr=0.1", score=0.6)
    mk(j, "tune", 2, parent=root.id, tag="epochs=5", buggy=True)
    assert unused_proposals(j, 2, []) == []
    assert choose_action(j, 2, s, rng) is not None  # the buggy tune can still be debugged
    dbg = choose_action(j, 2, s, rng)
    assert dbg.kind == "debug" and dbg.tag == "epochs=5"
    mk(j, "debug", 2, parent=dbg.parent, tag="epochs=5", score=0.4, depth=1)
    assert choose_action(j, 2, s, rng) is None


def test_stage4_ablates_from_root_without_duplicates() -> None:
    j = Journal()
    root = mk(j, "improve", 3, score=0.9)
    j.stages.append(StageRecord(stage=4, root=root.id, proposals=["no momentum", "no_momentum", "no dropout"]))
    s = search(debug_prob=0.0)
    tags = []
    pending: list[Action] = []
    while (a := choose_action(j, 4, s, random.Random(0), pending)) is not None:
        assert a.kind == "ablate" and a.parent == root.id
        pending.append(a)
        tags.append(a.tag)
    assert tags == ["no momentum", "no dropout"]


def test_stage3_improves_root_or_stage_nodes() -> None:
    j = Journal()
    root = mk(j, "tune", 2, score=0.5)
    other = mk(j, "draft", 1, score=0.99)  # not a candidate: wrong stage, not the root
    j.stages.append(StageRecord(stage=3, root=root.id))
    s = search(debug_prob=0.0)
    assert choose_action(j, 3, s, random.Random(0)) == Action("improve", 3, parent=root.id)
    child = mk(j, "improve", 3, parent=root.id, score=0.7)
    parents = {choose_action(j, 3, s, random.Random(i)).parent for i in range(50)}
    assert parents <= {root.id, child.id} and other.id not in parents


def test_seed_actions_skip_existing_and_in_flight() -> None:
    j = Journal()
    best = mk(j, score=0.5)
    mk(j, "seed", parent=best.id, score=0.4, seed=1)
    acts = seed_actions(j, best, 1, 3, [Action("seed", 1, parent=best.id, seed=2)])
    assert acts == [Action("seed", 1, parent=best.id, seed=3)]


def test_policy_is_reproducible_with_the_same_seed() -> None:
    j = Journal()
    for x in (0.1, 0.5, 0.4, 0.8):
        mk(j, score=x)
    mk(j, buggy=True)
    s = search(num_drafts=1, debug_prob=0.4)
    seq = [[choose_action(j, 1, s, rng) for _ in range(30)] for rng in (random.Random(5), random.Random(5))]
    assert seq[0] == seq[1]


# -- stages ---------------------------------------------------------------------------------------------------------


def test_stage1_completion_and_failure() -> None:
    j = Journal()
    s = search(stage_iters=[2, 2, 2, 2])
    mk(j, buggy=True)
    assert check_completion(j, 1, s) is None
    assert cap_left(j, 1, s, [Action("draft", 1)]) == 0
    mk(j, "debug", parent=j.nodes[0].id, buggy=True, depth=1)
    comp = check_completion(j, 1, s)
    assert comp is not None and comp.status == "failed" and "no working implementation" in comp.reason
    j2 = Journal()
    good = mk(j2, score=0.3)
    comp = check_completion(j2, 1, s)
    assert comp.status == "done" and good.id in comp.reason


def test_cap_waits_for_nodes_in_flight() -> None:
    j = Journal()
    root = mk(j, score=0.5)
    j.stages.append(StageRecord(stage=3, root=root.id))
    s = search(stage_iters=[2, 2, 2, 2], patience=5)
    mk(j, "improve", 3, parent=root.id, score=0.6)
    running = mk(j, "improve", 3, parent=root.id, status="running")
    assert check_completion(j, 3, s) is None
    running.status, running.metric = "done", MetricValue(metrics=[Metric(name="acc", values={"d": 0.7})])
    assert check_completion(j, 3, s).reason == "iteration cap 2 reached"


def test_stage3_patience() -> None:
    j = Journal()
    root = mk(j, score=0.5)
    j.stages.append(StageRecord(stage=3, root=root.id))
    s = search(stage_iters=[9, 9, 9, 9], patience=2)
    mk(j, "improve", 3, parent=root.id, score=0.7)
    mk(j, "improve", 3, parent=root.id, score=0.6)
    assert check_completion(j, 3, s) is None
    mk(j, "improve", 3, parent=root.id, score=0.65)
    comp = check_completion(j, 3, s)
    assert comp is not None and "patience 2" in comp.reason


def test_select_best_by_metric_and_tie_break_only_on_ties() -> None:
    j = Journal()
    root = mk(j, score=0.5)
    j.stages.append(StageRecord(stage=3, root=root.id))
    a = mk(j, "improve", 3, parent=root.id, score=0.8)
    calls: list[list[str]] = []

    def tie(nodes: list[Node]) -> Node:
        calls.append([n.id for n in nodes])
        return nodes[-1]

    assert select_best(j, 3, tie) is a and calls == []
    b = mk(j, "improve", 3, parent=root.id, score=0.8)
    assert select_best(j, 3, tie) is b and calls == [[a.id, b.id]]
    assert select_best(j, 3, lambda nodes: root) is a  # a choice outside the tie is ignored


def test_aggregate_seeds_mean_and_standard_error() -> None:
    j = Journal()
    best = mk(j, score=1.0)
    mk(j, "seed", parent=best.id, score=2.0, seed=1)
    mk(j, "seed", parent=best.id, score=3.0, seed=2)
    mk(j, "seed", parent=best.id, buggy=True, seed=3)
    aggregate_seeds(j, best)
    m = best.metric.primary
    assert m.seed_mean == {"d": pytest.approx(2.0)}
    assert m.std_err == {"d": pytest.approx(1.0 / 3**0.5)}
    assert m.n_seeds == 3
    assert m.values == {"d": 1.0}  # the node's own run is kept


# -- bandit and memory ----------------------------------------------------------------------------------------------


def test_ucb_bandit_tries_every_model_then_prefers_rewarding_ones() -> None:
    j = Journal()
    models = ["a", "b"]
    assert choose_model(j, models, 1.0) == "a"
    assert choose_model(j, models, 1.0, in_flight=["a"]) == "b"
    root = mk(j, score=0.5)
    for i in range(6):
        n = mk(j, "improve", parent=root.id, score=0.6 + i / 100)
        n.model = "a"
        m = mk(j, "improve", parent=root.id, score=0.1)
        m.model = "b"
    stats = arm_stats(j, models)
    assert stats == {"a": (6, 6.0), "b": (6, 0.0)}
    assert choose_model(j, models, 0.5) == "a"
    assert reward(j, j.nodes[-1]) == 0.0 and reward(j, root) == 1.0


def test_memory_lists_best_successes_and_recent_failures() -> None:
    j = Journal()
    mk(j, score=0.2).plan = "small model"
    mk(j, score=0.9).plan = "big model"
    bad = mk(j, buggy=True)
    bad.plan, bad.bug_reason = "huge model", "MemoryError"
    mk(j, "seed", score=0.95, seed=1)
    worked, failed = memory_lines(j, 4)
    assert worked[0].startswith("draft big model") and "acc=0.9" in worked[0]
    assert len(worked) == 2 and not any("seed" in w for w in worked)
    assert failed == ["draft huge model: MemoryError"]
    assert memory_lines(j, 0) == ([], [])
    w2, f2 = memory_lines(j, 2)
    assert len(w2) + len(f2) == 2 and f2
