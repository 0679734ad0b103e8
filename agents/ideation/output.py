"""Ideation's files in the run directory (paths from ``agents.rundir``): ``ideas.json`` and ``ideas/<name>.md``.

``ideas.json`` is ``{"ideas": [Idea, ...]}`` (the contract later stages read) plus ``chosen`` (ideation's
suggestion, a name; the run's choice is ``RunDir.choose_idea``), ``topic``, ``rejected`` (near-duplicates that were
generated again) and ``notices`` (e.g. a literature fallback).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.ideation.schema import Idea
from agents.rundir import RunDir

if TYPE_CHECKING:
    from agents.ideation.generate import IdeationResult


def idea_markdown(idea: Idea) -> str:
    check = idea.novelty_check
    lines = [
        f"# {idea.title}",
        "",
        f"`{idea.name}` · interestingness {idea.interestingness.value}/10 · feasibility {idea.feasibility.value}/10"
        f" · novelty {idea.novelty.value}/10",
        "",
        f"**Hypothesis.** {idea.hypothesis}",
        "",
        "## Abstract",
        "",
        idea.abstract,
        "",
        "## Planned experiments",
        "",
        *[f"{i}. {e}" for i, e in enumerate(idea.experiments, 1)],
        "",
    ]
    if idea.related_work:
        lines += ["## Related work", "", idea.related_work, ""]
    if idea.risks:
        lines += ["## Risks and limitations", "", *[f"- {r}" for r in idea.risks], ""]
    res = idea.resources
    lines += [
        "## Resources",
        "",
        f"{res.device}, about {res.minutes} minutes"
        + (f"; datasets: {', '.join(res.datasets)}" if res.datasets else ""),
        "",
        "## Scores",
        "",
        f"- Interestingness {idea.interestingness.value}: {idea.interestingness.why}",
        f"- Feasibility {idea.feasibility.value}: {idea.feasibility.why}",
        f"- Novelty {idea.novelty.value}: {idea.novelty.why}",
        "",
        "## Novelty check",
        "",
        f"Decision: **{check.decision}** ({check.reason})",
        "",
    ]
    if check.closest_papers:
        lines += ["| similarity | paper | judged same |", "|---:|---|---|"]
        for c in check.closest_papers:
            verdict = "" if c.judged_same is None else ("yes" if c.judged_same else "no")
            year = f" ({c.year})" if c.year else ""
            title = c.title.replace("|", "/")  # a pipe would end the table cell
            lines.append(f"| {c.similarity:.3f} | {title}{year} | {verdict} |")
        lines.append("")
    sources = ", ".join(idea.sources_consulted) or "none"
    lines += [
        "## Provenance",
        "",
        f"Literature consulted: {sources}. Searches: {', '.join(repr(q) for q in idea.queries) or 'none'}.",
        f"Tool steps: {idea.steps} ({idea.tool_mode}); reflection rounds: {idea.reflections}; "
        f"generations: {check.attempts}.",
        *[f"Note: {n}" for n in idea.literature_notes],
        "",
    ]
    return "\n".join(lines)


def write_ideas(run: RunDir, result: IdeationResult) -> Path:
    """Write the files; returns the path of ``ideas.json``."""
    chosen = result.chosen
    payload: dict[str, Any] = {
        "ideas": [i.model_dump(mode="json") for i in result.ideas],
        "chosen": chosen.name if chosen else None,
        "topic": result.topic.model_dump(mode="json"),
        "rejected": [i.model_dump(mode="json") for i in result.rejected],
        "notices": result.notices,
    }
    path = run.write_ideas(payload)
    for idea in result.ideas:
        run.idea_page(idea.name).write_text(idea_markdown(idea), encoding="utf-8")
    return path


def load_ideas(run_path: Path) -> tuple[list[Idea], str | None]:
    """The ideas of a run and ideation's suggested name; a missing or broken file is a ``UserInputError``."""
    return RunDir(run_path).ideas()
