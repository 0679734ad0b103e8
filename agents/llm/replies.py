"""What the model layer hands back: a chat reply (with its tool calls) and a usage meter for one caller's calls."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from agents.llm.ledger import CallRecord, Totals
from agents.llm.structured import extract_json


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str

    def parsed_arguments(self) -> Any:
        """The arguments as JSON (raises JSONExtractionError when the model wrote something else)."""
        return extract_json(self.arguments) if self.arguments.strip() else {}


@dataclass
class ChatReply:
    content: str
    finish_reason: str
    model: str
    tokens_in: int
    tokens_out: int
    latency_s: float
    tool_calls: list[ToolCall] = field(default_factory=list)
    cost_usd: float = 0.0

    def assistant_message(self) -> dict[str, Any]:
        """The reply as a message to append to the conversation."""
        msg: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            msg["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        return msg


class UsageMeter:
    """The calls, tokens and cost of the calls made through one ``metered`` view (and views bound from it), counted
    as they are recorded: right when other callers use the same ledger at the same time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals = Totals()
        self.requests = 0  # requests sent (a record marking an answer invalid is not a request)

    def add(self, rec: CallRecord) -> None:
        with self._lock:
            self._totals.add(rec)
            self.requests += rec.outcome != "invalid"

    def totals(self) -> Totals:
        with self._lock:
            return self._totals.model_copy()
