"""The ideation agent's tools: ``search_literature(query)``, ``read_abstract(paper_id)``, ``finalize_idea(idea)``.

The same tools serve both ways of calling them: OpenAI tool calls (``TOOLS``), and, for models that do not call
tools reliably (the embedded 1.5B model), one JSON ``Action`` per step through ``LLM.structured``. Tool results
are text for the model, rendered from ``templates/prompts/ideation/observation.md.j2``. A bad call (unknown tool,
arguments that are not JSON, an idea that fails the schema) is not an error of ours: its result tells the model
what was wrong, and the step counts.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from agents.ideation.schema import IdeaDraft
from agents.literature import FallbackLiterature, Paper
from agents.llm.structured import validation_messages
from agents.prompts import render_text

log = logging.getLogger(__name__)

ToolName = Literal["search_literature", "read_abstract", "finalize_idea"]
TOOL_NAMES: tuple[str, ...] = ("search_literature", "read_abstract", "finalize_idea")


class Action(BaseModel):
    """One step of the JSON-action protocol (for models without reliable tool calls)."""

    thought: str = Field(description="one short sentence: why this action")
    action: ToolName
    query: str = Field(default="", description="search_literature: the search query")
    paper_id: str = Field(default="", description="read_abstract: an id from the search results")
    idea: IdeaDraft | None = Field(default=None, description="finalize_idea: the finished idea")


def tool_definitions() -> list[dict[str, Any]]:
    """OpenAI function-tool definitions."""
    idea_schema = IdeaDraft.model_json_schema()
    return [
        {
            "type": "function",
            "function": {
                "name": "search_literature",
                "description": "Search papers by keywords; returns ids, titles, years and short abstracts.",
                "parameters": {
                    "type": "object",
                    "properties": {"query": {"type": "string", "description": "a few keywords"}},
                    "required": ["query"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": "read_abstract",
                "description": "Read the full abstract of a paper found by search_literature.",
                "parameters": {
                    "type": "object",
                    "properties": {"paper_id": {"type": "string", "description": "an id from the search results"}},
                    "required": ["paper_id"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": "finalize_idea",
                "description": "Submit the finished research idea. Call it once, when the idea is complete.",
                "parameters": {"type": "object", "properties": {"idea": idea_schema}, "required": ["idea"]},
            },
        },
    ]


@dataclass
class ToolOutcome:
    text: str
    idea: IdeaDraft | None = None
    ok: bool = True


@dataclass
class ToolBox:
    """Runs tool calls against the literature and remembers what the agent saw."""

    literature: FallbackLiterature
    limit: int = 8
    seen: dict[str, Paper] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    papers_read: list[str] = field(default_factory=list)

    def search(self, query: str, *, record: bool = True) -> list[Paper]:
        papers = self.literature.search(query, self.limit)
        if record:
            self.queries.append(query)
        for p in papers:
            self.seen.setdefault(p.paper_id, p)
        return papers

    def run(self, name: str, args: dict[str, Any]) -> ToolOutcome:
        if name == "search_literature":
            query = str(args.get("query") or "").strip()
            if not query:
                return self._error(name, "give a non-empty query")
            papers = self.search(query)
            return ToolOutcome(
                render_text(
                    "ideation/observation",
                    {"tool": name, "query": query, "papers": papers, "source": self.literature.active, "error": ""},
                )
            )
        if name == "read_abstract":
            paper_id = str(args.get("paper_id") or "").strip().strip("[]").strip()
            paper = self._seen_paper(paper_id) or (self.literature.get(paper_id) if paper_id else None)
            if paper is None:
                return self._error(name, f"no paper with id {paper_id!r}; use an id from the search results")
            self.seen.setdefault(paper.paper_id, paper)
            if paper.paper_id not in self.papers_read:
                self.papers_read.append(paper.paper_id)
            return ToolOutcome(render_text("ideation/observation", {"tool": name, "paper": paper, "error": ""}))
        if name == "finalize_idea":
            raw = args.get("idea", args)
            if isinstance(raw, str):  # some models send the idea as a JSON string
                try:
                    raw = json.loads(raw)
                except json.JSONDecodeError as exc:
                    return self._error(name, f"the idea is not valid JSON ({exc.msg})")
            try:
                idea = IdeaDraft.model_validate(raw)
            except ValidationError as exc:
                return self._error(name, "the idea does not follow the schema: " + "; ".join(validation_messages(exc)))
            return ToolOutcome(render_text("ideation/observation", {"tool": name, "error": ""}), idea=idea)
        return self._error(name, f"unknown tool; use one of {', '.join(TOOL_NAMES)}")

    def _seen_paper(self, paper_id: str) -> Paper | None:
        """A paper already shown, also when the model dropped the id's ``local:`` prefix (the 1.5B model does)."""
        if not paper_id:
            return None
        if paper_id in self.seen:
            return self.seen[paper_id]
        return next((p for p in self.seen.values() if p.paper_id.split(":", 1)[-1] == paper_id), None)

    def _error(self, name: str, message: str) -> ToolOutcome:
        log.info("ideation tool %s: %s", name, message)
        return ToolOutcome(render_text("ideation/observation", {"tool": name, "error": message}), ok=False)

    def run_action(self, action: Action) -> ToolOutcome:
        if action.action == "search_literature":
            return self.run(action.action, {"query": action.query})
        if action.action == "read_abstract":
            return self.run(action.action, {"paper_id": action.paper_id})
        if action.idea is None:
            return self._error(action.action, "put the finished idea in the 'idea' field")
        return ToolOutcome(render_text("ideation/observation", {"tool": action.action, "error": ""}), idea=action.idea)
