"""One Shoal process at a time in a run directory.

Two processes on one run (a second ``shoal resume`` in another terminal while the first still runs, thought dead)
would both add nodes to the journal, each overwriting the other's, and both drive the same checkpoint. A command
that creates or opens a run for work takes an advisory lock (``fcntl.flock``) on ``RUN/.lock`` and holds it until
the command ends; the kernel drops it when the process dies, so a crash or ``kill -9`` leaves no stale lock. A
second process is told which process holds the run. Within one process the lock is re-entrant (the pipeline opens
its run more than once). ``release_all`` is called when a command ends (the CLI's root context closes).
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

LOCK = ".lock"

_held: dict[Path, int] = {}
_guard = threading.Lock()


def hold(run_path: Path) -> bool:
    """Take the run's lock for this process (True), or False when another process holds it."""
    key = Path(run_path).resolve()
    with _guard:
        if key in _held:
            return True
        fd = os.open(key / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        _held[key] = fd
        return True


def busy(run_path: Path) -> bool:
    """Whether another process holds the run now (a probe: the lock is not kept)."""
    key = Path(run_path).resolve()
    with _guard:
        if key in _held:
            return False
    try:
        fd = os.open(key / LOCK, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False  # never locked
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops the shared lock just taken
    return False


def holder(run_path: Path) -> str:
    """The process id the lock file names (best effort, for the message), or "unknown"."""
    try:
        text = (Path(run_path) / LOCK).read_text(encoding="utf-8").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"


def release_all() -> None:
    """Drop every run lock this process holds."""
    with _guard:
        for fd in _held.values():
            os.close(fd)  # closing the descriptor releases its flock
        _held.clear()
