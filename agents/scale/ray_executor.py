"""Running experiment programs on a Ray cluster: ``RayExecutor.run`` has the sandbox's signature.

Per call (one node): the working directory is packed as bytes (``agents.scale.packing``) and sent with the
command as one Ray task that requests ``ray.num_cpus`` / ``num_gpus`` / ``memory_mb``; on the worker the task
unpacks it into a temporary directory, runs the command in the worker's own sandbox (``make_sandbox`` with
Shoal's sandbox settings, so limits and isolation are the same as on this machine), and returns the result
with the directory packed again, which is unpacked over the node's directory here. Nothing assumes a shared
filesystem. Read-only mounts (user data) are packed once per source and put in Ray's object store, so each
worker fetches them once, not per node.

Model calls never leave the orchestrator: only programs run on the cluster.

Failures: a worker (or its machine) that dies mid-task makes Ray re-run the task elsewhere, at most
``ray.max_retries`` times; after that the node fails cleanly (a result with the reason in ``stderr``, which the
node's bug reason shows). A node that finds no free worker within ``ray.queue_timeout_s`` fails the same way.
Our own errors in the task raise, as they would locally. Before any of that, every worker node is asked whether
it can run programs at all (``agents.scale.ray_workers``).
"""

from __future__ import annotations

import logging
import socket
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agents.errors import ConfigError
from agents.sandbox import leftovers
from agents.sandbox.base import ReadOnlyMount, SandboxResult
from agents.scale.packing import pack, unpack
from agents.scale.ray_workers import check_workers, worker_sandbox
from agents.settings import SandboxSettings, Settings

log = logging.getLogger(__name__)


def run_on_worker(
    payload: bytes,
    argv: list[str],
    timeout_s: float | None,
    env: dict[str, str] | None,
    mounts: list[tuple[Any, str, str]],
    sandbox: str,
) -> tuple[dict[str, Any], bytes, float]:
    """The Ray task: unpack, run in the worker's sandbox, pack the directory again (result, files, run seconds)."""
    import ray

    box = worker_sandbox(sandbox)
    with tempfile.TemporaryDirectory(prefix="shoal-node-") as tmp:
        work = Path(tmp) / "work"
        unpack(payload, work)
        ro = []
        for i, (ref, name, target) in enumerate(mounts):
            where = Path(tmp) / f"mount{i}"
            unpack(ray.get(ref), where)
            ro.append(ReadOnlyMount(source=where / name if name else where, target=target))
        t0 = time.monotonic()
        res = box.run(work, argv, timeout_s=timeout_s, env=env, mounts=ro)
        ran = time.monotonic() - t0
        return res.model_dump(), pack(work), ran


def _pack_source(source: Path) -> tuple[bytes, str]:
    """A mount's source as bytes: a folder's contents, or a file by its name (returned)."""
    if source.is_dir():
        return pack(source), ""
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, source.name).write_bytes(source.read_bytes())
        return pack(Path(tmp)), source.name


def _reachable(address: str, timeout_s: float = 5.0) -> None:
    """Raise ConnectionError when ``host:port`` (or ``ray://host:port``) does not accept a TCP connection."""
    hostport = address.removeprefix("ray://")
    if address == "auto" or ":" not in hostport:
        return
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return
    except (OSError, ValueError) as exc:
        raise ConnectionError(f"nothing answers at {hostport}: {exc}") from exc


def _failed(why: str) -> SandboxResult:
    return SandboxResult(exit_code=None, timed_out=False, duration_s=0.0, stdout="", stderr=f"shoal: {why}\n")


CLIENT_TRIES = 3  # a Ray Client server that failed to start a session for us (a loaded head) gets two more tries


def _init_remote(ray: Any, address: str, kwargs: dict[str, Any]) -> None:
    """``ray.init`` of a cluster address. Through the Ray Client (``ray://``) the head's proxy starts a server
    per session; on a loaded head that start can fail ("Initialization failure from server": three full test runs
    of this project saw it, each with the machine busy beside them), and a later try can work: at most
    ``CLIENT_TRIES`` in all, only for that failure."""
    for attempt in range(1, CLIENT_TRIES + 1):
        try:
            ray.init(address=address, **kwargs)
            return
        except ConnectionError as exc:
            if not address.startswith("ray://") or "Initialization failure" not in str(exc) or attempt == CLIENT_TRIES:
                raise
            log.warning("Ray Client session failed to start (try %d of %d); trying again", attempt, CLIENT_TRIES)
            time.sleep(2.0 * attempt)


class RayExecutor:
    """Runs each ``run`` call as a Ray task; see the module docstring. ``close`` disconnects (and stops a local
    Ray this executor started)."""

    name = "ray"

    def __init__(self, settings: Settings) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ConfigError(
                "executor = 'ray' needs Ray, which is not installed: pip install 'shoal[ray]' (or set executor=local)"
            ) from exc
        self._ray = ray
        self.settings = settings.ray
        self._sandbox = settings.sandbox.model_dump_json()
        self._owns = self._connect()
        try:
            self.workers = check_workers(ray, self.settings, self._sandbox)  # nodes that can take a task
        except ConfigError:
            self.close()
            raise
        opts: dict[str, Any] = {
            "num_cpus": self.settings.num_cpus,
            "num_gpus": self.settings.num_gpus,
            "max_retries": self.settings.max_retries,
            "retry_exceptions": False,
        }
        if self.settings.memory_mb:
            opts["memory"] = self.settings.memory_mb * 2**20
        self._task = ray.remote(run_on_worker).options(**opts)
        self._mounts: dict[tuple[str, int], tuple[Any, str]] = {}
        self._lock = threading.Lock()
        self.bytes_sent = self.bytes_received = 0
        self.failures = 0
        self.run_seconds = 0.0  # time programs ran on workers (the rest of a call's time is Ray's overhead)

    def _connect(self) -> bool:
        ray, address = self._ray, self.settings.address
        if ray.is_initialized():
            return False
        kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        try:
            if address == "local":
                ray.init(num_cpus=self.settings.local_cpus, include_dashboard=False, **kwargs)
            else:
                _reachable(address)  # Ray itself retries an unreachable address for minutes, then exits
                _init_remote(ray, address, kwargs)
        except (ConnectionError, RuntimeError, ValueError, SystemExit) as exc:
            raise ConfigError(
                f"cannot connect to the Ray cluster at ray.address={address!r} ({str(exc).splitlines()[0][:200]}); "
                "start one with `ray start --head`, or set ray.address to its address, or to 'local'"
            ) from exc
        have = ray.cluster_resources()
        need = {"CPU": self.settings.num_cpus, "GPU": self.settings.num_gpus}
        short = [f"{k} {v:g} (cluster has {have.get(k, 0):g})" for k, v in need.items() if v > have.get(k, 0)]
        if short:
            log.warning("each node asks the Ray cluster for %s: nodes will wait for workers", ", ".join(short))
        return True

    def close(self) -> None:
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
            self._owns = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _mount(self, m: ReadOnlyMount) -> tuple[Any, str, str]:
        source = Path(m.source)
        key = (str(source.resolve()), source.stat().st_mtime_ns)
        with self._lock:
            got = self._mounts.get(key)
            if got is None:
                data, name = _pack_source(source)
                self.bytes_sent += len(data)
                got = self._mounts[key] = (self._ray.put(data), name)
        return got[0], got[1], m.target

    def run(
        self,
        workdir: Path,
        argv: list[str],
        *,
        timeout_s: float | None = None,
        env: dict[str, str] | None = None,
        mounts: Sequence[ReadOnlyMount] = (),
    ) -> SandboxResult:
        """Run ``argv`` in ``workdir`` on a Ray worker; the directory's files afterwards are the worker's."""
        ray = self._ray
        workdir = Path(workdir)
        if not workdir.is_dir():
            raise FileNotFoundError(f"executor working directory {workdir} does not exist")
        payload = pack(workdir)
        refs = [self._mount(m) for m in mounts]
        ref = self._task.remote(payload, list(argv), timeout_s, dict(env or {}), refs, self._sandbox)
        limit = (
            timeout_s or SandboxSettings.model_validate_json(self._sandbox).timeout_s
        ) + self.settings.queue_timeout_s
        try:
            result, files, ran = ray.get(ref, timeout=limit)
        except ray.exceptions.GetTimeoutError:
            ray.cancel(ref, force=True)
            self._count_failure()
            return _failed(f"no Ray worker finished this node within {limit:g}s (queue_timeout_s plus timeout_s)")
        except ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, ConfigError):  # a worker that joined after the check, without the environment
                raise ConfigError(f"a Ray worker cannot run experiment programs: {exc.cause}") from None
            raise  # our own code failed on the worker: a bug, as it would be locally
        except ray.exceptions.RayError as exc:  # worker or machine died (after max_retries re-runs), object lost
            self._count_failure()
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            return _failed(
                f"the Ray worker running this node died ({type(exc).__name__}, "
                f"{self.settings.max_retries} re-run(s) allowed): {first}"
            )
        unpack(files, workdir)
        leftovers.scrub(workdir)  # the worker's sandbox already did; the files came over the network
        with self._lock:
            self.bytes_sent += len(payload)
            self.bytes_received += len(files)
            self.run_seconds += ran
        return SandboxResult.model_validate(result)

    def _count_failure(self) -> None:
        with self._lock:
            self.failures += 1
