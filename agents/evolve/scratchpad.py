"""The meta-scratchpad: every ``evolve.scratchpad_every`` evaluated programs, the model writes short lessons
(what worked, what failed, what to try) from the recent attempts; later prompts show the latest notes.

Notes are appended to ``evolve/scratchpad.jsonl`` with the evaluated-program count they were written at.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from pydantic import BaseModel, Field

from agents.errors import StructuredOutputError
from agents.evolve.population import Population
from agents.llm import LLM

_LINE = 160


class ScratchpadNote(BaseModel):
    worked: list[str] = Field(default_factory=list, max_length=5)
    failed: list[str] = Field(default_factory=list, max_length=5)
    next: list[str] = Field(default_factory=list, max_length=5)


class Scratchpad:
    def __init__(self, path: Path, every: int) -> None:
        self.path = path
        self.every = every
        self.entries: list[dict] = []
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    self.entries.append(json.loads(line))
                except json.JSONDecodeError:
                    continue

    def notes(self) -> list[str]:
        if not self.entries:
            return []
        last = self.entries[-1]
        out = [f"worked: {x}" for x in last.get("worked", [])]
        out += [f"failed: {x}" for x in last.get("failed", [])]
        out += [f"try: {x}" for x in last.get("next", [])]
        return [n[:_LINE] for n in out]

    def due(self, evaluated: int) -> bool:
        if self.every <= 0 or evaluated == 0 or evaluated % self.every:
            return False
        return not any(e.get("at") == evaluated for e in self.entries)

    def write(self, llm: LLM, pop: Population, task: str, evaluated: int) -> list[str]:
        """One model call over the last ``every`` evaluated programs; returns the new notes (kept on failure)."""
        recent = [p for p in pop.all() if p.kind not in ("initial", "migrant")][-self.every :]
        attempts = []
        for p in recent:
            parent = pop.programs.get(p.parent or "")
            before = f"{parent.combined_score:.5g}" if parent and parent.correct else "?"
            after = f"{p.combined_score:.5g}" if p.correct else f"error: {p.error[-120:]}"
            attempts.append(f"{p.kind}: {p.plan[:120] or '(no plan)'}: {before} -> {after}")
        try:
            note = llm.structured(
                "feedback",
                "evolve/scratchpad",
                ScratchpadNote,
                {"task": task, "attempts": attempts, "previous": self.notes()},
                max_tokens=400,
            )
        except StructuredOutputError:
            return self.notes()
        entry = {"at": evaluated, "ts": time.time(), **note.model_dump()}
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
        self.entries.append(entry)
        return self.notes()
