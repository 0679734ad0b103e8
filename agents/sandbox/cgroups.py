"""Per-run control groups: memory, processes and CPU of a run as a whole (the program and all its children).

cgroup v2 where a writable unified hierarchy has the memory and pids controllers, else the v1 controllers
(``/sys/fs/cgroup/<controller>``) as root, else none (the caller falls back to rlimits and a watcher). Each run
gets its own group under ``shoal-sandbox/`` inside Shoal's own group (so any limit Shoal itself lives under
still applies); it is emptied and removed after the run.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agents.settings import SandboxSettings

log = logging.getLogger(__name__)

ROOT = Path("/sys/fs/cgroup")
_PARENT = "shoal-sandbox"
_PERIOD_US = 100_000
Version = Literal["v2", "v1"]


@dataclass(frozen=True)
class Limits:
    memory_bytes: int
    pids: int
    cpus: float

    @classmethod
    def of(cls, settings: SandboxSettings) -> Limits:
        """The limits of one run under ``settings``."""
        return cls(settings.memory_mb * 1024 * 1024, settings.max_processes, settings.cpus)


def _own_path(controller: str) -> str:
    """This process's group in hierarchy ``controller`` ('' = the v2 hierarchy), from /proc/self/cgroup."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        if (controller == "" and names == "") or controller in names.split(","):
            return path.lstrip("/")
    raise LookupError(controller)


def _v2_mount() -> Path | None:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        if right.startswith("cgroup2 "):
            return Path(left.split()[4])
    return None


def _v1_dirs() -> dict[str, Path]:
    """memory, pids, cpu (and cpuacct when mounted apart) directories of our own groups in v1."""
    out: dict[str, Path] = {}
    for ctrl in ("memory", "pids", "cpu", "cpuacct"):
        mount = ROOT / ctrl
        if (mount / "cgroup.procs").exists():
            with contextlib.suppress(LookupError):
                out[ctrl] = mount / _own_path(ctrl)
    return out


def _writable_dir(path: Path) -> bool:
    probe = path / f"{_PARENT}-probe-{uuid.uuid4().hex[:8]}"
    try:
        probe.mkdir()
    except OSError:
        return False
    with contextlib.suppress(OSError):
        probe.rmdir()
    return True


def sweep_stale(parents: list[Path]) -> int:
    """Remove the empty groups of runs whose Shoal process is gone (killed before it could clean up)."""
    removed = 0
    for parent in parents:
        for d in parent.glob("run-*"):
            pid = d.name.split("-")[1]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                with contextlib.suppress(OSError):
                    d.rmdir()
                    removed += 1
    return removed


@functools.lru_cache(maxsize=1)
def available() -> tuple[Version, Path] | None:
    """Which hierarchy a run can use here: ('v2', parent dir) or ('v1', memory dir), or None. Probed once;
    the leftovers of runs whose Shoal died are swept then."""
    found = _available()
    if found is not None:
        version, base = found
        parents = [base / _PARENT] if version == "v2" else [d / _PARENT for d in _v1_dirs().values()]
        sweep_stale(parents)
    return found


def _available() -> tuple[Version, Path] | None:
    mount = _v2_mount()
    if mount is not None:
        with contextlib.suppress(OSError, LookupError):
            parent = mount / _own_path("")
            controllers = set((mount / "cgroup.controllers").read_text().split())
            if {"memory", "pids"} <= controllers and _setup_v2_parent(mount, parent) is not None:
                return "v2", parent
    if os.geteuid() == 0:
        dirs = _v1_dirs()
        if {"memory", "pids"} <= dirs.keys() and all(_writable_dir(d) for d in dirs.values()):
            return "v1", dirs["memory"]
    return None


def _setup_v2_parent(mount: Path, own: Path) -> Path | None:
    """``<own>/shoal-sandbox`` with memory, pids (and cpu) delegated to its children."""
    group = own / _PARENT
    try:
        group.mkdir(exist_ok=True)
        enable = [c for c in ("memory", "pids", "cpu") if c in (own / "cgroup.controllers").read_text().split()]
        (own / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in enable))
        (group / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in enable))
    except OSError:
        return None  # e.g. our own group has processes and controllers cannot be enabled below it
    return group


@dataclass
class RunGroup:
    """The groups of one run: created with ``create``, joined by the child through ``proc_fds``, then ``remove``d."""

    version: Version
    dirs: dict[str, Path]
    limits: Limits
    proc_fds: list[int] = field(default_factory=list)
    _base: tuple[int, int, float] = (0, 0, 0.0)  # oom kills, refused forks, CPU seconds when the run began

    @classmethod
    def create(cls, limits: Limits) -> RunGroup | None:
        """A group for one run: an idle one from this process's pool when there is one (in cgroup v1 the first
        process to join a *new* memory group waits about 12 ms in the kernel; joining a used one takes 0.1 ms),
        else a new one. Counters are read relative to their values now."""
        avail = available()
        if avail is None:
            return None
        version, _ = avail
        with _POOL_LOCK:
            dirs = _POOL.pop() if _POOL else None
        if dirs is None:
            name = f"run-{os.getpid()}-{uuid.uuid4().hex[:10]}"
            if version == "v2":
                dirs = {"all": avail[1] / _PARENT / name}
            else:
                dirs = {ctrl: d / _PARENT / name for ctrl, d in _v1_dirs().items()}
        group = cls(version=version, dirs=dirs, limits=limits)
        try:
            for d in dirs.values():
                d.mkdir(parents=True, exist_ok=True)
            group._write_limits()
            group._base = (group._oom_count(), group._pids_max_count(), group.cpu_seconds())
            for d in dirs.values():
                group.proc_fds.append(os.open(d / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC))
        except OSError:
            group.remove(keep=False)
            raise
        return group

    def _write_limits(self) -> None:
        lim = self.limits
        quota = int(lim.cpus * _PERIOD_US)
        if self.version == "v2":
            d = self.dirs["all"]
            (d / "memory.max").write_text(str(lim.memory_bytes))
            with contextlib.suppress(OSError):
                (d / "memory.swap.max").write_text("0")
            with contextlib.suppress(OSError):
                (d / "memory.oom.group").write_text("1")
            (d / "pids.max").write_text(str(lim.pids))
            with contextlib.suppress(OSError):
                (d / "cpu.max").write_text(f"{quota} {_PERIOD_US}")
            return
        mem = self.dirs["memory"]
        # memory+swap must never be below memory: raise it first, set memory, then bring it down to match
        with contextlib.suppress(OSError):  # only with swap accounting
            (mem / "memory.memsw.limit_in_bytes").write_text("-1")
        (mem / "memory.limit_in_bytes").write_text(str(lim.memory_bytes))
        with contextlib.suppress(OSError):
            (mem / "memory.memsw.limit_in_bytes").write_text(str(lim.memory_bytes))
        (self.dirs["pids"] / "pids.max").write_text(str(lim.pids))
        if "cpu" in self.dirs:
            (self.dirs["cpu"] / "cpu.cfs_period_us").write_text(str(_PERIOD_US))
            (self.dirs["cpu"] / "cpu.cfs_quota_us").write_text(str(quota))

    def _read(self, ctrl: str, name: str) -> str:
        d = self.dirs.get("all" if self.version == "v2" else ctrl)
        if d is None:  # a v1 controller this machine does not mount (cpu, cpuacct)
            return ""
        try:
            return (d / name).read_text()
        except OSError:
            return ""

    @staticmethod
    def _field(text: str, key: str) -> int:
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == key and parts[1].isdigit():
                return int(parts[1])
        return 0

    def _oom_count(self) -> int:
        if self.version == "v2":
            return self._field(self._read("memory", "memory.events"), "oom_kill")
        return self._field(self._read("memory", "memory.oom_control"), "oom_kill")

    def _pids_max_count(self) -> int:
        return self._field(self._read("pids", "pids.events"), "max")

    def oom_killed(self) -> bool:
        return self._oom_count() > self._base[0]

    def pids_hit(self) -> bool:
        """A fork or clone was refused at the process limit."""
        return self._pids_max_count() > self._base[1]

    def cpu_used(self) -> float:
        return self.cpu_seconds() - self._base[2]

    def cpu_seconds(self) -> float:
        if self.version == "v2":
            return self._field(self._read("cpu", "cpu.stat"), "usage_usec") / 1e6
        ctrl = "cpuacct" if "cpuacct" in self.dirs else "cpu"
        raw = self._read(ctrl, "cpuacct.usage").strip()
        return int(raw) / 1e9 if raw.isdigit() else 0.0

    def pids(self) -> list[int]:
        raw = self._read("pids", "cgroup.procs")
        return [int(p) for p in raw.split() if p.isdigit()]

    def kill_all(self) -> None:
        """SIGKILL every process in the run's groups (cgroup.kill on v2); bounded even against a fork loop."""
        if self.version == "v2":
            with contextlib.suppress(OSError):
                (self.dirs["all"] / "cgroup.kill").write_text("1")
        pause = 0.0005  # a run that just ended leaves its group within a millisecond or two
        for _ in range(200):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(pause)
            pause = min(pause * 2, 0.005)
        log.error("sandbox: processes still in %s after repeated SIGKILL", self.dirs)

    def remove(self, *, keep: bool = True) -> None:
        """Empty the group; keep it for the next run (at most a few per process) or remove it."""
        for fd in self.proc_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.proc_fds.clear()
        self.kill_all()
        # The page cache the run read stays charged to a kept group: the kernel reclaims it before it would count
        # against the next run (its limit is judged by OOM kills, not by usage). Emptying the group here
        # (v1 memory.force_empty) cost 30-65 ms a run and evicted the experiment environment's files from the
        # cache, so every next run read numpy, scipy and pandas from disk again (an import of the three: 2.4 s
        # in the sandbox against 1.3 s bare; 1.3 s in both without it).
        if keep and not self.pids():
            with _POOL_LOCK:
                if len(_POOL) < _POOL_MAX:
                    _POOL.append(self.dirs)
                    return
        _rmdir_all(self.dirs)


def _rmdir_all(dirs: dict[str, Path]) -> None:
    for d in dirs.values():
        for _ in range(100):  # the kernel frees a group a moment after its last process is reaped
            try:
                d.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.01)
        else:
            log.warning("sandbox: could not remove cgroup %s", d)


_POOL_LOCK = threading.Lock()
_POOL: list[dict[str, Path]] = []
_POOL_MAX = 4


@atexit.register
def _drop_pool() -> None:
    with _POOL_LOCK:
        idle = list(_POOL)
        _POOL.clear()
    for dirs in idle:
        _rmdir_all(dirs)
