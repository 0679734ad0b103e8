"""The scripted server's vocabulary: replies (built with the helpers here), recorded requests, usage estimates."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

ReplyKind = Literal["text", "tool_calls", "error", "timeout", "bad_http_body"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer; build it with the helper functions below rather than by hand."""

    kind: ReplyKind = "text"
    content: str | None = ""
    finish_reason: str = "stop"
    tool_calls: tuple[tuple[str, str], ...] = ()  # (name, arguments as a JSON string)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    status: int = 200
    message: str = ""
    retry_after: float = 0.0
    delay: float = 0.0  # seconds to wait before answering (timeout replies)
    body: bytes = b""  # raw HTTP body (bad_http_body replies)
    content_type: str = "application/json"


@dataclass
class RecordedRequest:
    """A chat-completions request as the server saw it."""

    prompt: str
    body: dict[str, Any]
    headers: dict[str, str]
    time: float = field(default_factory=time.time)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The request's ``messages`` list (empty when absent)."""
        messages = self.body.get("messages")
        return messages if isinstance(messages, list) else []


ReplyLike = Reply | Callable[[RecordedRequest], Reply]


def text(content: str, *, prompt_tokens: int | None = None, completion_tokens: int | None = None) -> Reply:
    """A normal answer with ``finish_reason="stop"``."""
    return Reply(content=content, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)


def json_reply(obj: Any, **usage: int) -> Reply:
    """A normal answer whose content is ``json.dumps(obj)``."""
    return text(json.dumps(obj), **usage)


def tool_calls(calls: list[dict[str, Any]], content: str | None = None) -> Reply:
    """An assistant message with OpenAI ``tool_calls``; each call is ``{"name": ..., "arguments": {...}}``."""
    args = [call.get("arguments", {}) for call in calls]
    pairs = tuple(
        (str(c["name"]), a if isinstance(a, str) else json.dumps(a)) for c, a in zip(calls, args, strict=True)
    )
    return Reply(kind="tool_calls", content=content, finish_reason="tool_calls", tool_calls=pairs)


def error(status: int, message: str = "scripted error", *, retry_after: float = 0.0) -> Reply:
    """An HTTP error with an OpenAI-style JSON body; headers tell the client to retry after ``retry_after``."""
    return Reply(kind="error", status=status, message=message, retry_after=retry_after)


def timeout(seconds: float = 30.0) -> Reply:
    """Wait ``seconds`` (cut short by :meth:`ScriptedServer.stop`), then answer 504; the client gives up first."""
    return Reply(kind="timeout", delay=seconds, status=504, message="scripted timeout")


def malformed_json(content: str = '{"a": 1,') -> Reply:
    """A 200 answer whose *content* is not valid JSON (for structured-output repair)."""
    return text(content)


def truncated(content: str, keep: int | None = None) -> Reply:
    """A 200 answer cut short: ``finish_reason="length"``, content cut to ``keep`` chars (default: half)."""
    cut = content[: len(content) // 2 if keep is None else keep]
    return Reply(content=cut, finish_reason="length")


def bad_http_body(body: str = "<html>502 Bad Gateway</html>", content_type: str = "application/json") -> Reply:
    """A 200 response whose HTTP body is not JSON although its ``content_type`` may claim so."""
    return Reply(kind="bad_http_body", body=body.encode(), content_type=content_type)


def estimate_tokens(text_: str) -> int:
    """The usage estimate the server reports when a reply gives none."""
    return max(1, len(text_) // 4)
