"""Docker backend: one throw-away container per run (network none, memory/CPU/pids limits, the node directory
mounted at /sandbox, optional GPUs). Chosen by ``backend="auto"`` only when an engine answers."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agents.errors import ConfigError
from agents.sandbox import leftovers, privileges
from agents.sandbox.base import ReadOnlyMount, SandboxResult, checked_run_args, classify_kill, verdict_for
from agents.sandbox.bwrap import check_mounts
from agents.sandbox.env import build_env
from agents.sandbox.output import HeadTail, PathCleaner
from agents.settings import SandboxSettings

log = logging.getLogger(__name__)

MOUNT = "/sandbox"
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_HOST_ONLY = {"LD_LIBRARY_PATH"}  # host paths mean nothing inside the image
_MB = 1024 * 1024


def container_config(
    settings: SandboxSettings,
    workdir: Path,
    argv: list[str],
    env: dict[str, str] | None,
    mounts: Sequence[ReadOnlyMount] = (),
) -> dict:
    """Keyword arguments for ``client.containers.create``: everything a run is allowed, and nothing more."""
    from docker.types import DeviceRequest, Ulimit

    environment = build_env(
        home=MOUNT,
        path=_PATH,
        passthrough=[n for n in settings.env_passthrough if n not in _HOST_ONLY],
        extra=env,
        defaults={"MPLCONFIGDIR": "/tmp/matplotlib"},
    )
    fsize = settings.file_size_mb * _MB
    config: dict[str, Any] = {
        "image": settings.docker_image,
        "command": list(argv),
        "working_dir": MOUNT,
        # never root in the container: the calling user, or as root the unprivileged sandbox uid
        "user": "{}:{}".format(*(privileges.sandbox_ids(settings.uid) or (os.getuid(), os.getgid()))),
        "environment": environment,
        "volumes": {
            str(workdir.resolve()): {"bind": MOUNT, "mode": "rw"},
            **{str(Path(m.source).resolve()): {"bind": m.target, "mode": "ro"} for m in mounts},
        },
        "network_mode": "bridge" if settings.network else "none",
        "mem_limit": f"{settings.memory_mb}m",
        "memswap_limit": f"{settings.memory_mb}m",  # no swap beyond the limit
        "nano_cpus": int(settings.cpus * 1e9),
        "pids_limit": settings.max_processes,
        "ulimits": [
            Ulimit(name="cpu", soft=settings.cpu_s, hard=settings.cpu_s + 1),
            Ulimit(name="fsize", soft=fsize, hard=fsize),
            Ulimit(name="core", soft=0, hard=0),
        ],
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "init": True,  # an init reaps and forwards signals; removing the container ends every process
        "labels": {"shoal.sandbox": "1"},
        "detach": True,
    }
    if settings.gpus:
        config["device_requests"] = [DeviceRequest(count=settings.gpus, capabilities=[["gpu"]])]
    return config


class DockerSandbox:
    """Runs each program in a fresh container that is removed afterwards."""

    name = "docker"

    def __init__(self, settings: SandboxSettings, client: Any = None) -> None:
        self.settings = settings
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import docker

            self._client = docker.from_env(timeout=30)
        return self._client

    def _create(self, config: dict) -> Any:
        import docker.errors

        try:
            return self.client.containers.create(**config)
        except docker.errors.ImageNotFound:
            log.info("sandbox: pulling image %s", config["image"])
            try:
                self.client.images.pull(config["image"])
            except docker.errors.APIError as exc:
                raise ConfigError(
                    f"sandbox.docker_image {config['image']!r} is not available and cannot be pulled: {exc}"
                ) from exc
            return self.client.containers.create(**config)

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
        check_mounts(mounts)
        ids = privileges.sandbox_ids(self.settings.uid)
        with leftovers.handed_over(workdir, ids) as removed:  # the container is gone when _run returns
            result = self._run(workdir, argv, timeout, env, mounts)
        return leftovers.reported(result, removed)

    def _run(
        self,
        workdir: Path,
        argv: list[str],
        timeout: float,
        env: dict[str, str] | None,
        mounts: Sequence[ReadOnlyMount],
    ) -> SandboxResult:
        import requests

        container = self._create(container_config(self.settings, workdir, argv, env, mounts))
        timed_out = False
        start = time.monotonic()
        try:
            container.start()
            try:
                status = int(container.wait(timeout=timeout)["StatusCode"])
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                timed_out = True
                with contextlib.suppress(Exception):
                    container.kill()
                container.wait(timeout=30)
                status = None
            duration = time.monotonic() - start
            container.reload()
            oom = bool(container.attrs.get("State", {}).get("OOMKilled", False))
            limit = self.settings.max_output_chars
            out, err = HeadTail(limit), HeadTail(limit)
            for sink, flags in ((out, {"stdout": True, "stderr": False}), (err, {"stdout": False, "stderr": True})):
                for chunk in container.logs(stream=True, follow=False, **flags):
                    sink.feed(chunk)
        finally:
            with contextlib.suppress(Exception):
                container.remove(force=True)
        exit_code = None if timed_out or status is None else _from_shell_status(status)
        clean = PathCleaner(workdir, sandbox_paths=(MOUNT,))
        stdout, stderr = clean(out.text()), clean(err.text())
        reason = classify_kill(timed_out=timed_out, exit_code=exit_code, stderr=stderr, oom_killed=oom)
        return SandboxResult(
            exit_code=exit_code,
            timed_out=timed_out,
            duration_s=round(duration, 4),
            stdout=stdout,
            stderr=stderr,
            killed_reason=reason,
            verdict=verdict_for(reason, self.settings, timeout),
        )


def _from_shell_status(status: int) -> int:
    """Docker reports death by signal N as 128+N; report it as -N like the local backend."""
    return -(status - 128) if 128 < status < 160 else status
