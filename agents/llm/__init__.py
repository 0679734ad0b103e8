"""Shoal's model layer (see ``agents.llm.client``)."""

from agents.llm.client import LLM
from agents.llm.endpoints import DefaultResolver, Endpoint
from agents.llm.ledger import CallRecord, Ledger, Totals, read_ledger, summarize
from agents.llm.replies import ChatReply, ToolCall, UsageMeter

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
