"""Run directories: layout, resolved settings, events, bad paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from datetime import datetime
from pathlib import Path

import pytest

from agents import runlock
from agents.errors import UserInputError
from agents.pipeline.runner import RunInfo
from agents.pipeline.runs import list_runs
from agents.rundir import create_run, open_run, slugify
from agents.settings import load_settings


def test_create_run_writes_resolved_settings(tmp_path: Path) -> None:
    settings = load_settings(None, ["budget.max_usd=1.5"], workspace=tmp_path / "ws")
    run = create_run(settings, "Warm-up schedules: do they matter?", now=datetime(2026, 1, 2, 3, 4, 5))
    assert run.path.name == "20260102-030405-warm-up-schedules-do-they-matter"
    data = tomllib.loads(run.config_path.read_text())
    assert data["budget"]["max_usd"] == 1.5
    again = create_run(settings, "Warm-up schedules: do they matter?", now=datetime(2026, 1, 2, 3, 4, 5))
    assert again.path != run.path  # never reuse a directory
    run.event("stage_started", stage="ideation")
    (line,) = run.events_path.read_text().splitlines()
    assert json.loads(line)["stage"] == "ideation"
    assert open_run(run.path).path == run.path


def test_open_run_rejects_non_runs(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="does not exist"):
        open_run(tmp_path / "nope")
    with pytest.raises(UserInputError, match="not a Shoal run"):
        open_run(tmp_path)


def test_opening_a_run_removes_links_its_nodes_left(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A run made before node folders were scrubbed, or copied from someone else: its links are gone before any
    command reads or writes a node file through them; regular files and what the links pointed at stay."""
    settings = load_settings(None, [], workspace=tmp_path / "ws")
    run = create_run(settings, "old run")
    secret = tmp_path / "host_secret.txt"
    secret.write_text("host file")
    node = run.node_dir("abc123")
    node.mkdir(parents=True)
    (node / "code.py").write_text("print(1)")
    (node / "stdout.txt").symlink_to(secret)
    (node / "sub").mkdir()
    (node / "sub" / "metrics.json").symlink_to(secret)
    (run.nodes_dir / "planted").symlink_to(tmp_path)
    (run.nodes_dir / "notes.txt").write_text("kept")
    opened = open_run(run.path)
    assert sorted(p.name for p in opened.nodes_dir.iterdir()) == ["abc123", "notes.txt"]
    assert sorted(str(p.relative_to(node)) for p in node.rglob("*")) == ["code.py", "sub"]
    assert secret.read_text() == "host file" and "stdout.txt (symbolic link to" in caplog.text
    (run.path / "nodes").rename(run.path / "elsewhere")
    (run.path / "nodes").symlink_to(run.path / "elsewhere")
    with pytest.raises(UserInputError, match="is a link, not the run's own folder of nodes"):
        open_run(run.path)


def _open_elsewhere(run: Path, *, exclusive: bool = True) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys; from pathlib import Path; from agents.rundir import open_run\n"
        "from agents.errors import UserInputError\n"
        f"try:\n    open_run(Path(sys.argv[1]), exclusive={exclusive}); print('OPENED')\n"
        "except UserInputError as exc:\n    print(exc)\n"
    )
    return subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True, text=True, timeout=60)


def test_one_process_at_a_time_in_a_run(tmp_path: Path) -> None:
    """A second process cannot work in a run this one holds (it is told which process holds it); a reader can;
    once the holder lets go, or dies, the run is free."""
    settings = load_settings(None, [], workspace=tmp_path / "ws")
    run = create_run(settings, "held")
    assert open_run(run.path).path == run.path  # re-entrant in the process that holds it
    other = _open_elsewhere(run.path)
    assert f"is in use by another Shoal process (pid {os.getpid()})" in other.stdout, other.stderr
    assert "OPENED" in _open_elsewhere(run.path, exclusive=False).stdout  # e.g. `shoal report` of a running run
    runlock.release_all()
    assert "OPENED" in _open_elsewhere(run.path).stdout
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from agents.rundir import open_run; "
         "open_run(Path(sys.argv[1])); print('HELD', flush=True); time.sleep(60)", str(run.path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "HELD"
        with pytest.raises(UserInputError, match=f"pid {holder.pid}"):
            open_run(run.path)
        assert [r.status for r in list_runs(tmp_path / "ws")] == ["running"]  # `shoal runs` sees who works
    finally:
        holder.kill()  # the process we started; the kernel drops its lock
        holder.wait(timeout=30)
    assert open_run(run.path).path == run.path
    runlock.release_all()
    (run.path / "run.json").write_text(RunInfo(topic="t", status="running").model_dump_json())
    assert [r.status for r in list_runs(tmp_path / "ws")] == ["interrupted"]  # says running, but nobody holds it


def test_a_run_that_cannot_be_locked_can_be_read_not_worked_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = create_run(load_settings(None, [], workspace=tmp_path / "ws"), "read-only copy")
    runlock.release_all()

    def refuse(*args: object, **kwargs: object) -> int:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(runlock.os, "open", refuse)
    assert open_run(run.path, exclusive=False).path == run.path  # e.g. `shoal report`
    with pytest.raises(UserInputError, match="cannot work in .*Read-only file system; Shoal writes into its runs"):
        open_run(run.path)


@pytest.mark.parametrize(("text", "slug"), [("", "run"), ("!!!", "run"), ("GANs & VAEs", "gans-vaes")])
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug


def test_runs_lists_a_damaged_run_with_its_reason(tmp_path: Path) -> None:
    """A truncated run.json or journal (a full disk, a copy cut short) made `shoal runs` end in a traceback,
    hiding every other run."""
    settings = load_settings(None, [], workspace=tmp_path / "ws")
    _, cut, torn = (create_run(settings, name) for name in ("good", "cut journal", "torn info"))
    runlock.release_all()
    (cut.path / "journal.json").write_text('{"nodes": [{"id": "ab')
    (torn.path / "run.json").write_text('{"topic": "t", "sta')
    rows = {r.name.split("-", 2)[-1]: r for r in list_runs(tmp_path / "ws")}
    assert set(rows) == {"good", "cut-journal", "torn-info"} and not rows["good"].status.startswith("damaged")
    assert rows["cut-journal"].status.startswith("damaged: journal.json is not valid JSON")
    assert rows["torn-info"].status.startswith("damaged: run.json is damaged (Invalid JSON: EOF while parsing")
