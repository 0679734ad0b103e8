"""The literature interface every stage uses (ideation's novelty check, the writer's citations).

Only papers returned by a backend may be cited: ``Paper`` carries the metadata a BibTeX entry is built from.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field

from agents.errors import ShoalError


class Paper(BaseModel):
    paper_id: str = Field(description="backend id (Semantic Scholar paperId, or local:<hash>)")
    title: str
    authors: list[str] = Field(default_factory=list)
    year: int | None = None
    venue: str | None = None
    abstract: str | None = None
    citation_count: int | None = None
    url: str | None = None
    bibtex: str | None = Field(default=None, description="BibTeX from the source, when it gives one")
    source: str = Field(description="semantic_scholar | local")


class LiteratureUnavailable(ShoalError):
    """A backend cannot answer now (unreachable, rate-limited after its bounded retries, access refused).

    Callers degrade to the next backend (see ``agents.literature.factory``); they never stop a run on it.
    """


@runtime_checkable
class LiteratureBackend(Protocol):
    """Search and look up papers. Implementations never hang: bounded retries, timeouts."""

    name: str

    def search(self, query: str, limit: int = 10) -> list[Paper]: ...

    def get(self, paper_id: str) -> Paper | None: ...
