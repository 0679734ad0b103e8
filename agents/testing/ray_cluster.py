"""A real Ray cluster on this machine for tests and benchmarks: a head and worker nodes, each a ``ray start
--block`` process this module starts (and alone stops or kills), with explicit resources.

    with ray_cluster(workers=2, cpus_per_worker=1) as cluster:   # connects this process as the driver
        ... settings.executor = "ray"; settings.ray.address = cluster.address ...
        cluster.kill_worker(0)                                   # SIGKILL that node's processes, mid-task

The head has no CPUs, so every task runs on a worker node. Each worker node also carries a custom resource
``worker<i>`` (1 unit) for tests that pin a task to a node. ``RayUnavailable`` says why a cluster could not start
(tests skip with it).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class RayUnavailable(RuntimeError):
    """Ray is not installed, or its processes did not start in time on this machine."""


@dataclass
class RayCluster:
    address: str  # the head's GCS, host:port
    temp_dir: Path
    head: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    client_address: str = ""  # ray://host:port of the head's Ray Client server

    def kill_worker(self, i: int) -> int:
        """SIGKILL worker node ``i``: its ``ray start`` process, raylet, Ray workers and programs. The count."""
        return _kill_tree(self.workers[i].pid, signal.SIGKILL)

    def worker_running(self, needle: str) -> int | None:
        """The index of a live worker node with a process whose command line contains ``needle``, or None."""
        for i, p in enumerate(self.workers):
            if p.poll() is None and any(needle in _cmdline(c) for c in _descendants(p.pid)):
                return i
        return None

    def stop(self) -> None:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        procs = [*self.workers, self.head]
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)  # ray start --block stops its node's processes on SIGTERM
        deadline = time.monotonic() + 20
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _kill_tree(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        for p in procs:
            _kill_tree(p.pid, signal.SIGKILL)  # anything of ours still left (none, normally)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (from /proc: Linux)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _kill_tree(pid: int, sig: int) -> int:
    """Send ``sig`` to ``pid`` and everything below it (processes this module started); the count."""
    procs = [*_descendants(pid), pid]
    for p in procs:
        with suppress(ProcessLookupError):
            os.kill(p, sig)
    return len(procs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray_bin() -> str:
    exe = Path(sys.executable).with_name("ray")
    if exe.is_file():
        return str(exe)
    found = shutil.which("ray")
    if not found:
        raise RayUnavailable("the `ray` command is not installed (pip install 'shoal[ray]')")
    return found


def _wait_cpus(cpus: float, deadline: float, procs: list[subprocess.Popen[bytes]], log: Path) -> None:
    import ray

    while ray.cluster_resources().get("CPU", 0) < cpus:
        for p in procs:
            if p.poll() is not None:
                raise RayUnavailable(f"a Ray node exited with {p.returncode}: {log.read_text()[-600:]}")
        if time.monotonic() > deadline:
            raise RayUnavailable(f"the Ray cluster did not reach {cpus} CPUs in time: {log.read_text()[-600:]}")
        time.sleep(0.3)


@contextmanager
def ray_cluster(workers: int = 2, cpus_per_worker: float = 1, timeout_s: float = 180) -> Iterator[RayCluster]:
    """Start a head (no CPUs) and ``workers`` worker nodes, connect this process as the driver; stop all after."""
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable("Ray is not installed (pip install 'shoal[ray]')") from exc
    if ray.is_initialized():
        raise RayUnavailable("this process is already connected to a Ray cluster")
    ray_bin = _ray_bin()
    tmp = Path(tempfile.mkdtemp(prefix="sray", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    log = tmp / "nodes.log"
    port, client_port = _free_port(), _free_port()
    # A throwaway cluster without token auth: Ray turns it on whenever ~/.ray/auth_token exists (a local
    # ray.init() leaves one), and the head, workers and this driver must then agree; here they all say off.
    saved_auth = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    env = {
        **os.environ,
        "RAY_USAGE_STATS_ENABLED": "0",
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    common = ["--disable-usage-stats", "--block", f"--temp-dir={tmp}"]
    deadline = time.monotonic() + timeout_s
    out = log.open("ab")
    head = subprocess.Popen(
        [
            ray_bin,
            "start",
            "--head",
            f"--port={port}",
            f"--ray-client-server-port={client_port}",
            "--num-cpus=0",
            "--include-dashboard=false",
            *common,
        ],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    cluster = RayCluster(
        address=f"127.0.0.1:{port}", temp_dir=tmp, head=head, client_address=f"ray://127.0.0.1:{client_port}"
    )
    try:
        while True:
            try:
                ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
                break
            except (ConnectionError, RuntimeError) as exc:
                if head.poll() is not None or time.monotonic() > deadline:
                    raise RayUnavailable(f"the Ray head did not start: {exc}; {log.read_text()[-600:]}") from exc
                time.sleep(1)
        for i in range(workers):  # one at a time: starting several at once overloads a small machine's GCS
            cluster.workers.append(
                subprocess.Popen(
                    [
                        ray_bin,
                        "start",
                        f"--address={cluster.address}",
                        f"--num-cpus={cpus_per_worker:g}",
                        f'--resources={{"worker{i}": 1}}',
                        *common,
                    ],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            _wait_cpus(cpus_per_worker * (i + 1), deadline, [head, *cluster.workers], log)
    except BaseException:
        cluster.stop()
        _restore("RAY_AUTH_MODE", saved_auth)
        raise
    try:
        yield cluster
    finally:
        cluster.stop()
        out.close()
        _restore("RAY_AUTH_MODE", saved_auth)


def _restore(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
