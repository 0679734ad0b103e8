"""Local backend: one run per bubblewrap sandbox, as an unprivileged uid, inside per-run cgroups, watched for
disk use; weaker modes (``unshare``, a subreaper) only where bubblewrap cannot run and ``allow_weak`` says so.
See docs/sandbox.md for what is isolated and how it was measured."""

from __future__ import annotations

import functools
import logging
import os
import subprocess
import tempfile
import time
import weakref
from collections.abc import Sequence
from pathlib import Path

from agents.errors import ConfigError
from agents.sandbox import bwrap, cgroups, leftovers, prestart, privileges, pyenv, reaping, supervise, watch
from agents.sandbox.base import KilledReason, ReadOnlyMount, SandboxResult, checked_run_args, classify_kill, verdict_for
from agents.sandbox.env import build_env
from agents.sandbox.isolation import Isolation, enforce, probe_isolation
from agents.sandbox.output import HeadTail, PathCleaner
from agents.settings import SandboxSettings

log = logging.getLogger(__name__)

LAUNCHER = Path(__file__).with_name("_launcher.py")
_LAUNCHER_SOURCE = LAUNCHER.read_text(encoding="utf-8")
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

    def __init__(
        self, settings: SandboxSettings, *, isolation: Isolation | None = None, start_ahead: bool = True
    ) -> None:
        """``start_ahead``: keep the next run's bwrap started ahead (agents/sandbox/prestart.py); off, every run
        starts cold (the benchmark's comparison)."""
        self.settings = settings
        self._prestart_on = start_ahead
        self._isolation = isolation
        self._checked = False
        self._prestarter: prestart.Prestarter | None = None
        self._env_dir: Path | None = None
        self._label_cache: dict[str, str] | None = None
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
        if self._env_dir is not None:
            return self._env_dir
        s = self.settings
        path = pyenv.env_path(s.python_env, s.extra_packages)
        if not pyenv.is_built(path, s.extra_packages):
            raise ConfigError(pyenv.missing_message(path, s.extra_packages))
        self._env_dir = path  # checked once per sandbox
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
        program = self._program(argv, workdir)
        started: prestart.Started | None = None
        if iso.bwrap:
            ahead = self._prestarted().take() if self._prestart_on else None
            started = ahead or prestart.start_bwrap(iso, s)
            group = started.group
        else:
            group = cgroups.RunGroup.create(cgroups.Limits.of(s)) if iso.cgroup else None
        try:
            with leftovers.handed_over(workdir, iso.ids) as removed:
                result = self._run(workdir, program, timeout, env, mounts, group, started)
            return leftovers.reported(result, removed)
        finally:
            if started is not None and started.args_w is not None:  # never launched
                started.discard()
            elif group is not None:
                group.remove()
            if started is not None and self._prestart_on:
                self._prestarted().refill()  # the next run's bwrap, started now that this run is over

    def _prestarted(self) -> prestart.Prestarter:
        if self._prestarter is None:
            self._prestarter = prestart.Prestarter(
                functools.partial(prestart.start_bwrap, self.isolation, self.settings)
            )
            weakref.finalize(self, self._prestarter.close)
        return self._prestarter

    def close(self) -> None:
        """Stop the bwrap waiting for the next run, if any (also done when the sandbox is collected, and at exit)."""
        if self._prestarter is not None:
            self._prestarter.close()

    def wait_ready(self, timeout_s: float = 10.0) -> bool:
        """Block until the next run's bwrap is started ahead (benchmarks, outside their timing)."""
        return self._prestarter is not None and self._prestarter.wait_ready(timeout_s)

    def _run(
        self,
        workdir: Path,
        program: list[str],
        timeout: float,
        env: dict[str, str] | None,
        mounts: Sequence[ReadOnlyMount],
        group: cgroups.RunGroup | None,
        started: prestart.Started | None,
    ) -> SandboxResult:
        iso, s = self.isolation, self.settings
        namespaced = iso.pid_namespace or iso.bwrap is not None
        handover = (
            prestart.handover_args(
                self._setup_args(workdir, mounts, started.seccomp_fd), self.environment(workdir, env), program
            )
            if started is not None
            else []
        )
        status_r, status_w = os.pipe()  # the launcher's exit status (weaker modes); stays empty with bwrap
        disk = watch.DiskWatch(workdir, s.max_files)  # (the process tree is watched once the child exists)
        start = time.monotonic()
        started_wall = time.time()  # files the run writes are newer than this
        try:
            if started is not None:
                os.close(status_w)
                started.launch(handover)
                proc = started.proc
            else:
                proc = self._popen(workdir, program, env, group, status_w)
        except BaseException:
            os.close(status_r)
            raise
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
            timed_out = supervise.supervise(proc, start + timeout, sinks, over_limit, group, namespaced=namespaced)
        finally:
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
            os.close(status_r)
        duration = time.monotonic() - start
        exit_code = None if timed_out else reaping.exit_code(status.text(), proc.returncode, namespaced)
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

    def _setup_args(self, workdir: Path, mounts: Sequence[ReadOnlyMount], seccomp_fd: int | None) -> list[str]:
        s = self.settings
        env_dir = self.env_dir()
        return bwrap.setup_args(
            ids=self.isolation.ids,
            workdir=workdir,
            env_dir=env_dir,
            env_base=pyenv.base_prefix(env_dir),
            mounts=mounts,
            network=s.network,
            tmp_bytes=s.memory_mb * _MB,
            seccomp_fd=seccomp_fd,
            devices=bwrap.gpu_devices() if s.gpus else (),
        )

    def _popen(
        self,
        workdir: Path,
        program: list[str],
        env: dict[str, str] | None,
        group: cgroups.RunGroup | None,
        status_w: int,
    ) -> subprocess.Popen[bytes]:
        """The weaker modes (no bubblewrap): the isolation prefix, a small init, the program."""
        iso = self.isolation
        try:
            return subprocess.Popen(
                self.command(program, status_w),
                cwd=workdir,
                env=self.environment(workdir, env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                pass_fds=() if iso.pid_namespace else (status_w,),
                preexec_fn=privileges.preexec(
                    ids=iso.ids,
                    cgroup_fds=group.proc_fds if group else (),
                    limits=reaping.rlimits(self.settings),
                    death_signal=supervise.death_signal(namespaced=iso.pid_namespace),
                ),
            )
        finally:
            os.close(status_w)

    def _labels(self) -> dict[str, str]:
        """Library paths of the experiment environment, shortened in tracebacks (looked up once)."""
        if self._label_cache is None:
            self._label_cache = self._find_labels()
        return self._label_cache

    def _find_labels(self) -> dict[str, str]:
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
        found = watch.dir_usage(workdir)  # every entry: the watcher killed the run near the file limit
        used, notes = found.bytes, ""
        extra = found.entries - disk.baseline_entries - self.settings.max_files
        if (found.hidden or extra > 0) and "files" not in limits_hit:  # hidden: removed by agents.sandbox.leftovers
            limits_hit.insert(0, "files")
        if extra > 0:
            gone = watch.trim_entries(workdir, since, extra)
            notes += f"\nshoal: {gone} file(s) and folder(s) made past the file limit were removed\n"
            used = watch.dir_bytes(workdir)
        excess = used - disk.baseline - limit
        if excess <= 0:
            return notes
        if "disk" not in limits_hit:
            limits_hit.insert(0, "disk")
        files, freed = watch.trim_written(workdir, since, excess)
        return notes + f"\nshoal: {files} file(s), {freed >> 20} MiB, written past the disk limit were removed\n"

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
        if disk.too_many:
            return "files"
        if added is not None and added > s.disk_mb * _MB:
            return "disk"
        return None


def _inside(value: str, workdir: Path) -> str:
    """A host path inside the node directory, as the program sees it (``/sandbox/...``)."""
    root = str(workdir)
    if value == root or value.startswith(root + "/"):
        return bwrap.NODE + value[len(root) :]
    return value
