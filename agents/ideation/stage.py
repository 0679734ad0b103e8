"""Ideation's one entry point, used by ``shoal ideas`` and the pipeline alike: idempotent over ``ideas.json``
(a resumed run does not generate again)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agents.errors import ShoalError
from agents.ideation.generate import generate_ideas
from agents.ideation.inputs import SeedIdea, Topic, topic_from_text
from agents.ideation.output import write_ideas
from agents.ideation.schema import Idea
from agents.literature import LiteratureBackend, make_literature
from agents.llm import LLM
from agents.rundir import RunDir
from agents.settings import Settings

log = logging.getLogger(__name__)

EventSink = Callable[..., None]


@dataclass
class IdeationOutcome:
    ideas: list[Idea]
    suggested: str | None
    rejected: list[Idea] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    reused: bool = False


def literature_cache(settings: Settings) -> Path:
    """The one literature cache folder of every stage."""
    return settings.cache_dir / "literature"


def ideation_stage(
    run: RunDir,
    llm: LLM,
    settings: Settings,
    topic: Topic | str | None = None,
    *,
    num_ideas: int | None = None,
    seeds: list[SeedIdea] | None = None,
    literature: LiteratureBackend | None = None,
    on_event: EventSink | None = None,
) -> IdeationOutcome:
    """The run's ideas and ideation's suggestion, generating and writing them unless ``ideas.json`` exists.

    ``topic`` defaults to the run's ``topic.json``; ``on_event(kind, **data)`` defaults to the run's events file.
    No idea at all is a ``ShoalError`` (nothing later can run).
    """
    if run.has_ideas():
        log.info("ideation: %s exists; reusing it", run.ideas_path)
        ideas, suggested = run.ideas()
        return IdeationOutcome(ideas, suggested, reused=True)
    the_topic = run.topic() if topic is None else topic if isinstance(topic, Topic) else topic_from_text(topic)
    lit = literature if literature is not None else make_literature(settings, literature_cache(settings))
    emit = on_event if on_event is not None else run.event
    emit("ideation_started", topic=the_topic.title, num_ideas=num_ideas or settings.ideation.num_ideas)
    result = generate_ideas(the_topic, llm, lit, settings, num_ideas=num_ideas, seeds=seeds, on_event=emit)
    if result.ideas:
        write_ideas(run, result)
    emit("ideation_finished", ideas=len(result.ideas), rejected=len(result.rejected))
    if not result.ideas:
        raise ShoalError("ideation produced no usable idea; try a more specific topic or a stronger model")
    chosen = result.chosen
    return IdeationOutcome(result.ideas, chosen.name if chosen else None, list(result.rejected), list(result.notices))
