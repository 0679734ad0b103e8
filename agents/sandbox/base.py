"""What every sandbox backend returns and promises: ``SandboxResult`` and the ``Sandbox`` protocol."""

from __future__ import annotations

import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel

from agents.sandbox.tree import MAX_DEPTH

KilledReason = Literal["timeout", "memory", "file_size", "cpu", "pids", "disk", "files"]

_MEMORY = re.compile(r"MemoryError|Cannot allocate memory|std::bad_alloc|out of memory", re.IGNORECASE)
_FILE_SIZE = re.compile(r"File too large|\[Errno 27\]")


@dataclass(frozen=True)
class ReadOnlyMount:
    """A host directory or file the program may read but never write: the user's data, a parent's files.

    ``target`` is the absolute path the program sees it at (e.g. ``/data``); backends that cannot remap paths
    must refuse rather than expose it writable.
    """

    source: Path
    target: str


class SandboxResult(BaseModel):
    """One finished run. Output is head+tail truncated and cleaned of sandbox paths."""

    exit_code: int | None  # negative: killed by that signal (subprocess convention); None: timed out
    timed_out: bool
    duration_s: float
    stdout: str
    stderr: str
    killed_reason: KilledReason | None = None
    verdict: str | None = None  # for people and the coder, e.g. "killed: memory limit 4096 MiB"

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class SandboxRunner(Protocol):
    """What the experiment executor and the evolve evaluator need of a sandbox (a backend, the Ray executor, a
    test double): run ``argv`` (relative to ``workdir``) and say what happened."""

    def run(
        self,
        workdir: Path,
        argv: list[str],
        *,
        timeout_s: float | None = None,
        env: dict[str, str] | None = None,
        mounts: Sequence[ReadOnlyMount] = (),
    ) -> SandboxResult: ...


@runtime_checkable
class Sandbox(SandboxRunner, Protocol):
    """A sandbox backend: runs ``argv`` (relative to ``workdir``) under the configured limits; never raises for what
    the code does."""

    name: str


def classify_kill(
    *, timed_out: bool, exit_code: int | None, stderr: str, oom_killed: bool = False
) -> KilledReason | None:
    """Why a run ended abnormally, from the signal that ended it or the last lines of its stderr."""
    if timed_out:
        return "timeout"
    if exit_code == 0 or exit_code is None:
        return None
    if oom_killed:
        return "memory"
    if exit_code == -signal.SIGXCPU:
        return "cpu"
    if exit_code == -signal.SIGXFSZ:
        return "file_size"
    tail = stderr[-1500:]
    if _MEMORY.search(tail):
        return "memory"
    if _FILE_SIZE.search(tail):
        return "file_size"
    if exit_code == -signal.SIGKILL:
        return "memory"  # nobody but the kernel's OOM killer sends SIGKILL when we did not time it out
    return None


def verdict_for(reason: str | None, limits: Any, timeout_s: float) -> str | None:
    """One readable line for a run a limit ended; ``limits`` is the SandboxSettings it ran under."""
    if reason is None:
        return None
    text = {
        "timeout": f"wall-clock limit {timeout_s:g} s",
        "memory": f"memory limit {limits.memory_mb} MiB",
        "cpu": f"CPU time limit {limits.cpu_s} s",
        "file_size": f"file size limit {limits.file_size_mb} MiB",
        "pids": f"process limit {getattr(limits, 'max_processes', '?')}",
        "disk": f"disk limit {getattr(limits, 'disk_mb', '?')} MiB in the node directory",
        "files": (
            f"file limit {getattr(limits, 'max_files', '?')} files and folders in the node directory, "
            f"nested at most {MAX_DEPTH} deep"
        ),
    }[reason]
    return f"killed: {text}"


def checked_run_args(workdir: Path, argv: list[str], timeout_s: float | None, default_s: float) -> tuple[Path, float]:
    """Validate ``run``'s arguments (our callers' bugs raise) and resolve the timeout; shared by every backend."""
    if not argv:
        raise ValueError("sandbox.run needs a command, e.g. ['python', 'code.py']")
    workdir = Path(workdir)
    if not workdir.is_dir():
        raise FileNotFoundError(f"sandbox working directory {workdir} does not exist")
    return workdir, timeout_s if timeout_s is not None else default_s
