"""The next run's bubblewrap, started ahead (agents/sandbox/prestart.py): used when ready, tied to a thread that
lives as long as Shoal, never running a program it was not fully given, and gone with its sandbox or with Shoal."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.sandbox import LocalSandbox, prestart
from agents.settings import SandboxSettings

SETTINGS = SandboxSettings(backend="local", timeout_s=20.0, memory_mb=1024, cpu_s=10)


@pytest.fixture
def box() -> Iterator[LocalSandbox]:
    sandbox = LocalSandbox(SETTINGS)
    if not sandbox.isolation.bwrap:
        pytest.skip("bubblewrap does not run here (see `shoal doctor`)")
    yield sandbox
    sandbox.close()


@pytest.fixture
def node() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="shoal-prestart-test-"))
    d.chmod(0o755)
    (d / "code.py").write_text("import os\nprint(os.getuid(), os.getcwd())\n")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _spy_starts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of the thread each bwrap was started on."""
    threads: list[str] = []
    real = prestart.start_bwrap

    def spy(*args: object, **kw: object) -> prestart.Started:
        threads.append(threading.current_thread().name)
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(prestart, "start_bwrap", spy)
    return threads


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _waiting_pid(box: LocalSandbox) -> int:
    assert box.wait_ready(), "no bwrap was started ahead"
    ready = box._prestarter._ready if box._prestarter else None
    assert ready is not None
    return ready.proc.pid


def test_the_second_run_uses_the_bwrap_started_during_the_first(
    box: LocalSandbox, node: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads = _spy_starts(monkeypatch)
    first = box.run(node, ["python", "code.py"])
    assert first.ok and first.stdout.split()[1] == ".", first.stderr
    assert threads[0] == threading.current_thread().name  # nothing ready: started cold, on the caller's thread
    assert box.wait_ready()
    before = list(threads)
    second = box.run(node, ["python", "code.py"])
    assert second.ok and second.stdout == first.stdout
    assert threading.current_thread().name not in threads[len(before) :]  # none started cold this time
    assert int(second.stdout.split()[0]) != 0  # still the sandbox uid, never root


def test_the_waiting_bwrap_outlives_the_thread_whose_run_asked_for_it(
    box: LocalSandbox, node: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parent-death signal follows the forking *thread*: an executor worker that ends must not take the
    next run's bwrap with it (it is started on Shoal's long-lived pre-start thread)."""
    worker = threading.Thread(target=box.run, args=(node, ["python", "code.py"]))
    worker.start()
    worker.join(30)
    pid = _waiting_pid(box)
    time.sleep(0.3)  # the worker thread is gone by now
    assert _alive(pid)
    threads = _spy_starts(monkeypatch)
    assert box.run(node, ["python", "code.py"]).ok
    assert threading.current_thread().name not in threads


@pytest.mark.parametrize("written", ["nothing", "all but the program"])
def test_a_handover_cut_short_runs_no_program(box: LocalSandbox, node: Path, written: str) -> None:
    """If Shoal died mid-write the pipe closes early: bwrap goes on, but the trampoline has no program."""
    marker = node / "ran"
    started = prestart.start_bwrap(box.isolation, SETTINGS)
    args = prestart.handover_args(
        box._setup_args(node, (), started.seccomp_fd), {"PATH": "/usr/bin:/bin"}, ["touch", "/sandbox/ran"]
    )
    cut = [] if written == "nothing" else args[:-3]  # everything before the program's --setenv
    data = b"".join(a.encode() + b"\0" for a in cut)
    assert started.args_w is not None
    os.write(started.args_w, data)
    os.close(started.args_w)
    started.args_w = None
    try:
        _, err = started.proc.communicate(timeout=20)
    finally:
        if started.group is not None:
            started.group.remove()
    assert started.proc.returncode != 0
    # with no options at all bwrap's root is empty (nothing to exec); with all but the program, the trampoline stops
    assert b"no program" in err if cut else b"No such file" in err
    assert not marker.exists()


def test_closing_the_sandbox_ends_the_waiting_bwrap_and_frees_its_cgroup(box: LocalSandbox, node: Path) -> None:
    assert box.run(node, ["python", "code.py"]).ok
    pid = _waiting_pid(box)
    ready = box._prestarter._ready if box._prestarter else None
    group = ready.group if ready else None
    box.close()
    assert not _alive(pid)
    if group is not None:
        assert group.pids() == []


def test_a_collected_sandbox_leaves_no_waiting_bwrap(node: Path) -> None:
    sandbox = LocalSandbox(SETTINGS)
    if not sandbox.isolation.bwrap:
        pytest.skip("bubblewrap does not run here")
    assert sandbox.run(node, ["python", "code.py"]).ok
    pid = _waiting_pid(sandbox)
    del sandbox
    gc.collect()
    assert not _alive(pid)


_SHOAL = """
import sys, time
from pathlib import Path
from agents.sandbox import LocalSandbox
from agents.settings import SandboxSettings
box = LocalSandbox(SandboxSettings(backend="local"))
assert box.run(Path(sys.argv[1]), ["python", "code.py"]).ok
assert box.wait_ready()
print(box._prestarter._ready.proc.pid, flush=True)
time.sleep(60)
"""


def test_kill_9_of_shoal_ends_the_waiting_bwrap(box: LocalSandbox, node: Path) -> None:
    repo = Path(__file__).resolve().parents[1]
    shoal = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_SHOAL), str(node)],
        env={**os.environ, "PYTHONPATH": str(repo)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert shoal.stdout is not None
        pid = int(shoal.stdout.readline())
        assert _alive(pid)
    finally:
        shoal.kill()
        shoal.wait(timeout=10)
    deadline = time.monotonic() + 3
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)
