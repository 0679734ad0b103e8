"""The agentic generation of one idea: a bounded number of tool steps, then a finished ``IdeaDraft``.

Two protocols, chosen by ``resolve_tool_mode``:

- ``tools``: OpenAI tool calls (``search_literature``, ``read_abstract``, ``finalize_idea``); on the last step
  ``finalize_idea`` is forced with ``tool_choice``. A reply without tool calls is read as a JSON action when it
  is one, else the model is nudged.
- ``json``: one ``Action`` per step through ``LLM.structured`` (schema-constrained on the embedded model).

If the steps run out without a finished idea, one last structured call (``ideation/finalize``) writes it from
the papers seen. Model mistakes are fed back as tool results; only a failed final call raises
``StructuredOutputError`` to the caller, which counts it as a failed attempt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from agents.errors import ConfigError, StructuredOutputError
from agents.ideation.schema import IdeaDraft
from agents.ideation.tools import Action, ToolBox, tool_definitions
from agents.llm import LLM
from agents.llm.structured import JSONExtractionError, extract_json
from agents.prompts import render_messages, render_text
from agents.settings import Settings

log = logging.getLogger(__name__)

ToolMode = Literal["tools", "json"]
ROLE = "ideation"


def resolve_tool_mode(settings: Settings) -> ToolMode:
    """``ideation.tool_mode``; ``auto`` means tool calls unless the role is embedded or says it has no tools."""
    mode = settings.ideation.tool_mode
    role = settings.models.ideation
    if mode == "auto":
        return "tools" if role.supports_tools and not role.is_embedded else "json"
    if mode == "tools" and not role.supports_tools:
        raise ConfigError(
            "ideation.tool_mode = tools, but models.ideation.supports_tools is false; use tool_mode = json or auto"
        )
    return mode


@dataclass
class AgentResult:
    idea: IdeaDraft
    steps: int
    finalized_by: Literal["tool", "final_call"]


def _action_from_text(text: str) -> Action | None:
    """A JSON action (or a bare idea) written as text by a model that should have called a tool."""
    try:
        obj = extract_json(text)
    except JSONExtractionError:
        return None
    if not isinstance(obj, dict):
        return None
    try:
        return Action.model_validate(obj)
    except ValidationError:
        pass
    try:
        return Action(thought="", action="finalize_idea", idea=IdeaDraft.model_validate(obj))
    except ValidationError:
        return None


class IdeaAgent:
    """Runs the bounded tool loop for one idea."""

    def __init__(self, llm: LLM, settings: Settings, toolbox: ToolBox, mode: ToolMode) -> None:
        self.llm = llm
        self.settings = settings
        self.toolbox = toolbox
        self.mode = mode
        self.max_steps = settings.ideation.max_steps

    def run(self, variables: dict[str, Any]) -> AgentResult:
        variables = {**variables, "tool_mode": self.mode, "max_steps": self.max_steps}
        messages = render_messages("ideation/agent", variables)
        loop = self._tools_loop if self.mode == "tools" else self._json_loop
        idea, steps = loop(messages)
        if idea is not None:
            return AgentResult(idea, steps, "tool")
        log.info("ideation: no idea after %d steps; asking for it directly", steps)
        papers = list(self.toolbox.seen.values())[:12]
        final = self.llm.structured(ROLE, "ideation/finalize", IdeaDraft, {**variables, "papers": papers})
        return AgentResult(final, steps, "final_call")

    def _nudge(self, steps_left: int) -> dict[str, str]:
        return {
            "role": "user",
            "content": render_text("ideation/nudge", {"steps_left": steps_left, "tool_mode": self.mode}),
        }

    def _tools_loop(self, messages: list[dict[str, Any]]) -> tuple[IdeaDraft | None, int]:
        tools = tool_definitions()
        for step in range(1, self.max_steps + 1):
            last = step == self.max_steps
            choice = {"type": "function", "function": {"name": "finalize_idea"}} if last else None
            reply = self.llm.chat(ROLE, "ideation/agent", messages=messages, tools=tools, tool_choice=choice)
            messages.append(reply.assistant_message())
            if not reply.tool_calls:
                action = _action_from_text(reply.content)
                if action is not None:
                    outcome = self.toolbox.run_action(action)
                    if outcome.idea is not None:
                        return outcome.idea, step
                    messages.append({"role": "user", "content": outcome.text})
                messages.append(self._nudge(self.max_steps - step))
                continue
            for call in reply.tool_calls:
                try:
                    args = call.parsed_arguments()
                    outcome = self.toolbox.run(call.name, args if isinstance(args, dict) else {})
                except JSONExtractionError as exc:
                    outcome = self.toolbox._error(call.name, f"the arguments are not valid JSON ({exc})")
                messages.append({"role": "tool", "tool_call_id": call.id, "content": outcome.text})
                if outcome.idea is not None:
                    return outcome.idea, step
            if self.max_steps - step == 1:
                messages.append(self._nudge(1))
        return None, self.max_steps

    def _json_loop(self, messages: list[dict[str, Any]]) -> tuple[IdeaDraft | None, int]:
        for step in range(1, self.max_steps + 1):
            try:
                action = self.llm.structured(ROLE, "ideation/agent", Action, messages=messages)
            except StructuredOutputError as exc:
                log.info("ideation: step %d gave no valid action (%s)", step, exc)
                messages.append(self._nudge(self.max_steps - step))
                continue
            outcome = self.toolbox.run_action(action)
            if outcome.idea is not None:
                return outcome.idea, step
            messages.append({"role": "assistant", "content": action.model_dump_json(exclude_none=True)})
            text = outcome.text
            if self.max_steps - step <= 1:
                text += "\n\n" + render_text(
                    "ideation/nudge", {"steps_left": self.max_steps - step, "tool_mode": self.mode}
                )
            messages.append({"role": "user", "content": text})
        return None, self.max_steps
