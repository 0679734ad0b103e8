"""The process side of one local run: the rlimits every process inherits, the program's exit status, and killing
what is left of a run that has no cgroup to kill it with."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import time

from agents.sandbox import watch
from agents.settings import SandboxSettings

_MB = 1024 * 1024


def rlimits(settings: SandboxSettings) -> list[tuple[int, tuple[int, int]]]:
    """The limits every process of a run inherits; soft limits never exceed the hard limits we already have."""
    fsize = min(settings.file_size_mb, settings.disk_mb) * _MB
    wanted = [
        (resource.RLIMIT_CPU, settings.cpu_s, settings.cpu_s + 1),  # SIGXCPU at the soft limit, SIGKILL 1 s later
        (resource.RLIMIT_FSIZE, fsize, fsize),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    if settings.address_space_limit:
        wanted.append((resource.RLIMIT_AS, settings.memory_mb * _MB, settings.memory_mb * _MB))
    out = []
    for res, soft, hard in wanted:
        _, cur_hard = resource.getrlimit(res)
        if cur_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, cur_hard), min(hard, cur_hard)
        out.append((res, (soft, hard)))
    return out


def kill_namespace_init(pid: int, wait_s: float = 5.0) -> None:
    """Without cgroups: SIGKILL the PID namespace's init (our child's child) *before* our child, and wait until
    it is gone. The kernel kills every other process of the namespace, and init's exit completes only after
    they are all gone; killed the other way round, init would be re-parented out of our sight first."""
    inits = watch.children(pid)
    for init in inits:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(init, signal.SIGKILL)
    deadline = time.monotonic() + wait_s
    while any(alive(i) for i in inits) and time.monotonic() < deadline:
        time.sleep(0.005)


def kill_and_wait(pids: list[int], wait_s: float = 3.0) -> None:
    """Without cgroups: the processes the run had (the kernel is tearing its PID namespace down) are gone
    before ``run`` returns. Only pids seen as descendants of our own child, still alive, are signalled."""
    deadline = time.monotonic() + wait_s
    left = list(pids)
    while left and time.monotonic() < deadline:
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
        left = [pid for pid in left if alive(pid)]


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def exit_code(status: str, returncode: int | None, from_shell: bool) -> int | None:
    """The program's exit status (negative N: killed by signal N), from the launcher's report or the return code.

    Through sh or bwrap, death by signal N reads as 128+N; a program that itself exits with 129..159 reads the same.
    """
    parts = status.split()
    if len(parts) >= 2 and parts[0] in ("exit", "signal") and parts[1].isdigit():
        return int(parts[1]) if parts[0] == "exit" else -int(parts[1])
    if from_shell and returncode is not None and 128 < returncode < 160:
        return -(returncode - 128)
    return returncode
