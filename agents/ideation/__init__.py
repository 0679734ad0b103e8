"""Ideation: research ideas from a topic, checked against the literature (``shoal ideas``).

``generate_ideas`` runs the loop (agent with literature tools -> reflection -> novelty check, N ideas each seeing
the earlier ones); ``write_ideas`` writes ``ideas.json``, ``ideas/<name>.md`` and ``idea.md``; ``ideation_stage``
is the idempotent pipeline stage.
"""

from agents.ideation.generate import IdeationResult, generate_ideas
from agents.ideation.inputs import SeedIdea, Topic, load_seed_ideas, load_topic
from agents.ideation.output import load_ideas, write_ideas
from agents.ideation.schema import Idea, IdeaDraft, NoveltyCheck
from agents.ideation.stage import ideation_stage

__all__ = [
    "Idea",
    "IdeaDraft",
    "IdeationResult",
    "NoveltyCheck",
    "SeedIdea",
    "Topic",
    "generate_ideas",
    "ideation_stage",
    "load_ideas",
    "load_seed_ideas",
    "load_topic",
    "write_ideas",
]
