"""The sandbox with real subprocesses: each thing generated code must not be able to do is one test."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.errors import ConfigError
from agents.sandbox import Isolation, LocalSandbox, SandboxResult, docker_available, make_sandbox, probe_isolation
from agents.sandbox.output import HeadTail
from agents.sandbox.privileges import sandbox_ids
from agents.settings import SandboxSettings

SMALL = {
    "backend": "local",
    "timeout_s": 20.0,
    "memory_mb": 1024,
    "cpu_s": 10,
    "file_size_mb": 2,
    "max_output_chars": 2000,
}
# the weakest mode (no bubblewrap, no namespaces, no cgroups): still a dropped uid as root, rlimits and a watcher
NO_NAMESPACE = Isolation(prefix=[], network_isolated=False, pid_namespace=False, ids=sandbox_ids())


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A node directory the sandbox uid can reach in the weak modes too (pytest's own are under a 0700 dir,
    which only bubblewrap, binding as root, can see through)."""
    d = Path(tempfile.mkdtemp(prefix="shoal-sandbox-test-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _settings(**kw: object) -> SandboxSettings:
    return SandboxSettings(**{**SMALL, **kw})


def _run(tmp_path: Path, code: str, *, sandbox: LocalSandbox | None = None, **kw: object) -> SandboxResult:
    (tmp_path / "code.py").write_text(textwrap.dedent(code))
    sandbox = sandbox or LocalSandbox(_settings())
    return sandbox.run(tmp_path, ["python", "code.py"], **kw)


def _pid_namespace_sandbox(**kw: object) -> LocalSandbox:
    sandbox = LocalSandbox(_settings(**kw))
    if not sandbox.isolation.bwrap:
        pytest.skip("bubblewrap does not run here (see `shoal doctor`): see docs/sandbox.md")
    return sandbox


def _weak(**kw: object) -> LocalSandbox:
    return LocalSandbox(_settings(allow_weak=True, **kw), isolation=NO_NAMESPACE)


def _processes_with(token: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            except OSError:
                continue
            if token.encode() in cmdline:
                found.append(int(name))
    return found


def test_api_keys_do_not_reach_generated_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"sk-test-{uuid.uuid4().hex}"
    for name in ("OPENAI_API_KEY", "SHOAL_MODELS__CODER__BASE_URL", "HF_TOKEN", "MY_DB_PASSWORD"):
        monkeypatch.setenv(name, secret)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # an allowed pass-through variable
    res = _run(
        tmp_path,
        """
        import json, os
        print(json.dumps({**os.environ, "HOME_IS_WORKDIR": os.environ["HOME"] == os.getcwd()}))
        """,
        env={"ANTHROPIC_API_KEY": secret, "SEED": "7"},
    )
    assert res.ok, res.stderr
    seen = json.loads(res.stdout)
    assert secret not in res.stdout
    assert not {"OPENAI_API_KEY", "SHOAL_MODELS__CODER__BASE_URL", "HF_TOKEN", "ANTHROPIC_API_KEY"} & set(seen)
    assert seen["SEED"] == "7" and seen["OMP_NUM_THREADS"] == "1" and seen["MPLBACKEND"] == "Agg"
    assert seen["HOME_IS_WORKDIR"] is True


def test_api_keys_cannot_be_read_from_other_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """/proc/<pid>/environ of Shoal itself holds the key; inside the PID namespace no such process is visible."""
    secret = f"sk-test-{uuid.uuid4().hex}"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    sandbox = _pid_namespace_sandbox()
    res = _run(
        tmp_path,
        f"""
        import os
        hits = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if b"{secret}" in open(f"/proc/{{pid}}/environ", "rb").read():
                    hits.append(pid)
            except OSError:
                pass
        print("visible", len([p for p in os.listdir("/proc") if p.isdigit()]), "hits", len(hits))
        """,
        sandbox=sandbox,
    )
    assert res.ok, res.stderr
    assert "hits 0" in res.stdout
    assert res.stdout.startswith("visible 2 ") or res.stdout.startswith("visible 1 ")  # launcher (+ program)


def test_no_network_connection_even_to_loopback(tmp_path: Path) -> None:
    sandbox = LocalSandbox(_settings())
    if not sandbox.isolation.network_isolated:
        pytest.skip("no network namespace here (`unshare -n` and `unshare -rn` both fail): the sandbox warns and runs")
    code = """
        import socket, sys
        try:
            socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3).close()
            print("CONNECTED")
        except OSError as exc:
            print("REFUSED", exc)
        """
    (tmp_path / "code.py").write_text(textwrap.dedent(code))
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = str(server.getsockname()[1])
        res = sandbox.run(tmp_path, ["python", "code.py", port])
        # control: with network allowed the same program reaches the same socket, so the check above can fail
        control = LocalSandbox(_settings(network=True)).run(tmp_path, ["python", "code.py", port])
    assert res.ok, res.stderr
    assert "REFUSED" in res.stdout and "CONNECTED" not in res.stdout
    assert "CONNECTED" in control.stdout


def _sandbox_in(mode: str, **kw: object) -> LocalSandbox:
    if mode == "bwrap":
        return _pid_namespace_sandbox(**kw)
    return _weak(**kw)


MODES = ["bwrap", "subreaper"]


@pytest.mark.parametrize("mode", MODES)
def test_cannot_allocate_past_memory_limit(tmp_path: Path, mode: str) -> None:
    res = _run(
        tmp_path,
        """
        print("start", flush=True)
        block = bytearray(600 * 1024 * 1024)
        print("allocated", len(block))
        """,
        sandbox=_sandbox_in(mode, memory_mb=300),
    )
    assert not res.ok
    assert res.killed_reason == "memory"
    assert "start" in res.stdout and "allocated" not in res.stdout
    assert "MemoryError" in res.stderr


def test_cannot_run_past_timeout(tmp_path: Path) -> None:
    t0 = time.monotonic()
    res = _run(tmp_path, "import time\nprint('going', flush=True)\ntime.sleep(60)\n", timeout_s=0.7)
    elapsed = time.monotonic() - t0
    assert res.timed_out and res.killed_reason == "timeout" and res.exit_code is None and not res.ok
    assert "going" in res.stdout  # output written before the kill is kept
    assert 0.7 <= res.duration_s < 2.5 and elapsed < 3.0


def test_cpu_limit_stops_a_busy_loop(tmp_path: Path) -> None:
    res = _run(tmp_path, "while True:\n    pass\n", sandbox=LocalSandbox(_settings(cpu_s=1)), timeout_s=15)
    assert not res.timed_out
    assert res.killed_reason == "cpu" and res.exit_code is not None and res.exit_code < 0


@pytest.mark.parametrize("mode", MODES)
def test_cannot_fill_the_disk(tmp_path: Path, mode: str) -> None:
    res = _run(
        tmp_path,
        """
        with open("big.bin", "wb") as fh:
            for _ in range(50):
                fh.write(b"x" * 1024 * 1024)
        print("wrote 50 MB")
        """,
        sandbox=_sandbox_in(mode, file_size_mb=1),
    )
    assert not res.ok and res.killed_reason == "file_size"
    assert "wrote" not in res.stdout
    assert (tmp_path / "big.bin").stat().st_size <= 1024 * 1024


@pytest.mark.parametrize("mode", MODES)
def test_death_by_signal_is_reported(tmp_path: Path, mode: str) -> None:
    """The program's own status, not its supervisor's: killed by SIGXCPU reads as exit -24, reason "cpu"."""
    res = _run(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGXCPU)\n", sandbox=_sandbox_in(mode))
    assert res.exit_code == -24 and res.killed_reason == "cpu" and not res.timed_out
    res = _run(tmp_path, "raise SystemExit(3)\n", sandbox=_sandbox_in(mode))
    assert res.exit_code == 3 and res.killed_reason is None


_DAEMON = """
    import os, subprocess, sys, time
    # a grandchild that leaves our process group and session (setsid) and would outlive a plain group kill
    child = subprocess.Popen(["sleep", "{token}"], start_new_session=True)
    time.sleep(0.2)
    os.kill(child.pid, 0)
    print("daemon running", flush=True)
    {then}
    """


@pytest.mark.parametrize("mode", MODES)
def test_leaves_no_process_behind(tmp_path: Path, mode: str) -> None:
    token = f"1000.{uuid.uuid4().int % 10**9:09d}"
    sandbox = _sandbox_in(mode)
    res = _run(tmp_path, _DAEMON.format(token=token, then="pass"), sandbox=sandbox)
    assert res.ok, res.stderr
    assert "daemon running" in res.stdout
    assert _processes_with(token) == []


@pytest.mark.parametrize("mode", MODES)
def test_leaves_no_process_behind_after_timeout(tmp_path: Path, mode: str) -> None:
    token = f"1000.{uuid.uuid4().int % 10**9:09d}"
    sandbox = _sandbox_in(mode)
    res = _run(tmp_path, _DAEMON.format(token=token, then="time.sleep(60)"), sandbox=sandbox, timeout_s=1.0)
    assert res.timed_out and "daemon running" in res.stdout
    assert res.duration_s < 3.5
    assert _processes_with(token) == []


def test_stdout_is_truncated_head_and_tail(tmp_path: Path) -> None:
    res = _run(
        tmp_path,
        """
        print("FIRST-LINE")
        for i in range(20000):
            print(f"line {i:05d} " + "y" * 40)
        print("LAST-LINE")
        """,
        sandbox=LocalSandbox(_settings(max_output_chars=1000)),
    )
    assert res.ok
    assert res.stdout.startswith("FIRST-LINE") and res.stdout.rstrip().endswith("LAST-LINE")
    assert "bytes of output omitted" in res.stdout
    assert len(res.stdout) < 1100


def test_head_tail_keeps_everything_under_the_limit() -> None:
    cap = HeadTail(100)
    for chunk in (b"a" * 60, b"b" * 40):
        cap.feed(chunk)
    assert cap.text() == "a" * 60 + "b" * 40
    cap.feed(b"c" * 30)
    text = cap.text()
    assert text.startswith("a" * 50) and text.endswith("b" * 20 + "c" * 30) and "30 bytes" in text


def test_traceback_is_cleaned_of_sandbox_path(tmp_path: Path) -> None:
    res = _run(
        tmp_path,
        """
        import json
        def load():
            return json.loads("{not json")
        load()
        """,
    )
    assert res.exit_code == 1 and res.killed_reason is None
    assert 'File "code.py", line 5' in res.stderr and "JSONDecodeError" in res.stderr
    assert str(tmp_path) not in res.stderr and str(tmp_path.resolve()) not in res.stderr
    assert "<stdlib>/json/" in res.stderr


def test_numpy_works_in_the_sandbox(tmp_path: Path) -> None:
    res = _run(
        tmp_path,
        """
        import numpy as np
        rng = np.random.default_rng(0)
        x = rng.normal(size=(200, 3))
        print(round(float((x.T @ x).trace()), 3), np.__version__)
        """,
    )
    assert res.ok, res.stderr
    import numpy as np

    x = np.random.default_rng(0).normal(size=(200, 3))
    assert res.stdout.split() == [str(round(float((x.T @ x).trace()), 3)), np.__version__]


def test_missing_program_is_data_not_an_exception(tmp_path: Path) -> None:
    res = _weak().run(tmp_path, ["no-such-program-xyz"])
    assert res.exit_code == 127 and "cannot run" in res.stderr
    res = LocalSandbox(_settings()).run(tmp_path, ["no-such-program-xyz"])
    assert res.exit_code not in (0, None) and "no-such-program-xyz" in res.stderr


def test_make_sandbox_backends(tmp_path: Path) -> None:
    assert isinstance(make_sandbox(_settings(backend="local")), LocalSandbox)
    if docker_available():
        pytest.skip("a Docker engine answers here; the no-engine paths cannot be checked")
    assert isinstance(make_sandbox(_settings(backend="auto")), LocalSandbox)
    with pytest.raises(ConfigError, match="no Docker engine"):
        make_sandbox(_settings(backend="docker"))


def test_probe_is_cached() -> None:
    assert probe_isolation(False) is probe_isolation(False)


# --- docker backend -------------------------------------------------------------------------------------------

_PARENT = """
import sys
from pathlib import Path
from agents.sandbox import Isolation, LocalSandbox
from agents.settings import SandboxSettings
from agents.sandbox.privileges import sandbox_ids
weak = sys.argv[2] != "bwrap"
iso = Isolation(prefix=[], network_isolated=False, pid_namespace=False, ids=sandbox_ids()) if weak else None
settings = SandboxSettings(backend="local", allow_weak=weak)
LocalSandbox(settings, isolation=iso).run(Path(sys.argv[1]), ["python", "code.py"])
"""


@pytest.mark.parametrize("mode", MODES)
def test_killing_shoal_takes_the_run_with_it(tmp_path: Path, mode: str) -> None:
    """kill -9 of the process that called run() must not leave the generated program (or its daemons) running."""
    import subprocess
    import sys

    if mode == "bwrap":
        _pid_namespace_sandbox()
    token = f"1000.{uuid.uuid4().int % 10**9:09d}"
    (tmp_path / "code.py").write_text(textwrap.dedent(_DAEMON.format(token=token, then="time.sleep(60)")))
    repo = Path(__file__).resolve().parents[1]
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, str(tmp_path), mode], env={**os.environ, "PYTHONPATH": str(repo)}
    )
    try:
        deadline = time.monotonic() + 10
        while not _processes_with(token) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _processes_with(token), "the daemon never started"
        time.sleep(0.5)  # past its last print: a write to the dead parent's pipe would end the program by itself
    finally:
        parent.kill()
        parent.wait(timeout=10)
    deadline = time.monotonic() + 3
    while _processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_with(token) == []


def test_cgroup_v1_without_cpu_controllers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Machines that mount only the memory and pids controllers still get limits (no CPU accounting)."""
    from agents.sandbox import cgroups

    sandbox = _pid_namespace_sandbox()
    if sandbox.isolation.cgroup != "v1":
        pytest.skip("no cgroup v1 here")
    full = cgroups._v1_dirs
    monkeypatch.setattr(cgroups, "_v1_dirs", lambda: {k: v for k, v in full().items() if k in ("memory", "pids")})
    monkeypatch.setattr(cgroups, "_POOL", [])  # no idle group made with all four controllers
    made: list[cgroups.RunGroup] = []
    create = cgroups.RunGroup.create.__func__  # type: ignore[attr-defined]

    def spy(cls: type[cgroups.RunGroup], limits: cgroups.Limits) -> cgroups.RunGroup | None:
        group = create(cls, limits)
        made.append(group)
        return group

    monkeypatch.setattr(cgroups.RunGroup, "create", classmethod(spy))
    res = _run(tmp_path, "print('ok')\n", sandbox=sandbox)
    assert res.ok and res.stdout == "ok\n"
    assert made and set(made[0].dirs) == {"memory", "pids"}
