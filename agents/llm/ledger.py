"""The per-run ledger of model calls: ``llm_calls.jsonl``, one JSON line per call attempt.

It is the single source for cost accounting (by stage, role, prompt) and for budget enforcement. It is
thread-safe (experiment nodes call models in parallel) and, on resume, re-reads the totals already spent.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field


class CallRecord(BaseModel):
    """One model call attempt, as written to ``llm_calls.jsonl``."""

    ts: float = Field(default_factory=time.time)
    prompt: str
    role: str
    model: str
    endpoint: str = Field(description="'embedded' or the host of the base URL")
    tokens_in: int = 0
    tokens_out: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    outcome: str = Field(description="ok | invalid | truncated | error:<ExceptionType> | budget")
    attempt: int = 1
    context: dict[str, str] = Field(default_factory=dict, description="e.g. stage, node id")


class Totals(BaseModel):
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0

    @property
    def tokens(self) -> int:
        return self.tokens_in + self.tokens_out

    def add(self, rec: CallRecord) -> None:
        self.calls += 1
        self.tokens_in += rec.tokens_in
        self.tokens_out += rec.tokens_out
        self.cost_usd += rec.cost_usd


class Ledger:
    """Appends call records to a JSONL file (or keeps them in memory when ``path`` is None)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._totals = Totals()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            for rec in read_ledger(path):
                self._totals.add(rec)

    def record(self, rec: CallRecord) -> None:
        with self._lock:
            self._totals.add(rec)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(rec.model_dump_json() + "\n")

    def totals(self) -> Totals:
        with self._lock:
            return self._totals.model_copy()


def read_ledger(path: Path) -> list[CallRecord]:
    """Every record of a ledger file; a torn last line (crash mid-write) is skipped."""
    if not path.is_file():
        return []
    out: list[CallRecord] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            out.append(CallRecord.model_validate_json(line))
        except ValueError:
            continue
    return out


def summarize(records: list[CallRecord], by: str) -> dict[str, Totals]:
    """Totals grouped by a record field (``role``, ``prompt``, ``model``) or a context key (``stage``)."""
    groups: dict[str, Totals] = defaultdict(Totals)
    for rec in records:
        data: dict[str, Any] = rec.model_dump()
        key = data.get(by) if by in data else rec.context.get(by, "-")
        groups[str(key)].add(rec)
    return dict(groups)
