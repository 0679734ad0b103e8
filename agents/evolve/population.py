"""The population of an evolve run: every evaluated program, its islands and elites, kept on disk as it grows.

``evolve/programs.jsonl`` gets one line per evaluated program (and per migrant copy), written after the program's
files, so after a kill -9 every evaluated program is there (a torn last line is skipped on reading).
``evolve/samples.jsonl`` gets one line per proposal, whatever became of it: applied or not, rejected as a
near-duplicate, evaluated. Together they are the run's state: ``Population.load`` rebuilds it on resume.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field


class ProgramRecord(BaseModel):
    """One evaluated program (code lives in ``programs/<id>/program.py``)."""

    id: str
    parent: str | None = None
    second_parent: str | None = None
    island: int = 0
    generation: int = 0
    kind: str = Field(description="initial | rewrite | diff | lines | crossover | migrant")
    model: str = ""
    plan: str = ""
    combined_score: float = 0.0
    public: dict[str, Any] = Field(default_factory=dict)
    private: dict[str, Any] = Field(default_factory=dict)
    correct: bool = False
    error: str = ""
    repaired: bool = False
    inspirations: list[str] = Field(default_factory=list)
    sample: int = Field(default=0, description="the sample (proposal) number that made it; 0 for the initial")
    ts: float = 0.0


class SampleRecord(BaseModel):
    """One proposal: a model asked for an edit, and what became of it."""

    sample: int
    island: int
    parent: str
    kind: str
    model: str
    outcome: str = Field(description="evaluated | not-applied | duplicate | error")
    applied: bool = False
    applied_as: str = Field(default="", description="the format the answer was read in, when it applied")
    second_reading: str = Field(default="", description="cut-tail | reindented: only a second reading compiled")
    program: str | None = None
    correct: bool = False
    improved: bool = False
    resamples: int = 0
    repairs: int = 0
    detail: str = ""
    ts: float = 0.0


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by a kill
        if isinstance(item, dict):
            out.append(item)
    return out


class Population:
    """Programs by id, per-island membership and children counts; thread-safe, persisted line by line."""

    def __init__(self, root: Path, islands: int, archive_size: int) -> None:
        self.root = root
        self.islands = islands
        self.archive_size = archive_size
        self.programs: dict[str, ProgramRecord] = {}
        self.samples: list[SampleRecord] = []
        self.children: dict[str, int] = {}
        self.lock = threading.RLock()
        self._next = 0
        root.mkdir(parents=True, exist_ok=True)

    # -- persistence --------------------------------------------------------------------------------------------

    @property
    def programs_path(self) -> Path:
        return self.root / "programs.jsonl"

    @property
    def samples_path(self) -> Path:
        return self.root / "samples.jsonl"

    def program_dir(self, pid: str) -> Path:
        return self.root / "programs" / pid

    def code(self, pid: str) -> str:
        return (self.program_dir(pid) / "program.py").read_text(encoding="utf-8")

    @classmethod
    def load(cls, root: Path, islands: int, archive_size: int) -> Population:
        pop = cls(root, islands, archive_size)
        for item in _read_jsonl(pop.programs_path):
            rec = ProgramRecord.model_validate(item)
            if (pop.program_dir(rec.id) / "program.py").is_file():
                pop._add(rec)
        pop.samples = [SampleRecord.model_validate(s) for s in _read_jsonl(pop.samples_path)]
        taken = [int(p[1:]) for p in pop.programs if p[1:].isdigit()]
        dirs = [int(d.name[1:]) for d in (root / "programs").glob("p*") if d.name[1:].isdigit()]
        pop._next = max(taken + dirs, default=-1) + 1
        return pop

    def new_id(self) -> str:
        with self.lock:
            pid = f"p{self._next:04d}"
            self._next += 1
            self.program_dir(pid).mkdir(parents=True, exist_ok=True)
            return pid

    def _append(self, path: Path, line: str) -> None:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()

    def _add(self, rec: ProgramRecord) -> None:
        self.programs[rec.id] = rec
        for parent in (rec.parent, rec.second_parent):
            if parent and rec.kind != "migrant":
                self.children[parent] = self.children.get(parent, 0) + 1

    def add(self, rec: ProgramRecord, code: str) -> None:
        """Store a program's code and record (the record line last: it is the commit point)."""
        d = self.program_dir(rec.id)
        d.mkdir(parents=True, exist_ok=True)
        (d / "program.py").write_text(code, encoding="utf-8")
        with self.lock:
            self._append(self.programs_path, rec.model_dump_json())
            self._add(rec)

    def add_sample(self, rec: SampleRecord) -> None:
        with self.lock:
            self._append(self.samples_path, rec.model_dump_json())
            self.samples.append(rec)

    # -- queries ------------------------------------------------------------------------------------------------

    def all(self) -> list[ProgramRecord]:
        with self.lock:
            return list(self.programs.values())

    def correct(self, island: int | None = None) -> list[ProgramRecord]:
        return [p for p in self.all() if p.correct and (island is None or p.island == island)]

    def island_archive(self, island: int) -> list[ProgramRecord]:
        """The island's elites: its best correct programs, best first, at most ``archive_size``."""
        ranked = sorted(self.correct(island), key=lambda p: (-p.combined_score, p.id))
        return ranked[: self.archive_size]

    def archive(self) -> list[ProgramRecord]:
        """Elites of every island, best first (the pool inspirations come from)."""
        seen: dict[str, ProgramRecord] = {}
        for i in range(self.islands):
            for p in self.island_archive(i):
                seen[p.id] = p
        return sorted(seen.values(), key=lambda p: (-p.combined_score, p.id))

    def best(self) -> ProgramRecord | None:
        ranked = sorted(self.correct(), key=lambda p: (-p.combined_score, p.id))
        return ranked[0] if ranked else None

    def lineage(self, pid: str) -> list[ProgramRecord]:
        """The program and its ancestors back to the initial program, oldest first (migrant copies skipped)."""
        out: list[ProgramRecord] = []
        cur = self.programs.get(pid)
        while cur is not None and len(out) < 10_000:
            if cur.kind != "migrant":
                out.append(cur)
            cur = self.programs.get(cur.parent) if cur.parent else None
        return list(reversed(out))

    def evaluated_count(self) -> int:
        """Programs evaluated after the initial one (migrants are copies, not evaluations)."""
        return sum(1 for p in self.all() if p.kind not in ("initial", "migrant"))

    def sample_count(self) -> int:
        with self.lock:
            return len(self.samples)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            samples = list(self.samples)
        evaluated = [s for s in samples if s.outcome == "evaluated"]
        best = self.best()
        return {
            "samples": len(samples),
            "evaluated": len(evaluated),
            "valid": sum(1 for s in evaluated if s.correct),
            "applied": sum(1 for s in samples if s.applied),
            "improved": sum(1 for s in evaluated if s.improved),
            "best": best.combined_score if best else None,
            "best_id": best.id if best else None,
            "apply_rate": sum(1 for s in samples if s.applied) / len(samples) if samples else 0.0,
            "valid_rate": sum(1 for s in evaluated if s.correct) / len(evaluated) if evaluated else 0.0,
        }

    def operator_stats(self, kinds: Iterable[str]) -> dict[str, tuple[int, int]]:
        """kind -> (proposals, valid programs) over the samples so far."""
        out = {k: (0, 0) for k in kinds}
        with self.lock:
            for s in self.samples:
                if s.kind in out:
                    n, ok = out[s.kind]
                    out[s.kind] = (n + 1, ok + int(s.correct))
        return out

    def model_stats(self, models: Iterable[str]) -> dict[str, tuple[int, float]]:
        """model -> (pulls, reward): reward 1 when the child is valid and beats its parent (bandit arms)."""
        out = {m: (0, 0.0) for m in models}
        with self.lock:
            for s in self.samples:
                if s.model in out:
                    n, r = out[s.model]
                    out[s.model] = (n + 1, r + float(s.improved))
        return out
