"""Local backend: one run per bubblewrap sandbox, as an unprivileged uid, inside per-run cgroups, watched for
disk use; weaker modes (``unshare``, a subreaper) only where bubblewrap cannot run and ``allow_weak`` says so.
See docs/sandbox.md for what is isolated and how it was measured."""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from agents.errors import ConfigError
from agents.sandbox import bwrap, cgroups, privileges, pyenv, reaping, seccomp, watch
from agents.sandbox.base import KilledReason, ReadOnlyMount, SandboxResult, checked_run_args, classify_kill, verdict_for
from agents.sandbox.env import build_env
from agents.sandbox.isolation import Isolation, enforce, probe_isolation
from agents.sandbox.output import HeadTail, PathCleaner
from agents.settings import SandboxSettings

log = logging.getLogger(__name__)

LAUNCHER = Path(__file__).with_name("_launcher.py")
_LAUNCHER_SOURCE = LAUNCHER.read_text(encoding="utf-8")
_KILL_GRACE_S = 2.0  # reaper mode: time the launcher gets to kill its descendants before the group is killed
_DRAIN_S = 1.0  # after exit: time to read what is left in the pipes
_POLL_S = 0.02  # how often limits without a kernel hook are looked at (each watcher paces itself: watch.py)
_MB = 1024 * 1024
_SH_INIT = '"$@"; exit $?'  # not `exec`: sh stays PID 1, the program is PID 2 with normal signal semantics
_INSIDE_PATH = f"{pyenv.INSIDE}/bin:/usr/local/bin:/usr/bin:/bin"


def _host_cache_dir() -> Path:
    path = Path(tempfile.gettempdir()) / f"shoal-sandbox-{os.getuid()}" / "matplotlib"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


class LocalSandbox:
    """Runs programs as local subprocesses under the strongest isolation this machine allows."""

    name = "local"

    def __init__(self, settings: SandboxSettings, *, isolation: Isolation | None = None) -> None:
        self.settings = settings
        self._isolation = isolation
        self._checked = False
        self.warning: str | None = None  # set when allow_weak let a run go below min_isolation

    @property
    def isolation(self) -> Isolation:
        if self._isolation is None:
            self._isolation = probe_isolation(self.settings.network, self.settings.uid)
        return self._isolation

    def check(self) -> str | None:
        """Refuse (ConfigError) below ``min_isolation`` unless ``allow_weak``; the warning when it was allowed."""
        if not self._checked:
            s = self.settings
            self.warning = enforce(
                self.isolation, s.min_isolation, network_requested=s.network, allow_weak=s.allow_weak
            )
            self._checked = True
        return self.warning

    def env_dir(self) -> Path:
        path = pyenv.env_path(self.settings.python_env)
        if not pyenv.is_built(path):
            raise ConfigError(
                f"the experiment environment {path} is missing or outdated: run scripts/setup.sh "
                "(or python -m agents.sandbox env ensure), or point sandbox.python_env at a built one"
            )
        return path

    def _program(self, argv: list[str], workdir: Path) -> list[str]:
        if argv[0] in ("python", "python3"):
            python = f"{pyenv.INSIDE}/bin/python" if self.isolation.bwrap else str(self.env_dir() / "bin" / "python")
            argv = [python, *argv[1:]]
        if self.isolation.bwrap:
            argv = [_inside(a, workdir) for a in argv]
        return argv

    def command(self, program: list[str], status_fd: int) -> list[str]:
        """The command line in the weaker modes: isolation prefix, a small init, the program."""
        if self.isolation.pid_namespace:
            # sh is PID 1 of the namespace (the kernel kills the rest when it exits); its exit status, passed on
            # by unshare, is the program's (128+N for death by signal N)
            return [*self.isolation.prefix, "/bin/sh", "-c", _SH_INIT, "sh", *program]
        # the launcher's source on the command line: the sandbox uid may not be able to read Shoal's checkout
        launcher = [str(self.env_dir() / "bin" / "python"), "-I", "-S", "-c", _LAUNCHER_SOURCE, str(status_fd), "--"]
        return [*self.isolation.prefix, *launcher, *program]

    def environment(self, workdir: Path, extra: dict[str, str] | None) -> dict[str, str]:
        if self.isolation.bwrap:
            home, path = bwrap.NODE, _INSIDE_PATH
            defaults = {"MPLCONFIGDIR": "/tmp/matplotlib", "USER": "sandbox", "LOGNAME": "sandbox"}
            extra = {k: _inside(v, workdir) for k, v in (extra or {}).items()}
        else:
            home, path = (
                str(workdir),
                os.pathsep.join([str(self.env_dir() / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
            )
            defaults = {"MPLCONFIGDIR": str(_host_cache_dir())}
        return build_env(
            home=home, path=path, passthrough=self.settings.env_passthrough, extra=extra, defaults=defaults
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
        workdir, timeout = checked_run_args(workdir, argv, timeout_s, self.settings.timeout_s)
        workdir = workdir.resolve()
        self.check()
        iso = self.isolation
        if mounts and not iso.bwrap:
            raise ConfigError(
                "read-only inputs need bubblewrap (apt-get install bubblewrap); this machine runs the "
                f"{iso.mode} mode, which cannot remap paths"
            )
        bwrap.check_mounts(mounts)
        blocked = privileges.unreachable_parent(workdir) if iso.ids and not iso.bwrap else None
        if blocked is not None:
            raise ConfigError(
                f"the sandbox uid cannot reach {workdir}: {blocked} is not searchable by others; without bubblewrap "
                "put the workspace under a directory with o+x (e.g. --workspace /var/tmp/shoal), or install bubblewrap"
            )
        s = self.settings
        group = (
            cgroups.RunGroup.create(cgroups.Limits(s.memory_mb * _MB, s.max_processes, s.cpus)) if iso.cgroup else None
        )
        mode = privileges.hand_over(workdir, iso.ids)
        try:
            return self._run(workdir, self._program(argv, workdir), timeout, env, mounts, group)
        finally:
            if group is not None:
                group.remove()
            privileges.take_back(workdir, iso.ids, mode)

    def _run(
        self,
        workdir: Path,
        program: list[str],
        timeout: float,
        env: dict[str, str] | None,
        mounts: Sequence[ReadOnlyMount],
        group: cgroups.RunGroup | None,
    ) -> SandboxResult:
        iso, s = self.isolation, self.settings
        status_r, status_w = os.pipe()
        seccomp_fd = None
        if iso.bwrap:
            env_dir = self.env_dir()
            seccomp_fd = seccomp.filter_fd() if iso.ids is not None else None  # --disable-userns does it otherwise
            cmd = bwrap.command(
                iso.bwrap,
                ids=iso.ids,
                workdir=workdir,
                env_dir=env_dir,
                env_base=pyenv.base_prefix(env_dir),
                mounts=mounts,
                network=s.network,
                tmp_bytes=s.memory_mb * _MB,
                program=program,
                seccomp_fd=seccomp_fd,
                devices=bwrap.gpu_devices() if s.gpus else (),
                # no cgroup of ours in a user namespace: the kernel still caps the run's tasks there
                nproc=s.max_processes if group is None and iso.ids is None else None,
            )
            keep: tuple[int, ...] = () if seccomp_fd is None else (seccomp_fd,)
        else:
            cmd = self.command(program, status_w)
            keep = () if iso.pid_namespace else (status_w,)
        disk = watch.DiskWatch(workdir)  # (the process tree is watched once the child exists)
        start = time.monotonic()
        started_wall = time.time()  # files the run writes are newer than this
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=workdir,
                env=self.environment(workdir, env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                pass_fds=keep,
                preexec_fn=privileges.preexec(
                    ids=None if iso.bwrap else iso.ids,  # with bwrap, setpriv drops inside the namespaces
                    cgroup_fds=group.proc_fds if group else (),
                    limits=reaping.rlimits(s),
                    death_signal=self._death_signal(),
                ),
            )
        except BaseException:
            os.close(status_r)
            raise
        finally:
            os.close(status_w)
            if seccomp_fd is not None:
                os.close(seccomp_fd)
        limit = s.max_output_chars
        out, err, status = HeadTail(limit), HeadTail(limit), HeadTail(256)
        limits_hit: list[KilledReason] = []
        tree = watch.TreeWatch(proc.pid)

        def over_limit() -> KilledReason | None:
            reason = self._over_limit(tree, disk, group)
            if reason:
                limits_hit.append(reason)
            return reason

        try:
            sinks = {proc.stdout: out, proc.stderr: err, status_r: status}
            timed_out = self._supervise(proc, start + timeout, sinks, over_limit, group)
        finally:
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
            os.close(status_r)
        duration = time.monotonic() - start
        from_shell = iso.pid_namespace or iso.bwrap is not None
        exit_code = None if timed_out else reaping.exit_code(status.text(), proc.returncode, from_shell)
        clean = PathCleaner(workdir, sandbox_paths=(bwrap.NODE,) if iso.bwrap else (), labels=self._labels())
        stdout, stderr = clean(out.text()), clean(err.text())
        oom = group is not None and group.oom_killed()
        stderr += self._enforce_disk(workdir, disk, started_wall, limits_hit)
        reason = limits_hit[0] if limits_hit and not timed_out else None
        reason = reason or classify_kill(timed_out=timed_out, exit_code=exit_code, stderr=stderr, oom_killed=oom)
        log.debug("sandbox run %s: exit=%s timed_out=%s %.2fs", program, exit_code, timed_out, duration)
        return SandboxResult(
            exit_code=exit_code,
            timed_out=timed_out,
            duration_s=round(duration, 4),
            stdout=stdout,
            stderr=stderr,
            killed_reason=reason,
            verdict=verdict_for(reason, s, timeout),
        )

    def _labels(self) -> dict[str, str]:
        """Library paths of the experiment environment, shortened in tracebacks."""
        try:
            env_dir = self.env_dir()
        except ConfigError:
            return {}
        out: dict[str, str] = {}
        for lib in (env_dir / "lib").glob("python3*"):
            for root in (str(env_dir), pyenv.INSIDE):
                out[f"{root}/lib/{lib.name}/site-packages"] = "<site-packages>"
            base = pyenv.base_prefix(env_dir)
            if base is not None:
                out[f"{base}/lib/{lib.name}"] = "<stdlib>"
        return out

    def _enforce_disk(self, workdir: Path, disk: watch.DiskWatch, since: float, limits_hit: list[KilledReason]) -> str:
        """A last look at the node directory after the run: bytes past the disk limit (written between two of the
        watcher's looks, or after its last one) are removed, newest files largest first, and the run is judged
        killed by the disk limit."""
        limit = self.settings.disk_mb * _MB
        excess = watch.dir_bytes(workdir) - disk.baseline - limit
        if excess <= 0:
            return ""
        if "disk" not in limits_hit:
            limits_hit.insert(0, "disk")
        files, freed = watch.trim_written(workdir, since, excess)
        return f"\nshoal: {files} file(s), {freed >> 20} MiB, written past the disk limit were removed\n"

    def _over_limit(
        self, tree: watch.TreeWatch, disk: watch.DiskWatch, group: cgroups.RunGroup | None
    ) -> KilledReason | None:
        """The limit the run has just crossed, if any (what no kernel hook enforces for us)."""
        s = self.settings
        if group is not None:
            if group.oom_killed():
                return "memory"
            if group.pids_hit():
                return "pids"
            if group.cpu_used() > s.cpu_s:
                return "cpu"
        elif (usage := tree.usage()) is not None:
            tasks, rss = usage
            if tasks > s.max_processes:
                return "pids"
            if rss > s.memory_mb * _MB:
                return "memory"
        added = disk.added()
        if added is not None and added > s.disk_mb * _MB:
            return "disk"
        return None

    def _supervise(
        self,
        proc: subprocess.Popen[bytes],
        deadline: float,
        sinks: dict,
        over_limit: Callable[[], str | None],
        group: cgroups.RunGroup | None,
    ) -> bool:
        """Read output until the run ends; kill it at the deadline or a limit. Returns whether it timed out.

        The group leader is reaped only after the final group kill, so its process-group id cannot have been
        reused by an unrelated process: we never signal a group we did not start.
        """
        sel = selectors.DefaultSelector()
        for stream, sink in sinks.items():
            sel.register(stream, selectors.EVENT_READ, sink)
        pidfd = os.pidfd_open(proc.pid)
        sel.register(pidfd, selectors.EVENT_READ, None)
        timed_out = exited = escalated = killed = False
        end_at = float("inf")  # when to stop waiting for pipes to close
        hard_stop = deadline + _KILL_GRACE_S + 10.0
        next_poll = time.monotonic() + _POLL_S / 2
        try:
            while True:
                now = time.monotonic()
                if not exited and not killed and now >= next_poll:
                    next_poll = now + _POLL_S
                    if over_limit():
                        killed = True
                        self._kill(proc, first=False, group=group)
                if not exited and not timed_out and not killed and now >= deadline:
                    timed_out = True
                    self._kill(proc, first=True, group=group)
                if timed_out and not exited and not escalated and now >= deadline + _KILL_GRACE_S:
                    escalated = True
                    self._kill(proc, first=False, group=group)
                if now >= end_at or now >= hard_stop:
                    break
                if exited and len(sel.get_map()) == 0:
                    break
                next_kill = deadline + _KILL_GRACE_S if timed_out else deadline
                wake = end_at if exited else min(next_kill, hard_stop, next_poll)
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
            tree = watch.descendants(proc.pid) if group is None else []
            if group is None and (self.isolation.pid_namespace or self.isolation.bwrap):
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

    def _death_signal(self) -> int:
        # bwrap and unshare die at once and take their namespaces down; the bare launcher needs SIGTERM to
        # kill its descendants before it exits
        iso = self.isolation
        return int(signal.SIGKILL if iso.pid_namespace or iso.bwrap else signal.SIGTERM)

    def _kill(self, proc: subprocess.Popen[bytes], *, first: bool, group: cgroups.RunGroup | None) -> None:
        if first and not (self.isolation.pid_namespace or self.isolation.bwrap):
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


def _inside(value: str, workdir: Path) -> str:
    """A host path inside the node directory, as the program sees it (``/sandbox/...``)."""
    root = str(workdir)
    if value == root or value.startswith(root + "/"):
        return bwrap.NODE + value[len(root) :]
    return value
