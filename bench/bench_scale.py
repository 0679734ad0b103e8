"""Benchmark of one search step on large journals: time per step and bytes written per node.

    python bench/bench_scale.py [--sizes 10,100,1000,10000] [--steps 40] [--old 1000] [--json]

A synthetic journal of n finished nodes (agents/testing/synthetic_journal.py, ~4 KB of code and output per
node) is built first (not timed). Then each step does what the experiment manager's main thread and a worker do
per node, minus the model call and the program run: the stage's cap and completion check, the policy's next
action (fitness-weighted parent sampling with 3 actions in flight), the coder model choice (UCB bandit over two
models), the coder prompt's what-worked/what-failed memory, adding the node as ``running`` and saving, finishing
it and saving, and the progress line. ``--old N`` also times the same step with the pre-index full scans
(tests/search_reference.py) and a whole-journal rewrite per save, for sizes up to N.

Goals: <= 20 ms per step at 10,000 nodes; bytes per node independent of n.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import search_reference as old  # noqa: E402

from agents.experiments import bandit, memory, policy, stages  # noqa: E402
from agents.experiments.journal import Journal  # noqa: E402
from agents.experiments.journal_index import index_of  # noqa: E402
from agents.experiments.journal_store import JournalStore  # noqa: E402
from agents.experiments.policy import Action  # noqa: E402
from agents.settings import SearchSettings  # noqa: E402
from agents.testing.synthetic_journal import MODELS, grow, new_node, verdict  # noqa: E402

PAYLOAD = 2000
SEARCH = SearchSettings(num_drafts=3, debug_prob=0.3, max_debug_depth=3, patience=10**9, stage_iters=[10**6] * 4)


def _in_flight(journal: Journal) -> list[Action]:
    good = [n for n in journal.nodes[-200:] if n.is_good and n.stage == 3]
    return [Action("improve", 3, parent=n.id) for n in good[:3]]


def step_new(journal: Journal, store: JournalStore, rng: random.Random, pending: list[Action]) -> None:
    stages.check_completion(journal, 3, SEARCH, pending)
    stages.cap_left(journal, 3, SEARCH, pending)
    policy.choose_action(journal, 3, SEARCH, rng, pending)
    bandit.choose_model(journal, MODELS, SEARCH.ucb_c)
    memory.memory_lines(journal, SEARCH.memory_lines)
    with journal.lock:
        node = journal.add(new_node(journal, rng, time.time(), PAYLOAD))
        store.sync(journal)
    verdict(node, rng)
    with journal.lock:
        store.sync(journal)
    ix = index_of(journal)
    ix.best_node(), ix.done, ix.buggy, len(ix.open)


def step_old(journal: Journal, path: Path, rng: random.Random, pending: list[Action]) -> None:
    old.check_completion(journal, 3, SEARCH, pending)
    old.cap_left(journal, 3, SEARCH, pending)
    old.choose_action(journal, 3, SEARCH, rng, pending)
    old.choose_model(journal, MODELS, SEARCH.ucb_c)
    old.memory_lines(journal, SEARCH.memory_lines)
    node = journal.add(new_node(journal, rng, time.time(), PAYLOAD))
    journal.save(path)
    verdict(node, rng)
    journal.save(path)
    done = [n for n in journal.nodes if n.status == "done"]
    journal.best_node(), len(done), sum(1 for n in done if n.is_buggy)


def _timed(steps: int, fn: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - t0) / steps * 1000


def measure(n: int, steps: int, with_old: bool, tmp: Path) -> dict[str, Any]:
    rng = random.Random(n)
    journal = grow(Journal(idea={"title": "bench"}), n, rng, payload=PAYLOAD)
    pending = _in_flight(journal)
    store = JournalStore(tmp / f"new{n}.json")
    store.compact(journal)
    index_of(journal)  # built once when a run opens (like the snapshot): not part of a step
    before = store.bytes_written
    row: dict[str, Any] = {"nodes": n, "snapshot_bytes": before}
    row["ms_per_step"] = round(_timed(steps, lambda: step_new(journal, store, rng, pending)), 2)
    row["bytes_per_node"] = round((store.bytes_written - before) / steps)
    if with_old:
        rng = random.Random(n)
        journal = grow(Journal(idea={"title": "bench"}), n, rng, payload=PAYLOAD)
        path = tmp / f"old{n}.json"
        journal.save(path)
        sizes: list[int] = []
        k = max(3, min(steps, 20000 // max(n, 1)))

        def one() -> None:
            step_old(journal, path, rng, pending)
            sizes.append(2 * path.stat().st_size)

        row["old_ms_per_step"] = round(_timed(k, one), 2)
        row["old_bytes_per_node"] = round(sum(sizes) / len(sizes))
        row["speedup"] = round(row["old_ms_per_step"] / row["ms_per_step"], 1)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,100,1000,10000")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--old", type=int, default=1000, help="also time the old full scans up to this size (0: never)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            rows.append(measure(n, args.steps, n <= args.old, Path(tmp)))
            if not args.json:
                r = rows[-1]
                extra = (
                    f"   old: {r['old_ms_per_step']:>8.2f} ms/step {r['old_bytes_per_node']:>10,} B/node"
                    f"   speedup {r['speedup']}x"
                    if "old_ms_per_step" in r
                    else ""
                )
                print(
                    f"{n:>6} nodes: {r['ms_per_step']:>6.2f} ms/step {r['bytes_per_node']:>7,} B/node{extra}",
                    flush=True,
                )
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
