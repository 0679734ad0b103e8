"""The watcher that stands in for cgroups (an ordinary user's machine, or one without delegated controllers):
memory is the run's resident sets plus what it keeps in its private /tmp and /dev/shm."""

from __future__ import annotations

import shutil
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.sandbox import LocalSandbox, watch
from agents.settings import SandboxSettings

# 250 MiB in each tmpfs and 250 MiB of memory: 750 MiB held, under a 512 MiB limit; no one part is over it
HOLD = """
import os, time
block = b"x" * (1 << 20)
for folder in ("/tmp", "/dev/shm"):
    with open(os.path.join(folder, "fill.bin"), "wb") as fh:
        for _ in range(250):
            fh.write(block)
ram = bytearray(250 << 20)
for i in range(0, len(ram), 4096):
    ram[i] = 1
time.sleep(1.5)
print("HELD", flush=True)
time.sleep(30)
"""


@pytest.fixture
def node() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="shoal-watch-test-"))
    d.chmod(0o755)
    (d / "code.py").write_text(textwrap.dedent(HOLD))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _watched() -> LocalSandbox:
    """bubblewrap as usual, but no cgroups: the limits are the watcher's."""
    settings = SandboxSettings(backend="local", timeout_s=5.0, memory_mb=512, cpu_s=10)
    iso = LocalSandbox(settings).isolation
    if not iso.bwrap:
        pytest.skip("bubblewrap does not run here (see `shoal doctor`): see docs/sandbox.md")
    return LocalSandbox(settings, isolation=iso.model_copy(update={"cgroup": None}))


def test_files_in_tmp_and_shm_count_as_the_runs_memory(node: Path) -> None:
    res = _watched().run(node, ["python", "code.py"])
    assert res.killed_reason == "memory", (res.verdict, res.stdout, res.stderr[-500:])
    assert "HELD" not in res.stdout


def test_control_without_the_tmpfs_count_the_run_holds_more_than_its_limit(
    node: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the watcher saw before 7 December 2026 (resident sets only): 750 MiB held under 512 MiB."""
    monkeypatch.setattr(watch, "tmpfs_bytes", lambda pids: 0)
    res = _watched().run(node, ["python", "code.py"])
    assert res.timed_out and res.killed_reason != "memory", res.verdict
    assert "HELD" in res.stdout


def test_tmpfs_bytes_ignores_processes_in_our_own_mount_namespace() -> None:
    import os

    assert watch.tmpfs_bytes([os.getpid()]) == 0  # the host's /tmp is not the run's
