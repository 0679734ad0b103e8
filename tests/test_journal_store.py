"""The append-only journal store: round trips, bytes per sync independent of the journal's size, a torn last line,
a crash between compaction's renames, old snapshot-only journals, and kill -9 of a writer at random moments."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from agents.experiments.journal import CoderStats, Journal, StageRecord
from agents.experiments.journal_store import JournalStore, load_journal, log_path
from agents.testing.synthetic_journal import grow, new_node, verdict

ROOT = Path(__file__).resolve().parents[1]


def dump(j: Journal) -> str:
    return j.model_dump_json()


def test_sync_round_trip_appends_only_changes(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    rng = random.Random(1)
    j = grow(Journal(idea={"title": "t"}), 30, rng, open_nodes=2)
    store = JournalStore(path)
    store.compact(j)
    snapshot = path.read_bytes()
    node = j.add(new_node(j, rng, 99.0))
    store.sync(j)
    verdict(node, rng)
    j.note("stage 1 done")
    rec = j.stage_record(1)
    assert rec is not None
    rec.status, rec.reason = "done", "first good node"
    j.coder_stats["coder-a"] = CoderStats(programs=3)
    store.sync(j)
    assert path.read_bytes() == snapshot  # the snapshot is not rewritten by a sync
    assert dump(load_journal(path)) == dump(j)
    assert store.sync(j) == 0  # nothing changed, nothing written
    store.compact(j)
    assert log_path(path).read_text().count("\n") == 1  # a fresh log: its header only
    assert dump(load_journal(path)) == dump(j)


def test_bytes_per_node_do_not_grow_with_the_journal(tmp_path: Path) -> None:
    per_node = []
    for n in (10, 1000):
        rng = random.Random(2)
        j = grow(Journal(), n, rng, payload=2000)
        store = JournalStore(tmp_path / f"j{n}.json")
        store.compact(j)
        before = store.bytes_written
        for _ in range(20):
            node = j.add(new_node(j, rng, 0.0, payload=2000))
            store.sync(j)
            verdict(node, rng)
            store.sync(j)
        per_node.append((store.bytes_written - before) / 20)
        assert dump(load_journal(tmp_path / f"j{n}.json")) == dump(j)
    assert per_node[1] < per_node[0] * 1.2, per_node


def test_a_torn_last_line_is_ignored_and_its_node_stays_running(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    rng = random.Random(3)
    j = grow(Journal(), 5, rng)
    store = JournalStore(path)
    store.compact(j)
    node = j.add(new_node(j, rng, 1.0))
    store.sync(j)
    verdict(node, rng)
    store.sync(j)
    log = log_path(path)
    data = log.read_bytes()
    log.write_bytes(data[: len(data) - 40])  # the kill came in the middle of the last write
    back = load_journal(path)
    assert back.get(node.id).status == "running"
    assert len(back.nodes) == 6


def test_a_crash_between_compaction_renames_keeps_the_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    rng = random.Random(4)
    j = grow(Journal(), 8, rng)
    store = JournalStore(path)
    store.compact(j)
    node = j.add(new_node(j, rng, 1.0))
    store.sync(j)
    stale_log = log_path(path).read_bytes()
    store.compact(j)
    log_path(path).write_bytes(stale_log)  # as if the second rename never happened
    back = load_journal(path)
    assert [n.id for n in back.nodes] == [n.id for n in j.nodes]  # the stale log's node is not duplicated
    assert back.get(node.id).status == "running"


def test_an_old_snapshot_only_journal_loads(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    j = grow(Journal(idea={"title": "old"}), 12, random.Random(5))
    j.stages.append(StageRecord(stage=1, status="done"))
    path.write_text(j.model_dump_json(indent=1))  # the format every earlier version wrote
    assert "log" not in json.loads(path.read_text())
    assert dump(load_journal(path)) == dump(j)


WRITER = """
import random, sys
from pathlib import Path
from agents.experiments.journal import Journal
from agents.experiments.journal_store import JournalStore
from agents.testing.synthetic_journal import new_node, verdict
rng = random.Random(int(sys.argv[2]))
store = JournalStore(Path(sys.argv[1]))
j = store.load()
store.compact(j)
while True:
    node = j.add(new_node(j, rng, 0.0, payload=3000))
    store.sync(j)
    verdict(node, rng)
    store.sync(j)
    if rng.random() < 0.05:
        store.compact(j)
    print(node.id, flush=True)
"""


def test_kill_9_at_random_moments_loses_no_finished_node(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    finished: list[str] = []
    rng = random.Random(6)
    for round_ in range(6):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(round_)], stdout=subprocess.PIPE, env=env, text=True
        )
        try:
            time.sleep(0.8 + rng.random() * 0.6)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate(timeout=30)
        finished += out.split()
        back = load_journal(path)  # what a resume would see
        status = {n.id: n.status for n in back.nodes}
        missing = [i for i in finished if status.get(i) != "done"]
        assert not missing, f"round {round_}: finished nodes lost: {missing[:5]}"
        assert len(status) == len(back.nodes)  # no node twice
    assert len(finished) > 20
