"""Local backend: one subprocess per run in its own session, under rlimits, with a scrubbed environment and,
where the kernel allows, its own network and PID namespaces (docs/sandbox.md)."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from agents.sandbox.base import ReadOnlyMount, SandboxResult, checked_run_args, classify_kill
from agents.sandbox.env import build_env
from agents.sandbox.isolation import Isolation, probe_isolation
from agents.sandbox.output import HeadTail, PathCleaner
from agents.settings import SandboxSettings

log = logging.getLogger(__name__)

LAUNCHER = Path(__file__).with_name("_launcher.py")
_KILL_GRACE_S = 2.0  # reaper mode: time the launcher gets to kill its descendants before the group is killed
_DRAIN_S = 1.0  # after exit: time to read what is left in the pipes
_MB = 1024 * 1024
_SH_INIT = '"$@"; exit $?'  # not `exec`: sh stays PID 1, the program is PID 2 with normal signal semantics


def rlimits(settings: SandboxSettings) -> list[tuple[int, tuple[int, int]]]:
    """The limits every process of a run inherits; soft limits never exceed the hard limits we already have."""
    wanted = [
        (resource.RLIMIT_CPU, settings.cpu_s, settings.cpu_s + 1),  # SIGXCPU at the soft limit, SIGKILL 1 s later
        (resource.RLIMIT_FSIZE, settings.file_size_mb * _MB, settings.file_size_mb * _MB),
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


_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True)


def _preexec(limits: list[tuple[int, tuple[int, int]]], death_signal: int) -> Callable[[], None]:
    """Runs in the forked child before exec: plain system calls only (no locks, no logging)."""

    def apply() -> None:
        for res, lim in limits:
            resource.setrlimit(res, lim)
        # if Shoal itself dies (even by kill -9) the run goes with it instead of living on unattended
        _LIBC.prctl(_PR_SET_PDEATHSIG, death_signal, 0, 0, 0)

    return apply


def _cache_dir() -> Path:
    path = Path(tempfile.gettempdir()) / f"shoal-sandbox-{os.getuid()}" / "matplotlib"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


class LocalSandbox:
    """Runs programs as local subprocesses; see docs/sandbox.md for what is isolated and how."""

    name = "local"

    def __init__(self, settings: SandboxSettings, *, isolation: Isolation | None = None) -> None:
        self.settings = settings
        self._isolation = isolation

    @property
    def isolation(self) -> Isolation:
        if self._isolation is None:
            self._isolation = probe_isolation(self.settings.network)
        return self._isolation

    def command(self, argv: list[str], status_fd: int) -> list[str]:
        """The full command line: isolation prefix, a small init, the program."""
        program = [sys.executable if argv[0] in ("python", "python3") else argv[0], *argv[1:]]
        if self.isolation.pid_namespace:
            # sh is PID 1 of the namespace (the kernel kills the rest when it exits); its exit status, passed on
            # by unshare, is the program's (128+N for death by signal N)
            return [*self.isolation.prefix, "/bin/sh", "-c", _SH_INIT, "sh", *program]
        return [*self.isolation.prefix, sys.executable, "-I", "-S", str(LAUNCHER), str(status_fd), "--", *program]

    def environment(self, workdir: Path, extra: dict[str, str] | None) -> dict[str, str]:
        path = os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])
        return build_env(
            home=str(workdir),
            path=path,
            passthrough=self.settings.env_passthrough,
            extra=extra,
            defaults={"MPLCONFIGDIR": str(_cache_dir())},
        )

    def run(
        self,
        workdir: Path,
        argv: list[str],
        *,
        timeout_s: float | None = None,
        env: dict[str, str] | None = None,
        mounts: Sequence[ReadOnlyMount] = (),
    ) -> SandboxResult:
        if mounts:
            raise NotImplementedError(f"the {self.name} backend cannot mount read-only inputs yet")
        workdir, timeout = checked_run_args(workdir, argv, timeout_s, self.settings.timeout_s)
        status_r, status_w = os.pipe()
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                self.command(argv, status_w),
                cwd=workdir,
                env=self.environment(workdir.resolve(), env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                pass_fds=() if self.isolation.pid_namespace else (status_w,),
                preexec_fn=_preexec(rlimits(self.settings), self._death_signal()),
            )
        except BaseException:
            os.close(status_r)
            raise
        finally:
            os.close(status_w)
        limit = self.settings.max_output_chars
        out, err, status = HeadTail(limit), HeadTail(limit), HeadTail(256)
        try:
            timed_out = self._supervise(proc, start + timeout, {proc.stdout: out, proc.stderr: err, status_r: status})
        finally:
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
            os.close(status_r)
        duration = time.monotonic() - start
        exit_code = None if timed_out else _exit_code(status.text(), proc.returncode, self.isolation.pid_namespace)
        clean = PathCleaner(workdir)
        stdout, stderr = clean(out.text()), clean(err.text())
        reason = classify_kill(timed_out=timed_out, exit_code=exit_code, stderr=stderr)
        log.debug("sandbox run %s: exit=%s timed_out=%s %.2fs", argv, exit_code, timed_out, duration)
        return SandboxResult(
            exit_code=exit_code,
            timed_out=timed_out,
            duration_s=round(duration, 4),
            stdout=stdout,
            stderr=stderr,
            killed_reason=reason,
        )

    def _supervise(self, proc: subprocess.Popen[bytes], deadline: float, sinks: dict) -> bool:
        """Read output until the run ends; kill it at the deadline. Returns whether it timed out.

        The group leader is reaped only after the final group kill, so its process-group id cannot have been
        reused by an unrelated process: we never signal a group we did not start.
        """
        sel = selectors.DefaultSelector()
        for stream, sink in sinks.items():
            sel.register(stream, selectors.EVENT_READ, sink)
        pidfd = os.pidfd_open(proc.pid)
        sel.register(pidfd, selectors.EVENT_READ, None)
        timed_out = exited = escalated = False
        end_at = float("inf")  # when to stop waiting for pipes to close
        hard_stop = deadline + _KILL_GRACE_S + 10.0
        try:
            while True:
                now = time.monotonic()
                if not exited and not timed_out and now >= deadline:
                    timed_out = True
                    self._kill(proc, first=True)
                if timed_out and not exited and not escalated and now >= deadline + _KILL_GRACE_S:
                    escalated = True
                    self._kill(proc, first=False)
                if now >= end_at or now >= hard_stop:
                    break
                if exited and len(sel.get_map()) == 0:
                    break
                next_kill = deadline + _KILL_GRACE_S if timed_out else deadline
                wake = end_at if exited else min(next_kill, hard_stop)
                for key, _ in sel.select(max(0.0, wake - now) + 0.001):
                    if key.data is None:
                        exited = True
                        sel.unregister(key.fileobj)
                        end_at = time.monotonic() + _DRAIN_S
                        continue
                    chunk = os.read(key.fd, 65536)
                    if chunk:
                        key.data.feed(chunk)
                    else:
                        sel.unregister(key.fileobj)
            # backstop: whatever is left in the group dies with it (the leader is not reaped yet)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                log.error("sandbox: process %d did not exit after SIGKILL", proc.pid)
        finally:
            sel.close()
            os.close(pidfd)
        return timed_out

    def _death_signal(self) -> int:
        # unshare dies at once and its --kill-child takes the namespace down; the bare launcher needs SIGTERM to
        # kill its descendants before it exits
        return int(signal.SIGKILL if self.isolation.pid_namespace else signal.SIGTERM)

    def _kill(self, proc: subprocess.Popen[bytes], *, first: bool) -> None:
        if first and not self.isolation.pid_namespace:
            # the launcher kills every descendant (setsid'd ones included), then exits
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def _exit_code(status: str, returncode: int | None, from_shell: bool) -> int | None:
    """The program's exit status (negative N: killed by signal N), from the launcher's report or the return code.

    Through sh, death by signal N reads as 128+N; a program that itself exits with 129..159 reads the same.
    """
    parts = status.split()
    if len(parts) >= 2 and parts[0] in ("exit", "signal") and parts[1].isdigit():
        return int(parts[1]) if parts[0] == "exit" else -int(parts[1])
    if from_shell and returncode is not None and 128 < returncode < 160:
        return -(returncode - 128)
    return returncode
