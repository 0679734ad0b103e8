"""Watching one local run to its end: its output read as it comes, its limits looked at, and the kill at the
deadline or at a limit, bounded, down to the last process of the run and no other."""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable

from agents.sandbox import cgroups, reaping, watch

log = logging.getLogger(__name__)

KILL_GRACE_S = 2.0  # reaper mode: time the launcher gets to kill its descendants before the group is killed
DRAIN_S = 1.0  # after exit: time to read what is left in the pipes
POLL_S = 0.02  # how often limits without a kernel hook are looked at (each watcher paces itself: watch.py)


def death_signal(*, namespaced: bool) -> int:
    """bwrap and unshare die at once and take their namespaces down; the bare launcher needs SIGTERM to kill its
    descendants before it exits."""
    return int(signal.SIGKILL if namespaced else signal.SIGTERM)


def supervise(
    proc: subprocess.Popen[bytes],
    deadline: float,
    sinks: dict,
    over_limit: Callable[[], str | None],
    group: cgroups.RunGroup | None,
    *,
    namespaced: bool,
) -> bool:
    """Read output until the run ends; kill it at the deadline or a limit. Returns whether it timed out.

    ``namespaced``: the run has its own PID namespace (bwrap, unshare). The group leader is reaped only after the
    final group kill, so its process-group id cannot have been reused by an unrelated process: we never signal a
    group we did not start.
    """
    sel = selectors.DefaultSelector()
    for stream, sink in sinks.items():
        sel.register(stream, selectors.EVENT_READ, sink)
    pidfd = os.pidfd_open(proc.pid)
    sel.register(pidfd, selectors.EVENT_READ, None)
    timed_out = exited = escalated = killed = False
    end_at = float("inf")  # when to stop waiting for pipes to close
    hard_stop = deadline + KILL_GRACE_S + 10.0
    next_poll = time.monotonic() + POLL_S / 2
    try:
        while True:
            now = time.monotonic()
            if not exited and not killed and now >= next_poll:
                next_poll = now + POLL_S
                if over_limit():
                    killed = True
                    kill(proc, first=False, group=group, namespaced=namespaced)
            if not exited and not timed_out and not killed and now >= deadline:
                timed_out = True
                kill(proc, first=True, group=group, namespaced=namespaced)
            if timed_out and not exited and not escalated and now >= deadline + KILL_GRACE_S:
                escalated = True
                kill(proc, first=False, group=group, namespaced=namespaced)
            if now >= end_at or now >= hard_stop:
                break
            if exited and len(sel.get_map()) == 0:
                break
            next_kill = deadline + KILL_GRACE_S if timed_out else deadline
            wake = end_at if exited else min(next_kill, hard_stop, next_poll)
            for key, _ in sel.select(max(0.0, wake - now) + 0.001):
                if key.data is None:
                    exited = True
                    sel.unregister(key.fileobj)
                    end_at = time.monotonic() + DRAIN_S
                    continue
                chunk = os.read(key.fd, 65536)
                if chunk:
                    key.data.feed(chunk)
                else:
                    sel.unregister(key.fileobj)
        # backstop: whatever is left in the group dies with it (the leader is not reaped yet)
        tree = watch.descendants(proc.pid) if group is None else []
        if group is None and namespaced:
            reaping.kill_namespace_init(proc.pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if group is not None:
            group.kill_all()
        else:
            reaping.kill_and_wait(tree)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.error("sandbox: process %d did not exit after SIGKILL", proc.pid)
    finally:
        sel.close()
        os.close(pidfd)
    return timed_out


def kill(proc: subprocess.Popen[bytes], *, first: bool, group: cgroups.RunGroup | None, namespaced: bool) -> None:
    if first and not namespaced:
        # the launcher kills every descendant (setsid'd ones included), then exits
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        return
    if group is None:
        reaping.kill_namespace_init(proc.pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if group is not None:
        group.kill_all()
