"""The escape suite: one attack program per class of escape, run in the real sandbox, judged from the host.

``run_suite(settings)`` sets up a host scene (a victim process holding a secret in its environment, a TCP and a
Unix socket listening on the host, a fake run with a sibling node, a journal and a config, canary files in
Shoal's venv, source and the user's home), runs every probe in a fresh node directory, and reports BLOCKED only
when the program got nothing *and* the host is unchanged: the victim lives, no file outside the node directory
changed, nothing is left running. Used by ``shoal sandbox check`` and tests/test_sandbox_escape.py.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.sandbox import probe_programs as P
from agents.sandbox.base import SandboxResult
from agents.sandbox.leftovers import write_own
from agents.sandbox.local import LocalSandbox
from agents.sandbox.watch import dir_bytes
from agents.settings import SandboxSettings


@dataclass
class Scene:
    """The host side of the suite: what an escape would reach, and a snapshot of it to compare against."""

    base: Path
    token: str
    secret: str
    victim: subprocess.Popen[bytes]
    tcp: socket.socket
    unix: socket.socket
    abstract: socket.socket
    node: Path
    read_targets: list[Path]
    write_targets: list[Path]
    write_dirs: list[Path]
    snapshot: dict[str, str] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "secret": self.secret,
            "victim_pid": self.victim.pid,
            "host_pid": os.getpid(),
            "tcp_port": self.tcp.getsockname()[1],
            "unix_path": str(self.base / "host.sock"),
            "abstract_name": f"shoal-probe-{self.token}",
            "read_targets": [str(p) for p in self.read_targets],
            "write_targets": [str(p) for p in self.write_targets],
            "write_dirs": [str(p) for p in self.write_dirs],
        }

    def state(self) -> dict[str, str]:
        """Hashes of every file an escape could touch, and whether any probe file appeared."""
        out = {str(p): _digest(p) for p in (*self.read_targets, *self.write_targets)}
        for d in self.write_dirs:
            out[f"{d}/<probe file>"] = str((d / f"zz_shoal_probe_{self.token}.pth").exists())
        return out

    def host_changes(self) -> list[str]:
        now = self.state()
        changed = [k for k, v in now.items() if self.snapshot.get(k) != v]
        if self.victim.poll() is not None:
            changed.append(f"victim process {self.victim.pid} died")
        for sock, name in ((self.tcp, "tcp"), (self.unix, "unix"), (self.abstract, "abstract unix")):
            with contextlib.suppress(BlockingIOError, OSError):
                conn, _ = sock.accept()
                conn.close()
                changed.append(f"a connection reached the host {name} socket")
        return changed

    def leftovers(self) -> list[int]:
        mine = {os.getpid(), self.victim.pid}
        out = []
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) not in mine:
                with contextlib.suppress(OSError):
                    if self.token.encode() in Path(f"/proc/{name}/cmdline").read_bytes():
                        out.append(int(name))
        return out

    def fresh_node(self) -> Path:
        if self.node.exists():
            shutil.rmtree(self.node)
        self.node.mkdir(parents=True)
        return self.node


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def _listener(kind: int, addr: object) -> socket.socket:
    sock = socket.socket(kind, socket.SOCK_STREAM)
    sock.bind(addr)  # type: ignore[arg-type]
    sock.listen(8)
    sock.setblocking(False)
    return sock


@contextlib.contextmanager
def scene(workspace: Path | None = None) -> Iterator[Scene]:
    """Build the host scene (in ``workspace`` or a temp dir), yield it, tear it down."""
    token = f"{uuid.uuid4().int % 10**12:012d}"
    secret = f"sk-probe-{uuid.uuid4().hex}"
    base = Path(tempfile.mkdtemp(prefix="shoal-escape-", dir=workspace))
    base.chmod(0o755)
    from agents.rundir import RunDir

    run = RunDir(base / "run")  # a run of the same layout as Shoal's: a sibling node, the journal, the config
    run.node_dir("sibling").mkdir(parents=True)
    reads = [run.node_dir("sibling") / "metrics.json", run.journal_path, run.config_path]
    for p in reads:
        p.write_text(json.dumps({"secret": secret}))
    canary_home = Path.home() / ".config" / "shoal-probe-canary"
    canary_home.parent.mkdir(parents=True, exist_ok=True)
    canary_home.write_text("untouched\n")
    import agents

    source = Path(agents.__file__)
    writes = [source, canary_home, *reads]
    dirs = [Path(sysconfig.get_paths()["purelib"]), source.parent, Path.home(), canary_home.parent, Path("/etc")]
    key = _plant_key(f"shoal-probe-{token}", secret)
    victim = subprocess.Popen(
        [shutil.which("sleep", path="/usr/bin:/bin") or "sleep", f"600.{token}"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OPENAI_API_KEY": secret},
        start_new_session=True,
    )
    tcp = _listener(socket.AF_INET, ("127.0.0.1", 0))
    unix = _listener(socket.AF_UNIX, str(base / "host.sock"))
    abstract = _listener(socket.AF_UNIX, f"\0shoal-probe-{token}")
    sc = Scene(base, token, secret, victim, tcp, unix, abstract, run.node_dir("probe"), reads, writes, dirs)
    sc.snapshot = sc.state()
    try:
        yield sc
    finally:
        for sock in (tcp, unix, abstract):
            sock.close()
        victim.kill()
        victim.wait(timeout=10)
        for d in dirs:
            (d / f"zz_shoal_probe_{token}.pth").unlink(missing_ok=True)
        canary_home.unlink(missing_ok=True)
        shutil.rmtree(base, ignore_errors=True)
        if key > 0:
            _keyctl(21, key)  # KEYCTL_INVALIDATE


def _keyctl(*args: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.syscall(250, *args))


def _plant_key(description: str, secret: str) -> int:
    """A key holding ``secret`` in this uid's user keyring (what the keyring probe must not read); -1 if refused."""
    libc = ctypes.CDLL(None, use_errno=True)
    data = secret.encode()
    return int(libc.syscall(248, b"user", description.encode(), data, len(data), -4))  # add_key, user keyring


@dataclass(frozen=True)
class Probe:
    name: str
    what: str
    body: str
    limits: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 20.0
    judge: Callable[[SandboxResult, Scene, float], str] | None = None  # "" when blocked, else what escaped


def _got(res: SandboxResult) -> list[str]:
    for line in res.stdout.splitlines():
        if line.startswith("GOT "):
            return list(json.loads(line[4:]))
    return []


def _killed_by(reason: str, marker: str) -> Callable[[SandboxResult, Scene, float], str]:
    def judge(res: SandboxResult, sc: Scene, seconds: float) -> str:
        if res.killed_reason != reason:
            return f"not stopped by the {reason} limit (killed_reason={res.killed_reason}, exit={res.exit_code})"
        if marker and marker in res.stdout:
            return f"the program printed {marker!r} before it was stopped"
        return ""

    return judge


def _disk_judge(res: SandboxResult, sc: Scene, seconds: float) -> str:
    reason = _killed_by("disk", "ALL WRITTEN")(res, sc, seconds)
    written = dir_bytes(sc.node)
    return reason or (f"{written >> 20} MiB were left in the node directory" if written > 150 << 20 else "")


def _links_judge(res: SandboxResult, sc: Scene, seconds: float) -> str:
    """Nothing but files and folders is left, and Shoal's own writes and reads after the run stay in the node."""
    if "GOT " not in res.stdout:
        return f"the probe did not finish (exit {res.exit_code}): {res.stderr[-300:]!r}"
    problems = [*_got(res)]
    left = []
    for folder, dirs, names in os.walk(sc.node):
        for name in (*dirs, *names):
            mode = os.lstat(os.path.join(folder, name)).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                left.append(os.path.relpath(os.path.join(folder, name), sc.node))
    if left:
        problems.append(f"left in the node directory: {', '.join(sorted(left))}")
        return "; ".join(problems)
    write_own(sc.node / "stdout.txt", res.stdout)  # what the executor does next
    write_own(sc.node / "stderr.txt", res.stderr)
    for name in ("metrics.json", "plot.png"):
        path = sc.node / name
        if path.is_file() and sc.secret.encode() in path.read_bytes():
            problems.append(f"Shoal would read the secret from {name}")
    return "; ".join(problems)


def _orphans_judge(res: SandboxResult, sc: Scene, seconds: float) -> str:
    if not res.timed_out or "daemon started" not in res.stdout:
        return f"the program did not run as planned (timed_out={res.timed_out}, stdout={res.stdout[-200:]!r})"
    return ""


PROBES: tuple[Probe, ...] = (
    Probe("secrets", "API keys in the environment and in other processes' /proc", P.SECRETS),
    Probe("umount-proc", "unmount /proc to reveal the host's processes and their keys", P.UMOUNT_PROC),
    Probe("setns", "join the host's namespaces through /proc/<pid>/ns", P.SETNS),
    Probe("sockets", "reach host loopback TCP, host Unix sockets, abstract sockets", P.SOCKETS),
    Probe("cgroup-kill", "kill a host process through cgroup.kill / cgroup.procs", P.CGROUP_KILL),
    Probe("signals", "signal a host process (and Shoal itself) by pid", P.SIGNALS),
    Probe("writes", "write into Shoal's venv, its source, the user's home, /etc", P.WRITES),
    Probe("siblings", "read and overwrite a sibling node, the journal, the run config", P.SIBLINGS),
    Probe("keyring", "read the host's kernel key, leave one for later runs", P.KEYRING),
    Probe(
        "links",
        "leave links, FIFOs and hard links for Shoal to write or read through after the run",
        P.LINKS,
        judge=_links_judge,
    ),
    Probe(
        "fork-bomb",
        "fork without end",
        P.FORK_BOMB,
        {"max_processes": 64},
        judge=_killed_by("pids", ""),
    ),
    Probe(
        "memory-children",
        "3 children of 300 MiB each under a 512 MiB limit",
        P.MEMORY_CHILDREN,
        {"memory_mb": 512},
        judge=_killed_by("memory", "ALL ALLOCATED"),
    ),
    Probe(
        "memory-tmpfs",
        "300 MiB in /tmp, 300 MiB in /dev/shm and 300 MiB of memory under a 512 MiB limit",
        P.MEMORY_TMPFS,
        {"memory_mb": 512},
        judge=_killed_by("memory", "ALL HELD"),
    ),
    Probe(
        "disk-files",
        "6 files of 40 MiB each under a 64 MiB disk limit",
        P.DISK_FILES,
        {"disk_mb": 64},
        judge=_disk_judge,
    ),
    Probe(
        "file-spray",
        "3,000 empty files under a 500-file limit (the host's inodes)",
        P.FILE_SPRAY,
        {"max_files": 500},
        judge=_killed_by("files", "ALL MADE"),
    ),
    Probe(
        "deep-tree",
        "3,000 nested folders (Shoal's walks, paths past PATH_MAX)",
        P.DEEP_TREE,
        judge=_killed_by("files", ""),
    ),
    Probe(
        "orphans", "a setsid double-forked daemon outliving a timeout", P.ORPHANS, timeout_s=1.5, judge=_orphans_judge
    ),
)
_EXTRA = {
    "fork-bomb": {},
    "memory-children": {"children": 3, "child_mb": 300},
    "memory-tmpfs": {"tmpfs_mb": 300, "ram_mb": 300},
    "disk-files": {"files": 6, "file_mb": 40},
    "file-spray": {"files": 3000},
}


@dataclass
class ProbeOutcome:
    name: str
    what: str
    blocked: bool
    detail: str
    verdict: str | None
    seconds: float

    def line(self) -> str:
        status = "BLOCKED" if self.blocked else "BREACH "
        tail = f" ({self.verdict})" if self.blocked and self.verdict else ""
        return f"{status} {self.name:<16} {self.what}{tail}" + ("" if self.blocked else f": {self.detail}")


def run_probe(
    probe: Probe, sc: Scene, settings: SandboxSettings, make: Callable[[SandboxSettings], LocalSandbox] = LocalSandbox
) -> ProbeOutcome:
    node = sc.fresh_node()
    (node / "code.py").write_text(P.PRELUDE + probe.body, encoding="utf-8")
    box = make(settings.model_copy(update={"timeout_s": probe.timeout_s, **probe.limits}))
    (node / "probe.json").write_text(json.dumps({**sc.info(), **_EXTRA.get(probe.name, {})}))
    t0 = time.monotonic()
    env = {"OPENAI_API_KEY": sc.secret} if probe.name == "secrets" else None  # the sandbox must drop it
    env_log = logging.getLogger("agents.sandbox.env")
    level = env_log.level
    env_log.setLevel(logging.ERROR)  # its "dropped OPENAI_API_KEY" warning is the expected outcome here
    try:
        res = box.run(node, ["python", "code.py", sc.token], env=env)
    finally:
        env_log.setLevel(level)
    seconds = time.monotonic() - t0
    problems: list[str] = []
    if probe.judge is not None:
        problems.append(probe.judge(res, sc, seconds))
    else:
        got = _got(res)
        if got:
            problems.append("; ".join(got))
        elif "GOT " not in res.stdout:
            problems.append(f"the probe did not finish (exit {res.exit_code}): {res.stderr[-300:]!r}")
    if sc.secret in res.stdout + res.stderr:  # the program never prints it unless it found it
        problems.append("the secret appeared in the program's output")
    problems += sc.host_changes()
    time.sleep(0.05)
    if left := sc.leftovers():
        problems.append(f"processes left running: {left}")
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    problems = [p for p in problems if p]
    return ProbeOutcome(probe.name, probe.what, not problems, "; ".join(problems), res.verdict, round(seconds, 2))


def run_suite(
    settings: SandboxSettings,
    *,
    workspace: Path | None = None,
    only: set[str] | None = None,
    make: Callable[[SandboxSettings], LocalSandbox] = LocalSandbox,
) -> Iterator[ProbeOutcome]:
    """Every probe (or those named in ``only``), one outcome at a time."""
    with scene(workspace) as sc:
        for probe in PROBES:
            if only is None or probe.name in only:
                yield run_probe(probe, sc, settings, make)
