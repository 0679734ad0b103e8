"""Graph state: small values and ids only. The experiment tree, the paper and the review live on disk."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

STAGES: tuple[str, ...] = ("ideation", "choose_idea", "experiments", "figures", "writeup", "review", "report")


class PipelineState(TypedDict, total=False):
    topic: str
    num_ideas: int
    idea_name: str | None
    exp_stages: list[int]
    approve: list[str]
    max_revisions: int
    revision_round: int
    revision_requests: list[str]
    experiments_status: str
    experiments_message: str
    num_figures: int
    done: Annotated[list[str], operator.add]
