"""Child process that serves the embedded model (started by ``EmbeddedServer``; not for direct use).

``python -m agents.localmodel.child --model PATH --n-ctx N --threads T --parallel P [--port 0] [--poll 50]``

It loads the GGUF file into an ``xllamacpp.Server`` bound to 127.0.0.1, then writes exactly one line,
``SHOAL_EMBEDDED_READY http://127.0.0.1:PORT``, to its stdout and blocks until its stdin reaches end of file (the
parent exited or closed it) or it receives SIGTERM/SIGINT; then it exits without running llama.cpp's teardown.

File descriptor 1 is redirected to stderr before the model loads, so llama.cpp's own output goes to the log
(the parent points stderr at a log file) and the ready line is the only thing the parent reads.
On a load failure it writes ``SHOAL_EMBEDDED_FAILED <reason>`` instead and exits with status 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from agents.localmodel.server import FAILED_PREFIX, READY_PREFIX, available_cores

DEFAULT_POLL = 50

log = logging.getLogger("shoal.embedded.child")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m agents.localmodel.child")
    parser.add_argument("--model", required=True, help="GGUF file")
    parser.add_argument("--n-ctx", type=int, default=8192, help="context tokens per request slot")
    parser.add_argument("--threads", type=int, default=0, help="0 = all cores available to this process")
    parser.add_argument("--parallel", type=int, default=1, help="concurrent request slots")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--alias", default="", help="model id reported by /v1/models")
    parser.add_argument(
        "--poll",
        type=int,
        default=DEFAULT_POLL,
        help="0-100: how much idle worker threads busy-wait (llama.cpp's default is 50; 0 sleeps at once, "
        "which keeps several model servers on few cores from starving each other)",
    )
    return parser.parse_args(argv)


def _build_server(args: argparse.Namespace) -> Any:
    import xllamacpp

    threads = args.threads or available_cores()
    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.n_parallel = args.parallel
    params.n_ctx = args.n_ctx * args.parallel  # llama.cpp splits n_ctx across the slots
    # Shared prompt prefixes (the same system prompt and idea in every coder call): a request goes to the slot
    # whose cached prompt it shares most with, keeps that KV prefix, and may reuse further cached chunks.
    params.cache_prompt = True
    params.n_cache_reuse = 256
    params.port = args.port
    params.hostnames = ["127.0.0.1"]
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.cpuparams.poll = args.poll
    params.cpuparams_batch.poll = args.poll
    if args.alias:
        params.model_alias = {args.alias}
    log.info(
        "loading %s: n_ctx=%d per slot, parallel=%d, threads=%d, poll=%d",
        args.model,
        args.n_ctx,
        args.parallel,
        threads,
        args.poll,
    )
    return xllamacpp.Server(params)


def _watch_stdin(stop: threading.Event) -> None:
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except (OSError, ValueError):
        pass
    stop.set()


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s child %(message)s")
    # Keep the real stdout for the protocol line; everything else written to fd 1 lands in the log.
    sys.stdout.flush()
    report = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)

    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    started = time.monotonic()
    try:
        server = _build_server(args)
        address = str(server.listening_address).rstrip("/")
    except Exception as exc:  # report any load failure to the parent, then exit non-zero
        log.error("embedded model failed to start: %s: %s", type(exc).__name__, exc)
        report.write(f"{FAILED_PREFIX} {type(exc).__name__}: {exc}\n")
        report.close()
        return 1
    log.info("serving at %s after %.1f s", address, time.monotonic() - started)
    report.write(f"{READY_PREFIX} {address}\n")
    report.flush()

    threading.Thread(target=_watch_stdin, args=(stop,), daemon=True, name="stdin-watch").start()
    while not stop.wait(1.0):
        pass
    log.info("exiting")
    sys.stderr.flush()
    os._exit(0)  # skip the native server's teardown: the process is going away anyway


if __name__ == "__main__":
    raise SystemExit(main())
