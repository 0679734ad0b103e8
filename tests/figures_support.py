"""Test-only helpers for the figures tests: a minimal real-subprocess runner (stand-in until ``agents.sandbox``
lands on main) and a writer of node artefacts per the contract (stand-in for ``agents/experiments/shoal_helper.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class RunResult:
    exit_code: int | None
    timed_out: bool
    duration_s: float
    stdout: str
    stderr: str
    killed_reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class SubprocessRunner:
    """Runs argv in workdir with a timeout, in its own process group; ``python`` means this interpreter."""

    def __init__(self) -> None:
        self.calls = 0

    def run(
        self, workdir: Path, argv: list[str], *, timeout_s: float | None = None, env: dict[str, str] | None = None
    ) -> RunResult:
        self.calls += 1
        argv = [sys.executable if a == "python" and i == 0 else a for i, a in enumerate(argv)]
        base = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir), "MPLBACKEND": "Agg", "LANG": "C.UTF-8"}
        start = time.monotonic()
        try:
            proc = subprocess.run(
                argv,
                cwd=workdir,
                env={**base, **(env or {})},
                capture_output=True,
                text=True,
                timeout=timeout_s or 120,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired as exc:
            return RunResult(
                None, True, time.monotonic() - start, str(exc.stdout or ""), str(exc.stderr or ""), "timeout"
            )
        return RunResult(proc.returncode, False, time.monotonic() - start, proc.stdout, proc.stderr)
