"""The literature every stage uses: Semantic Scholar, then the local library, then nothing.

``make_literature(settings, cache_dir)`` returns a :class:`FallbackLiterature` over the configured backends in
that order. When a backend becomes unavailable (unreachable, rate-limited past its retries, access refused) the
chain says so once (a warning and an entry in ``notices``), drops it for the rest of the run, and answers from
the next one; with none left it answers "no papers". A run never stops because literature is missing.

``consulted`` lists, in order, the backends that actually answered; ideation stores it with each idea.
"""

from __future__ import annotations

import logging
from pathlib import Path

from agents.literature.base import LiteratureBackend, LiteratureUnavailable, Paper
from agents.settings import Settings

log = logging.getLogger(__name__)

LABELS = {"semantic_scholar": "Semantic Scholar", "local": "the local library", "none": "no literature"}


class NoLiterature:
    """The empty backend: every search finds nothing."""

    name = "none"

    def search(self, query: str, limit: int = 10) -> list[Paper]:
        return []

    def get(self, paper_id: str) -> Paper | None:
        return None


class FallbackLiterature:
    """Backends in order of preference; an unavailable one is dropped (once, with a notice)."""

    name = "fallback"

    def __init__(self, backends: list[LiteratureBackend], notices: list[str] | None = None) -> None:
        self.backends: list[LiteratureBackend] = list(backends)
        self.notices: list[str] = list(notices or [])
        self.consulted: list[str] = []
        self.dropped: dict[str, str] = {}

    @property
    def active(self) -> str:
        """The name of the backend answering now (``none`` when none is left)."""
        return self.backends[0].name if self.backends else "none"

    def _note(self, name: str) -> None:
        if name not in self.consulted:
            self.consulted.append(name)

    def _drop(self, backend: LiteratureBackend, exc: LiteratureUnavailable) -> None:
        self.backends.remove(backend)
        self.dropped[backend.name] = str(exc)
        nxt = LABELS.get(self.active, self.active)
        message = f"{LABELS.get(backend.name, backend.name)} unavailable ({exc}); continuing with {nxt}"
        log.warning("%s", message)
        self.notices.append(message)

    def search(self, query: str, limit: int = 10) -> list[Paper]:
        while self.backends:
            backend = self.backends[0]
            try:
                papers = backend.search(query, limit)
            except LiteratureUnavailable as exc:
                self._drop(backend, exc)
                continue
            self._note(backend.name)
            return papers
        return []

    def get(self, paper_id: str) -> Paper | None:
        wanted_local = paper_id.strip().startswith("local:")
        for backend in list(self.backends):
            if wanted_local != (backend.name == "local"):
                continue
            try:
                paper = backend.get(paper_id)
            except LiteratureUnavailable as exc:
                self._drop(backend, exc)
                continue
            self._note(backend.name)
            return paper
        return None


def as_fallback(backend: LiteratureBackend) -> FallbackLiterature:
    return backend if isinstance(backend, FallbackLiterature) else FallbackLiterature([backend])


def make_literature(settings: Settings, cache_dir: Path) -> FallbackLiterature:
    """Semantic Scholar (unless ``literature.semantic_scholar`` is false), then ``literature.local_library``."""
    from agents.literature.local import LocalLibrary
    from agents.literature.semantic_scholar import SemanticScholarBackend

    cfg = settings.literature
    backends: list[LiteratureBackend] = []
    if cfg.semantic_scholar:
        backends.append(SemanticScholarBackend(cfg, cache_dir))
    if cfg.local_library is not None:
        backends.append(LocalLibrary(cfg.local_library, cache_dir, max_pages=cfg.local_max_pages))
    notices = []
    if not backends:
        notices.append(
            "no literature source configured (literature.semantic_scholar is off and literature.local_library "
            "is unset); ideas are not checked against papers"
        )
        log.warning("%s", notices[0])
    return FallbackLiterature(backends, notices)
