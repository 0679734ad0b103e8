"""Generate N ideas for a topic: agent loop -> reflection -> novelty check, each idea seeing the earlier ones.

A near-duplicate (of an earlier idea, a seed idea or a paper) is rejected and generated again with the rejection
in the prompt, at most ``ideation.max_regenerations`` times; an idea still rejected then is left out (and kept in
``rejected``), so a run can end with fewer ideas than asked for, and says so. An attempt whose model output stays
invalid after the bounded repairs is a failed attempt, counted against the same bound. Model-call failures
(endpoint down after its retries) and budget stops are not the model's mistakes: they end the generation; the
ideas finished before are returned (with a notice) so they are written, and with none finished the error
propagates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from agents.errors import BudgetExceeded, ModelCallError, StructuredOutputError
from agents.ideation.agent import IdeaAgent, ToolMode, resolve_tool_mode
from agents.ideation.inputs import SeedIdea, Topic
from agents.ideation.novelty import EarlierIdea, check_novelty
from agents.ideation.reflect import reflect
from agents.ideation.schema import Idea
from agents.ideation.tools import ToolBox
from agents.literature import LiteratureBackend
from agents.literature.factory import FallbackLiterature, as_fallback
from agents.llm import LLM
from agents.settings import Settings

log = logging.getLogger(__name__)

EventSink = Callable[..., None]


@dataclass
class IdeationResult:
    topic: Topic
    ideas: list[Idea] = field(default_factory=list)
    rejected: list[Idea] = field(default_factory=list)
    failed_attempts: int = 0
    notices: list[str] = field(default_factory=list)

    @property
    def chosen(self) -> Idea | None:
        """The idea to run: the highest interestingness + feasibility + novelty score (first on ties)."""
        if not self.ideas:
            return None
        return max(self.ideas, key=lambda i: i.interestingness.value + i.feasibility.value + i.novelty.value)


def _unique_name(name: str, taken: set[str]) -> str:
    out, n = name, 2
    while out in taken:
        out = f"{name}_{n}"
        n += 1
    return out


def generate_ideas(
    topic: Topic,
    llm: LLM,
    literature: LiteratureBackend,
    settings: Settings,
    *,
    num_ideas: int | None = None,
    seeds: list[SeedIdea] | None = None,
    on_event: EventSink | None = None,
) -> IdeationResult:
    cfg = settings.ideation
    n = num_ideas or cfg.num_ideas
    lit = as_fallback(literature)
    mode = resolve_tool_mode(settings)
    emit: EventSink = on_event or (lambda kind, **data: None)
    result = IdeationResult(topic=topic)
    seed_list = list(seeds or [])
    llm = llm.bind(stage="ideation")
    try:
        _generate_all(result, n, llm, settings, lit, mode, topic, seed_list, emit)
    except (ModelCallError, BudgetExceeded) as exc:
        if not result.ideas:
            raise
        message = f"stopped after {len(result.ideas)} idea(s): {exc}"
        log.warning("ideation: %s", message)
        result.notices.append(message)
    result.notices = list(lit.notices) + result.notices
    return result


def _generate_all(
    result: IdeationResult,
    n: int,
    llm: LLM,
    settings: Settings,
    lit: FallbackLiterature,
    mode: ToolMode,
    topic: Topic,
    seed_list: list[SeedIdea],
    emit: EventSink,
) -> None:
    cfg = settings.ideation
    for k in range(1, n + 1):
        avoid: list[str] = []
        for attempt in range(1, cfg.max_regenerations + 2):
            earlier = [EarlierIdea(i.name, i.title, f"{i.hypothesis} {i.abstract}") for i in result.ideas]
            earlier += [EarlierIdea(s.name, s.title, s.summary) for s in seed_list]
            idea = _one_idea(llm, settings, lit, mode, topic, earlier, avoid, attempt)
            if idea is None:
                result.failed_attempts += 1
                emit("idea_failed", index=k, attempt=attempt)
                continue
            idea.name = _unique_name(idea.name, {i.name for i in result.ideas})
            check = idea.novelty_check
            if check.decision.startswith("duplicate"):
                log.info("ideation: idea %d attempt %d rejected: %s", k, attempt, check.reason)
                result.rejected.append(idea)
                avoid.append(f"{idea.title} ({check.reason})")
                emit("idea_rejected", index=k, attempt=attempt, title=idea.title, reason=check.reason)
                continue
            result.ideas.append(idea)
            emit("idea_accepted", index=k, name=idea.name, title=idea.title, decision=check.decision)
            break
        else:
            message = f"idea {k}: no acceptable idea after {cfg.max_regenerations + 1} attempts; left out"
            log.warning("%s", message)
            result.notices.append(message)


def _one_idea(
    llm: LLM,
    settings: Settings,
    lit: FallbackLiterature,
    mode: ToolMode,
    topic: Topic,
    earlier: list[EarlierIdea],
    avoid: list[str],
    attempt: int,
) -> Idea | None:
    cfg = settings.ideation
    lit.consulted.clear()
    toolbox = ToolBox(lit, cfg.search_limit)
    variables = {
        "topic": topic.text(),
        "previous": [{"title": e.title, "summary": e.summary} for e in earlier],
        "avoid": avoid,
    }
    try:
        run = IdeaAgent(llm, settings, toolbox, mode).run(variables)
        papers = list(toolbox.seen.values())
        draft, rounds, _ = reflect(llm, run.idea, topic=topic.text(), papers=papers, rounds=cfg.reflections)
    except StructuredOutputError as exc:
        log.warning("ideation: attempt %d produced no valid idea: %s", attempt, exc)
        return None
    toolbox.search(draft.title, record=False)  # the closest published work to what was finally written
    check = check_novelty(llm, cfg, draft, list(toolbox.seen.values()), earlier)
    check.attempts = attempt
    return Idea.from_draft(
        draft,
        topic=topic.title,
        sources_consulted=list(lit.consulted),
        literature_notes=list(lit.notices) or ([] if lit.consulted else ["no literature source answered"]),
        queries=list(toolbox.queries),
        papers_read=list(toolbox.papers_read),
        steps=run.steps,
        tool_mode=mode,
        reflections=rounds,
        novelty_check=check,
    )
