"""The escape suite against the real sandbox: each class of escape is BLOCKED and leaves the host unchanged.

Run as root in CI (the sandbox drops to the shoal-sandbox uid) and, through ``setpriv``, as an ordinary user
(bubblewrap in a user namespace, watchers instead of cgroups). A control run without isolation shows the probes
do find what they look for.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.sandbox import Isolation, LocalSandbox
from agents.sandbox.probes import PROBES, Scene, run_probe, run_suite, scene
from agents.sandbox.pyenv import env_path, is_built
from agents.settings import SandboxSettings

REPO = Path(__file__).resolve().parents[1]
SETTINGS = SandboxSettings(backend="local", memory_mb=1024, max_output_chars=4000)


def _bwrap_or_skip() -> None:
    if not LocalSandbox(SETTINGS).isolation.bwrap:
        pytest.skip("bubblewrap does not run here: scripts/setup.sh installs it")


@pytest.fixture(scope="module")
def host() -> Iterator[Scene]:
    with scene() as sc:
        yield sc


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
def test_escape_is_blocked_and_host_unchanged(probe: object, host: Scene) -> None:
    _bwrap_or_skip()
    outcome = run_probe(probe, host, SETTINGS)  # type: ignore[arg-type]
    assert outcome.blocked, outcome.line()
    assert host.victim.poll() is None and host.host_changes() == []


def test_probes_find_escapes_without_isolation() -> None:
    """Control: with no namespaces and no uid drop the same programs do escape, so BLOCKED above means something."""
    iso = Isolation(prefix=[], network_isolated=False, pid_namespace=False)

    def weak(s: SandboxSettings) -> LocalSandbox:
        return LocalSandbox(s.model_copy(update={"allow_weak": True}), isolation=iso)

    base = Path(tempfile.mkdtemp(prefix="shoal-control-"))
    base.chmod(0o755)
    try:
        names = {"secrets", "sockets", "writes", "siblings", "signals"}
        outcomes = {o.name: o for o in run_suite(SETTINGS, workspace=base, only=names, make=weak)}
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert set(outcomes) == names
    for o in outcomes.values():
        assert not o.blocked, f"{o.name} found nothing without isolation: the probe is too weak"
    assert "environ" in outcomes["secrets"].detail and "tcp 127.0.0.1" in outcomes["sockets"].detail
    assert "victim process" in outcomes["signals"].detail


def test_generated_code_is_unprivileged_as_seen_from_the_host(tmp_path: Path) -> None:
    """/proc/<pid>/status of the sandboxed program, read on the host: no uid 0, no capability, no_new_privs."""
    _bwrap_or_skip()
    token = f"{uuid.uuid4().int % 10**9:09d}"
    node = tmp_path / "node"
    node.mkdir()
    (node / "code.py").write_text("import time\nprint('up', flush=True)\ntime.sleep(30)\n")
    box = LocalSandbox(SETTINGS)
    thread = threading.Thread(target=box.run, args=(node, ["python", "code.py", token]), kwargs={"timeout_s": 8})
    thread.start()
    status = ""
    try:
        deadline = time.monotonic() + 6
        while not status and time.monotonic() < deadline:
            for name in filter(str.isdigit, os.listdir("/proc")):
                try:
                    cmd = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
                    if token.encode() in cmd and cmd[0].endswith(b"python"):
                        status = Path(f"/proc/{name}/status").read_text()
                except OSError:
                    continue
            time.sleep(0.05)
    finally:
        thread.join(timeout=15)
    assert status, "the sandboxed program was not found on the host"
    fields = {k: v.split() for k, v in (line.split(":", 1) for line in status.splitlines())}
    assert "0" not in fields["Uid"] and "0" not in fields["Gid"]
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(fields[cap][0], 16) == 0, (cap, fields[cap])
    assert fields["NoNewPrivs"] == ["1"]
    if os.geteuid() == 0:
        assert int(fields["Uid"][0]) == LocalSandbox(SETTINGS).isolation.ids[0]  # type: ignore[index]


_DRIVER = """
import json, os, sys, threading, time
from pathlib import Path
from agents.sandbox import LocalSandbox
from agents.sandbox.probes import run_suite
from agents.settings import SandboxSettings
s = SandboxSettings(backend="local", memory_mb=1024, python_env=Path(sys.argv[2]))
box = LocalSandbox(s)
node = Path(sys.argv[1]) / "numpy-node"
node.mkdir()
(node / "code.py").write_text("import numpy, os; print(float(numpy.arange(4).sum()), os.getuid())")
res = box.run(node, ["python", "code.py"])
out = {"mode": box.isolation.mode, "ids": box.isolation.ids, "numpy": res.stdout.strip(), "probes": {}}
peak, kinds, done = [0], [{}], threading.Event()
def comm(pid):
    try:
        with open("/proc/" + pid + "/comm") as fh:
            return fh.read().strip()
    except OSError:
        return ""
def sample():  # our uid's processes on the whole machine, while the probes run (the fork loop among them), but
    # not bubblewrap processes: a finished run's bwrap that its parent bwrap did not reap (a run killed at a limit)
    # waits as a zombie for the machine's init, which on this machine reaps late (12 such seen during the suite)
    while not done.is_set():
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
        mine = []
        for p in pids:
            try:
                if os.stat("/proc/" + p).st_uid == os.getuid():
                    mine.append(comm(p))
            except OSError:
                pass
        counted = [c for c in mine if c != "bwrap"]
        if len(counted) > peak[0]:
            peak[0], kinds[0] = len(counted), {c: mine.count(c) for c in set(mine)}
        time.sleep(0.002)
watcher = threading.Thread(target=sample, daemon=True)
watcher.start()
for o in run_suite(s, workspace=Path(sys.argv[1])):
    out["probes"][o.name] = o.line()
done.set()
out["peak"], out["kinds"] = peak[0], kinds[0]
print("RESULT " + json.dumps(out))
"""


def test_as_an_ordinary_user(tmp_path: Path) -> None:
    """Shoal run by an unprivileged user: bubblewrap in a user namespace; every probe still BLOCKED."""
    _bwrap_or_skip()
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root to start the driver as another user")
    env_dir = env_path(None)
    if not is_built(env_dir):
        pytest.skip("no experiment environment")
    home = Path(tempfile.mkdtemp(prefix="shoal-user-"))
    try:
        os.chown(home, 65534, 65534)
        probe = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "test", "-r", str(REPO)])
        if probe.returncode != 0:
            pytest.skip(f"the checkout {REPO} is not readable by another user")
        drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        proc = subprocess.run(
            [*drop, sys.executable, "-c", _DRIVER, str(home), str(env_dir)],
            env={"PATH": os.environ["PATH"], "HOME": str(home), "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        assert line, proc.stderr[-2000:]
        out = json.loads(line[0][7:])
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert out["mode"] == "bwrap" and out["ids"] is None
    assert out["numpy"].split() == ["6.0", "1000"]  # uid 1000 inside the user namespace
    breaches = [line for line in out["probes"].values() if not line.startswith("BLOCKED")]
    assert not breaches and len(out["probes"]) == len(PROBES), breaches
    # no cgroup is ours as an ordinary user: the kernel's per-namespace task cap still holds a fork loop at the
    # probe's limit (64) instead of letting it fill the machine's process table between two looks of the watcher
    assert out["peak"] <= 64 + 8, (out["peak"], out["kinds"])


def test_keyring_probe_finds_the_channel_without_the_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Control for the keyring probe: with no seccomp filter a run can leave a key in its uid's keyring for every
    later run (found by hand on 7 December 2026: a second run read the first run's key)."""
    _bwrap_or_skip()
    from agents.sandbox import seccomp

    monkeypatch.setattr(seccomp, "filter_fd", lambda: None)
    probe = next(p for p in PROBES if p.name == "keyring")
    with scene() as sc:
        outcome = run_probe(probe, sc, SETTINGS)
    assert not outcome.blocked and "in the uid's keyring for later runs" in outcome.detail
