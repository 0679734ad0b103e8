"""The run directory: the contract users see (DESIGN.md section 2).

``workspace/<YYYYmmdd-HHMMSS>-<slug>/`` holds every artefact of one run. Paths inside it are relative, so a run
directory can be moved or copied to another machine and still be read and resumed.
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from agents.errors import UserInputError
from agents.settings import Settings

_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(text: str, max_len: int = 40) -> str:
    slug = _SLUG.sub("-", text.lower()).strip("-")
    return (slug[:max_len].rstrip("-")) or "run"


class RunDir:
    """Paths of one run and the small writers (resolved config, events) every stage uses."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._events_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.path.name

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def ledger_path(self) -> Path:
        return self.path / "llm_calls.jsonl"

    @property
    def events_path(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def config_path(self) -> Path:
        return self.path / "config.resolved.toml"

    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoints.sqlite"

    def subdir(self, name: str) -> Path:
        p = self.path / name
        p.mkdir(parents=True, exist_ok=True)
        return p

    def write_settings(self, settings: Settings) -> None:
        self.config_path.write_text(settings.to_toml(), encoding="utf-8")

    def event(self, kind: str, **data: Any) -> None:
        """Append one progress event to ``events.jsonl``."""
        line = json.dumps({"ts": time.time(), "event": kind, **data}, default=str)
        with self._events_lock, self.events_path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    @property
    def evolve_dir(self) -> Path:
        """Evolve mode's folder: initial program, evaluator, programs/, programs.jsonl, samples.jsonl."""
        return self.path / "evolve"

    @property
    def is_evolve(self) -> bool:
        return (self.evolve_dir / "initial.py").is_file()


def create_run(settings: Settings, title: str, now: datetime | None = None) -> RunDir:
    """Make a new run directory under the workspace and write the resolved settings into it."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    root = settings.workspace
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserInputError(f"cannot create the workspace {root}: {exc}; pass --workspace DIR") from exc
    base = f"{stamp}-{slugify(title)}"
    path = root / base
    n = 1
    while path.exists():
        n += 1
        path = root / f"{base}-{n}"
    path.mkdir(parents=True)
    run = RunDir(path)
    run.write_settings(settings)
    return run


def open_run(path: Path) -> RunDir:
    """An existing run directory (for resume, report, show)."""
    if not path.is_dir():
        raise UserInputError(f"run directory {path} does not exist; `shoal runs` lists the runs in the workspace")
    if not (path / "config.resolved.toml").is_file():
        raise UserInputError(f"{path} is not a Shoal run directory (no config.resolved.toml)")
    return RunDir(path)
