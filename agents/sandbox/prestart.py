"""bubblewrap started ahead of the run: the fork, the cgroup join and bwrap's own exec happen before a run is
asked for, off its start-up path.

``bwrap --args FD`` reads its options from a pipe and blocks until that pipe is closed, so a bwrap process can
be started early, already inside the next run's cgroups, with the run's rlimits, a new session and the
parent-death signal, and be given its mounts, environment and program only when the run starts. The program is
not on bwrap's command line (``--args`` cannot carry what follows ``--``): a fixed trampoline, ``sh -c``, execs
the program handed over in one environment variable (``--setenv``, the last option written), which it unsets
first. A pipe closed early (Shoal died mid-write) gives the trampoline no program, and it exits.

Why: in cgroup v1 the first process to join a group waits for an RCU grace period (5-13 ms measured), and
forking Shoal with a pre-exec hook costs 3-6 ms more; both now happen while the previous run is still going.
The kernel ties the parent-death signal to the *thread* that forked, so the next bwrap is started by one thread
that lives as long as Shoal (``_Spawner``), never by a worker thread that may end.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import shlex
import signal
import subprocess
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from agents.sandbox import bwrap, cgroups, privileges, reaping, seccomp
from agents.sandbox.isolation import Isolation
from agents.settings import SandboxSettings

log = logging.getLogger(__name__)

EXEC_VAR = "_SHOAL_EXEC"
# `${X:?}`: no program handed over (a pipe closed early) is an error, never an empty success
TRAMPOLINE = f'c="${{{EXEC_VAR}:?no program}}"; unset {EXEC_VAR}; eval "exec $c"'


def handover_args(setup: list[str], env: dict[str, str], program: list[str]) -> list[str]:
    """What is written to the pipe: bwrap's options, a clean environment, and the program last."""
    out = [*setup, "--clearenv"]
    for key, value in env.items():
        out += ["--setenv", key, value]
    return [*out, "--setenv", EXEC_VAR, shlex.join(program)]


@dataclass
class Started:
    """A bwrap process waiting for its options; ``launch`` once, or ``discard``."""

    proc: subprocess.Popen[bytes]
    args_w: int | None
    group: cgroups.RunGroup | None
    seccomp_fd: int | None  # the filter's fd number in bwrap (closed here)

    def alive(self) -> bool:
        return self.proc.poll() is None and self.args_w is not None

    def launch(self, args: list[str]) -> None:
        """Hand over the options; bwrap sets up the sandbox and runs the program. Raises OSError (EPIPE) when
        the waiting bwrap is gone."""
        fd, self.args_w = self.args_w, None
        if fd is None:
            raise RuntimeError("a pre-started sandbox can be launched only once")
        data = memoryview(b"".join(os.fsencode(a) + b"\0" for a in args))
        try:
            while data:
                data = data[os.write(fd, data) :]
        except OSError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            self.proc.wait(timeout=5)
            raise
        finally:
            os.close(fd)

    def discard(self) -> None:
        """Kill the waiting bwrap (our own child: it has run nothing yet), reap it, free its groups."""
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()  # before the pipe closes: an empty option list must never start the trampoline
        if self.args_w is not None:
            os.close(self.args_w)
            self.args_w = None
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.error("sandbox: pre-started bwrap %d did not exit after SIGKILL", self.proc.pid)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        if self.group is not None:
            self.group.remove()


def start_bwrap(iso: Isolation, settings: SandboxSettings) -> Started:
    """A bwrap waiting for its options: in the run's new cgroups, with its rlimits, a session of its own and
    SIGKILL when Shoal dies; inside, ``setpriv`` down to the sandbox uid (as root), then the trampoline."""
    if iso.bwrap is None:
        raise ValueError("pre-starting needs bubblewrap")
    s = settings
    group = cgroups.RunGroup.create(cgroups.Limits.of(s)) if iso.cgroup else None
    # no cgroup of ours in a user namespace: the kernel still caps the run's tasks there
    nproc = s.max_processes if group is None and iso.ids is None else None
    inner = [*bwrap.inner_prefix(iso.ids, nproc), "/bin/sh", "-c", TRAMPOLINE]
    seccomp_fd = seccomp.filter_fd()  # no user namespaces (as root), no keyrings (both modes)
    args_r, args_w = os.pipe()
    try:
        proc = subprocess.Popen(
            [iso.bwrap, "--args", str(args_r), "--", *inner],
            cwd="/",
            env={"PATH": "/usr/bin:/bin"},  # bwrap's own; the program's comes with --clearenv/--setenv
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            pass_fds=(args_r,) if seccomp_fd is None else (args_r, seccomp_fd),
            preexec_fn=privileges.preexec(
                ids=None,  # setpriv drops inside the namespaces
                cgroup_fds=group.proc_fds if group else (),
                limits=reaping.rlimits(s),
                death_signal=int(signal.SIGKILL),
            ),
        )
    except BaseException:
        os.close(args_w)
        if group is not None:
            group.remove()
        raise
    finally:
        os.close(args_r)
        if seccomp_fd is not None:
            os.close(seccomp_fd)
    return Started(proc=proc, args_w=args_w, group=group, seccomp_fd=seccomp_fd)


class _Spawner:
    """One daemon thread that starts every pre-started bwrap (see the module docstring)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="shoal-sandbox-prestart", daemon=True)
                self._thread.start()
        self._queue.put(job)

    def drain(self, timeout_s: float) -> None:
        """Wait (bounded) until every job submitted so far has run."""
        with self._lock:
            running = self._thread is not None and self._thread.is_alive()
        if running:
            done = threading.Event()
            self._queue.put(done.set)
            done.wait(timeout_s)

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            try:
                job()
            except Exception:  # a failed pre-start only means the next run starts cold
                log.warning("sandbox: could not pre-start the next run", exc_info=True)


_SPAWNER = _Spawner()
_LIVE: weakref.WeakSet[Prestarter] = weakref.WeakSet()


class Prestarter:
    """Keeps one bwrap started ahead for the next run of one sandbox: ``take`` hands it over, ``refill`` (after
    a run) asks for the next. With several runs at once, those that find none start cold (the same way, on their
    own thread)."""

    def __init__(self, start: Callable[[], Started]) -> None:
        self._start = start
        self._lock = threading.Lock()
        self._ready: Started | None = None
        self._pending = False
        self._closed = False
        _LIVE.add(self)

    def take(self) -> Started | None:
        """The waiting bwrap, or None (none ready: the caller starts one now)."""
        with self._lock:
            ready, self._ready = self._ready, None
            closed = self._closed
        if closed:
            return None
        if ready is not None and not ready.alive():
            ready.discard()
            return None
        return ready

    def refill(self) -> None:
        """Ask for the next bwrap (called when a run has ended, so starting it never competes with the run)."""
        with self._lock:
            if self._closed or self._pending or self._ready is not None:
                return
            self._pending = True
        _SPAWNER.submit(self._fill)

    def wait_ready(self, timeout_s: float = 10.0) -> bool:
        """Block until the next bwrap is waiting (benchmarks call this between runs, outside the timing)."""
        _SPAWNER.drain(timeout_s)  # every fill queued before now has run
        with self._lock:
            return self._ready is not None

    def _fill(self) -> None:
        with self._lock:
            if self._closed:
                self._pending = False
                return
        try:
            started = self._start()
        finally:
            with self._lock:
                self._pending = False
        with self._lock:
            keep = not self._closed and self._ready is None
            if keep:
                self._ready = started
        if not keep:
            started.discard()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            ready, self._ready = self._ready, None
        if ready is not None:
            ready.discard()


@atexit.register
def _close_all() -> None:
    """At exit: no bwrap is left waiting, and none is half-started (its cgroups would be left behind)."""
    for pre in list(_LIVE):
        pre.close()
    _SPAWNER.drain(2.0)  # a fill under way sees the sandbox closed and discards what it started
