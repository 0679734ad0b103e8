"""A limit hit is a readable verdict end to end: sandbox -> node bug reason (what the coder sees) -> journal ->
report; and a run below sandbox.min_isolation is refused, or allowed with a warning the report shows."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.errors import ConfigError
from agents.experiments.executor import execute
from agents.experiments.journal import Journal, Node
from agents.report.collect import collect
from agents.report.html import render_report
from agents.rundir import create_run
from agents.sandbox import Isolation, LocalSandbox, watch
from agents.sandbox.privileges import sandbox_ids
from agents.settings import SandboxSettings, load_settings

HOG = """
import multiprocessing as mp, time
def hog():
    block = bytearray(200 * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])
    time.sleep(20)
if __name__ == "__main__":
    procs = [mp.Process(target=hog) for _ in range(3)]
    [p.start() for p in procs]
    [p.join() for p in procs]
    print("all three held 600 MiB")
"""


@pytest.fixture
def workspace() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="shoal-verdicts-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_memory_kill_reads_clearly_from_node_to_report(workspace: Path) -> None:
    settings = load_settings(None, ["sandbox.memory_mb=384"], workspace=workspace, cache_dir=workspace / "cache")
    box = LocalSandbox(settings.sandbox)
    if not box.isolation.bwrap:
        pytest.skip("bubblewrap does not run here")
    run = create_run(settings, "verdicts")
    node = Node(stage=1, kind="draft", code=HOG, status="done")
    execute(box, run.path, node, timeout_s=30)
    assert node.exec is not None and node.exec.killed_reason == "memory"
    assert node.exec.verdict == "killed: memory limit 384 MiB"
    assert node.is_buggy and node.bug_reason.startswith("killed: memory limit 384 MiB")  # what the debug step sees
    journal = Journal()
    journal.add(node)
    journal.save(run.file("journal.json"))
    data = collect(run)
    assert data.nodes[0].verdict == "killed: memory limit 384 MiB"
    assert "killed: memory limit 384 MiB" in render_report(data)


def test_below_min_isolation_is_refused_with_the_missing_piece_and_fix(workspace: Path) -> None:
    weak = Isolation(prefix=[], network_isolated=False, pid_namespace=False, ids=sandbox_ids())
    (workspace / "code.py").write_text("print('ran')\n")
    with pytest.raises(ConfigError) as info:
        LocalSandbox(SandboxSettings(backend="local"), isolation=weak).run(workspace, ["python", "code.py"])
    message = str(info.value)
    assert "filesystem" in message and "network" in message and "bubblewrap" in message
    assert "sandbox.allow_weak" in message
    # only what is asked for is required: a user who accepts the host filesystem and network still gets refused
    # nothing else, and allow_weak runs it with a warning
    relaxed = SandboxSettings(backend="local", min_isolation=["user", "pids", "memory", "disk"])
    assert LocalSandbox(relaxed, isolation=weak).run(workspace, ["python", "code.py"]).stdout == "ran\n"
    box = LocalSandbox(SandboxSettings(backend="local", allow_weak=True), isolation=weak)
    assert box.run(workspace, ["python", "code.py"]).stdout == "ran\n"
    assert box.warning is not None and "allow_weak" in box.warning and "filesystem" in box.warning


def test_the_report_shows_an_allow_weak_warning(workspace: Path) -> None:
    settings = load_settings(None, [], workspace=workspace, cache_dir=workspace / "cache")
    run = create_run(settings, "weak")
    run.event("sandbox_weak", warning="sandbox below sandbox.min_isolation (allow_weak = true): filesystem: ...")
    data = collect(run)
    assert data.warnings and "allow_weak" in data.warnings[0]
    assert "sandbox below sandbox.min_isolation" in render_report(data)


def test_bytes_past_the_disk_limit_never_stay_in_the_node_dir(tmp_path: Path) -> None:
    """What a watcher that looked too late let through is removed after the run: newest files, largest first."""
    import time

    old = tmp_path / "code.py"
    old.write_bytes(b"x" * 4096)
    os.utime(old, (time.time() - 60, time.time() - 60))
    since = time.time() - 1
    for name, size in (("a.bin", 3 << 20), ("b.bin", 1 << 20), ("c.bin", 2 << 20)):
        (tmp_path / name).write_bytes(b"y" * size)
    files, freed = watch.trim_written(tmp_path, since, excess=4 << 20)
    assert files == 2 and freed >= 5 << 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.bin", "code.py"]


SPRAY = """
import os, time
os.makedirs("many", exist_ok=True)
for i in range({files}):
    open(f"many/{{i}}", "w").close()
os.makedirs("late", exist_ok=True)
for k in range(3):
    with open(f"late/big{{k}}.bin", "wb") as fh:
        fh.write(b"x" * (1 << 20))
time.sleep(0.5)
print("ALL WRITTEN", flush=True)
"""


@pytest.mark.parametrize(("files", "reason"), [(400, "files"), (150, "disk")])
def test_a_spray_of_files_neither_passes_the_file_limit_nor_hides_bytes(
    tmp_path: Path, files: int, reason: str
) -> None:
    """Found by hand on 7 December 2026: the watcher stopped counting at 100,000 entries, so 110,000 empty files
    hid 300 MiB written after them under a 64 MiB disk limit (and millions would exhaust the host's inodes). Now
    the entries are a limit of their own (``sandbox.max_files``) and, below it, every byte is counted."""
    box = LocalSandbox(SandboxSettings(backend="local", max_files=300, disk_mb=1, file_size_mb=2, memory_mb=1024))
    (tmp_path / "code.py").write_text(SPRAY.format(files=files))
    res = box.run(tmp_path, ["python", "code.py"], timeout_s=60)
    assert res.killed_reason == reason, (res.verdict, res.stderr[-500:])
    entries = sum(len(d) + len(f) for _, d, f in os.walk(tmp_path))
    assert entries <= 300 + 1
    assert watch.dir_bytes(tmp_path) < 2 << 20
    if reason == "files":
        assert res.verdict == "killed: file limit 300 files and folders in the node directory, nested at most 32 deep"
