"""Ideation as a pipeline stage: idempotent over ``ideas.json`` (a resumed run does not generate again)."""

from __future__ import annotations

import logging

from agents.ideation.generate import generate_ideas
from agents.ideation.inputs import SeedIdea, Topic, topic_from_text
from agents.ideation.output import load_ideas, write_ideas
from agents.ideation.schema import Idea
from agents.literature import LiteratureBackend, make_literature
from agents.llm import LLM
from agents.rundir import RunDir
from agents.settings import Settings

log = logging.getLogger(__name__)


def ideation_stage(
    run: RunDir,
    llm: LLM,
    settings: Settings,
    topic: Topic | str,
    *,
    num_ideas: int | None = None,
    seeds: list[SeedIdea] | None = None,
    literature: LiteratureBackend | None = None,
) -> tuple[list[Idea], str | None]:
    """The run's ideas and the chosen name, generating and writing them unless ``ideas.json`` exists."""
    if run.file("ideas.json").is_file():
        log.info("ideation: %s exists; reusing it", run.file("ideas.json"))
        return load_ideas(run.path)
    the_topic = topic if isinstance(topic, Topic) else topic_from_text(topic)
    lit = literature if literature is not None else make_literature(settings, settings.cache_dir)
    run.event("ideation_started", topic=the_topic.title, num_ideas=num_ideas or settings.ideation.num_ideas)
    result = generate_ideas(the_topic, llm, lit, settings, num_ideas=num_ideas, seeds=seeds, on_event=run.event)
    write_ideas(run.path, result)
    run.event("ideation_finished", ideas=len(result.ideas), rejected=len(result.rejected), notices=result.notices)
    chosen = result.chosen
    return result.ideas, chosen.name if chosen else None
