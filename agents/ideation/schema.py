"""The idea schema: what ideation produces and every later stage reads (``ideas.json``)."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator


class Score(BaseModel):
    value: int = Field(ge=1, le=10)
    why: str = Field(description="one-line justification")


class Resources(BaseModel):
    device: str = Field(default="cpu", description="cpu or gpu")
    datasets: list[str] = Field(default_factory=list, description="datasets the experiments need")
    minutes: int = Field(default=10, ge=1, description="estimated compute minutes for the whole search")


class Idea(BaseModel):
    """One research idea worth running."""

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
