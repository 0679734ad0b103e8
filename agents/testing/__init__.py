"""Test helpers that ship with Shoal: a scripted OpenAI-compatible server for exercising the real client."""

from agents.testing.replies import (
    RecordedRequest,
    Reply,
    ReplyLike,
    bad_http_body,
    error,
    estimate_tokens,
    json_reply,
    malformed_json,
    text,
    timeout,
    tool_calls,
    truncated,
)
from agents.testing.scripted_server import PROMPT_HEADER, ScriptedServer

__all__ = [
    "PROMPT_HEADER",
    "RecordedRequest",
    "Reply",
    "ReplyLike",
    "ScriptedServer",
    "bad_http_body",
    "error",
    "estimate_tokens",
    "json_reply",
    "malformed_json",
    "text",
    "timeout",
    "tool_calls",
    "truncated",
]
