"""Shoal's model layer (see ``agents.llm.client``)."""

from agents.llm.client import LLM, ChatReply, ToolCall, UsageMeter
from agents.llm.endpoints import DefaultResolver, Endpoint
from agents.llm.ledger import CallRecord, Ledger, Totals, read_ledger, summarize

__all__ = [
    "LLM",
    "CallRecord",
    "ChatReply",
    "DefaultResolver",
    "Endpoint",
    "Ledger",
    "ToolCall",
    "Totals",
    "UsageMeter",
    "read_ledger",
    "summarize",
]
