"""Reflection rounds: the model critiques and improves an idea, and says when it is done.

At most ``ideation.reflections`` rounds; a round whose answer is ``done`` ends them (its improved idea, when it
gives one, is kept). A round that yields no valid answer after the bounded repairs ends the reflection and keeps
the idea as it was: the model's failure is not a reason to lose a good idea.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, Field

from agents.errors import StructuredOutputError
from agents.ideation.schema import IdeaDraft
from agents.literature import Paper
from agents.llm import LLM

log = logging.getLogger(__name__)


class Reflection(BaseModel):
    critique: str = Field(description="two or three sentences")
    done: bool = Field(description="true when the idea needs no more changes")
    idea: IdeaDraft | None = Field(default=None, description="the improved idea; leave out when done and unchanged")


def reflect(
    llm: LLM, idea: IdeaDraft, *, topic: str, papers: list[Paper], rounds: int
) -> tuple[IdeaDraft, int, list[str]]:
    """The improved idea, the rounds run, and the critiques."""
    critiques: list[str] = []
    ran = 0
    for round_no in range(1, rounds + 1):
        variables: dict[str, Any] = {
            "topic": topic,
            "idea": idea.model_dump_json(indent=1),
            "papers": papers[:10],
            "round": round_no,
            "rounds": rounds,
        }
        try:
            answer = llm.structured("ideation", "ideation/reflect", Reflection, variables)
        except StructuredOutputError as exc:
            log.info("ideation: reflection round %d gave no valid answer (%s); keeping the idea", round_no, exc)
            break
        ran = round_no
        critiques.append(answer.critique)
        if answer.idea is not None:
            idea = answer.idea
        if answer.done or answer.idea is None:
            break
    return idea, ran, critiques
