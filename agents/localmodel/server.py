"""Run the embedded model as a child process and hand out its OpenAI-compatible base URL.

``EmbeddedServer.start()`` makes sure the weights are joined and verified, starts
``python -m agents.localmodel.child`` in its own session (so it is its own process group), waits for the child's
ready line and then for ``GET /health`` to answer 200, all bounded by ``startup_timeout_s``, and returns
``http://127.0.0.1:PORT/v1``. ``start()`` is idempotent and thread-safe; a child that died is restarted by the
next ``start()``. ``stop()`` ends only the process group this object started (SIGTERM, then SIGKILL), and runs at
interpreter exit too. The child also exits by itself when its stdin pipe closes, i.e. when this process dies.

The child's stderr (llama.cpp is verbose) goes to a log file, by default
``<cache_dir>/logs/embedded-server-<pid>-<n>.log`` (one per server; week-old ones are pruned); crash and timeout
errors quote its last lines.

One run shares one server between its roles: ``get_shared_server(settings)`` returns the same (not yet started)
``EmbeddedServer`` for the same cache dir and model parameters; ``stop_shared_servers()`` stops them all.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from types import TracebackType
from typing import IO

import agents
from agents.errors import ModelUnavailable
from agents.localmodel.weights import DEFAULT_SPEC, WeightsSpec, ensure_model_file
from agents.settings import EmbeddedModel, LLMSettings, Settings

log = logging.getLogger(__name__)

# The child's one-line protocol on its stdout (defined here so importing the package never imports the child).
READY_PREFIX = "SHOAL_EMBEDDED_READY"
FAILED_PREFIX = "SHOAL_EMBEDDED_FAILED"
_LOG_TAIL_LINES = 25
_STOP_GRACE_S = 10.0
_LOG_MAX_AGE_S = 7 * 24 * 3600
_LOG_SEQ = itertools.count(1)
_LIVE: weakref.WeakSet[EmbeddedServer] = weakref.WeakSet()
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def other_model_servers() -> list[int]:
    """Pids of embedded-model children already running on this machine (read from /proc; never signalled)."""
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if b"agents.localmodel.child" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def auto_threads() -> int:
    """Threads for ``embedded.threads = 0``: all usable cores, split between the model servers already running.

    llama.cpp's worker threads meet at a barrier for every operation, so servers whose threads outnumber the
    cores stall each other: measured on 2 cores with 5 servers of 2 threads each, generation fell from ~35 to
    0.4-0.6 tokens/s, and a server started with 1 thread in the same crowd made 6.3 tokens/s.
    """
    cores = available_cores()
    others = len(other_model_servers())
    threads = max(1, cores // (others + 1))
    if others:
        log.info("%d other embedded model server(s) running; using %d of %d cores", others, threads, cores)
    return threads


def _default_log_path(cache_dir: Path) -> Path:
    """``<cache_dir>/logs/embedded-server-<pid>-<n>.log``: one file per server, so concurrent processes never mix
    their logs; files older than a week are removed when a new one is named."""
    logs = cache_dir / "logs"
    cutoff = time.time() - _LOG_MAX_AGE_S
    with contextlib.suppress(OSError):
        for old in logs.glob("embedded-server-*.log"):
            with contextlib.suppress(OSError):
                if old.stat().st_mtime < cutoff:
                    old.unlink()
    return logs / f"embedded-server-{os.getpid()}-{next(_LOG_SEQ)}.log"


class EmbeddedServer:
    """One embedded-model child process serving the OpenAI API on 127.0.0.1."""

    def __init__(
        self,
        settings: EmbeddedModel,
        cache_dir: Path,
        log_path: Path | None = None,
        *,
        spec: WeightsSpec = DEFAULT_SPEC,
        port: int = 0,
    ) -> None:
        self._settings = settings.model_copy()
        self._port = port  # 0 = any free port
        self._cache_dir = Path(cache_dir).expanduser()
        self._log_path = log_path or _default_log_path(self._cache_dir)
        self._spec = spec
        self._lock = threading.RLock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._base_url: str | None = None
        self._log_offset = 0
        self.load_seconds: float | None = None  # start() to ready, of the last start
        self.threads: int | None = None  # threads of the last start (embedded.threads, or chosen when it is 0)
        _LIVE.add(self)

    # -- properties -------------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str | None:
        """``http://127.0.0.1:PORT/v1`` while running, else None."""
        with self._lock:
            return self._base_url if self._alive() else None

    @property
    def model_name(self) -> str:
        """The model id the server reports (any model name in a request is accepted)."""
        return self._spec.model_name

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._proc.pid if self._alive() and self._proc else None

    @property
    def log_path(self) -> Path:
        return self._log_path

    def is_running(self) -> bool:
        with self._lock:
            return self._alive() and self._base_url is not None

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle --------------------------------------------------------------------------------------------
    def start(self) -> str:
        """Start the child if it is not running; return the OpenAI base URL (ending in ``/v1``)."""
        with self._lock:
            if self._alive() and self._base_url:
                return self._base_url
            if self._proc is not None:
                log.warning(
                    "embedded model server (pid %d) exited with status %s; restarting it",
                    self._proc.pid,
                    self._proc.returncode,
                )
                self._reap()
            model = ensure_model_file(self._cache_dir, self._spec)
            started = time.monotonic()
            deadline = started + self._settings.startup_timeout_s
            self._spawn(model)
            try:
                address = self._wait_ready(deadline)
                self._wait_healthy(address, deadline)
            except BaseException:
                self._terminate()
                raise
            self._base_url = f"{address}/v1"
            self.load_seconds = time.monotonic() - started
            log.info(
                "embedded model %s ready at %s (pid %d, %.1f s)",
                self.model_name,
                self._base_url,
                self._proc.pid if self._proc else -1,
                self.load_seconds,
            )
            return self._base_url

    def stop(self) -> None:
        """Stop the child's process group (SIGTERM, then SIGKILL after a grace period). Safe to call twice."""
        with self._lock:
            self._terminate()

    def __enter__(self) -> EmbeddedServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals --------------------------------------------------------------------------------------------
    def _spawn(self, model: Path) -> None:
        s = self._settings
        threads = s.threads or auto_threads()
        self.threads = threads
        cmd = [
            sys.executable,
            "-m",
            "agents.localmodel.child",
            "--model",
            str(model),
            "--n-ctx",
            str(s.n_ctx),
            "--threads",
            str(threads),
            "--parallel",
            str(s.parallel or LLMSettings().max_concurrency),  # 0: the default calls in flight per endpoint
            "--port",
            str(self._port),
            "--alias",
            self.model_name,
        ]
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        root = str(Path(agents.__file__).resolve().parent.parent)  # this checkout's `agents`, never another
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
        with self._log_path.open("ab") as logfh:
            logfh.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(cmd)}\n".encode())
            logfh.flush()
            self._log_offset = logfh.tell()
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=logfh,
                start_new_session=True,
                env=env,
                cwd=root,
            )
        log.info("started embedded model child pid %d (log: %s)", self._proc.pid, self._log_path)

    def _wait_ready(self, deadline: float) -> str:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        out: IO[bytes] = proc.stdout
        with selectors.DefaultSelector() as sel:
            sel.register(out, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._failure(
                        f"the embedded model did not start within {self._settings.startup_timeout_s:.0f} s "
                        "(raise embedded.startup_timeout_s on a slow machine)"
                    )
                if not sel.select(timeout=min(remaining, 0.5)):
                    continue
                line = out.readline().decode("utf-8", "replace").strip()
                if not line:  # EOF: the child is gone
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=5)
                    raise self._failure(f"the embedded model server exited during startup (status {proc.returncode})")
                if line.startswith(READY_PREFIX):
                    out.close()
                    return line[len(READY_PREFIX) :].strip().rstrip("/")
                if line.startswith(FAILED_PREFIX):
                    raise self._failure(f"the embedded model failed to load: {line[len(FAILED_PREFIX) :].strip()}")
                log.debug("embedded child: %s", line)

    def _wait_healthy(self, address: str, deadline: float) -> None:
        last = "no answer"
        while time.monotonic() < deadline:
            if not self._alive():
                raise self._failure("the embedded model server exited while loading")
            try:
                with _NO_PROXY_OPENER.open(f"{address}/health", timeout=5) as resp:
                    if resp.status == 200:
                        return
                    last = f"HTTP {resp.status}"
            except urllib.error.HTTPError as exc:  # 503 while the model loads
                last = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError) as exc:
                last = str(exc)
            time.sleep(0.2)
        raise self._failure(f"the embedded model server at {address} was not healthy in time ({last})")

    def _failure(self, message: str) -> ModelUnavailable:
        tail = self.log_tail()
        detail = f"\nlast lines of {self._log_path}:\n{tail}" if tail else f"\n(see {self._log_path})"
        return ModelUnavailable(message + detail)

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines the current (or last) child wrote to its log."""
        try:
            with self._log_path.open("rb") as fh:
                fh.seek(self._log_offset)
                data = fh.read()
        except OSError:
            return ""
        text = data.decode("utf-8", "replace").splitlines()
        return "\n".join(line for line in text[-lines:])

    def _terminate(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                if proc.stdin is not None:
                    proc.stdin.close()
            self._signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                log.warning("embedded model child %d ignored SIGTERM; killing its process group", proc.pid)
                self._signal_group(proc, signal.SIGKILL)
                proc.wait()
            log.info("stopped embedded model child pid %d", proc.pid)
        self._reap()

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
        # start_new_session=True made the child the leader of process group == its pid; only that group is hit.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

    def _reap(self) -> None:
        proc = self._proc
        if proc is not None:
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        self._proc = None
        self._base_url = None


# -- one server per (cache dir, model parameters), shared by every role of a run --------------------------------
_SHARED: dict[tuple[str, int, int, int], EmbeddedServer] = {}
_SHARED_LOCK = threading.Lock()


def _shared_key(settings: Settings) -> tuple[str, int, int, int]:
    e = settings.embedded
    cache = str(Path(settings.cache_dir).expanduser().resolve())
    return (cache, e.n_ctx, e.threads, e.parallel)


def get_shared_server(settings: Settings) -> EmbeddedServer:
    """The process-wide server for these settings (created on first use, started by its ``start()``)."""
    if settings.embedded.parallel == 0:  # the server's slots follow the calls allowed in flight
        embedded = settings.embedded.model_copy(update={"parallel": settings.llm.max_concurrency})
        settings = settings.model_copy(update={"embedded": embedded})
    key = _shared_key(settings)
    with _SHARED_LOCK:
        server = _SHARED.get(key)
        if server is None:
            server = EmbeddedServer(settings.embedded, settings.cache_dir)
            _SHARED[key] = server
        return server


def stop_shared_servers() -> None:
    """Stop every shared server and forget it."""
    with _SHARED_LOCK:
        servers = list(_SHARED.values())
        _SHARED.clear()
    for server in servers:
        server.stop()


@atexit.register
def _stop_all_at_exit() -> None:
    for server in list(_LIVE):
        with contextlib.suppress(Exception):
            server.stop()
