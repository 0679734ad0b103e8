"""Shoal's error hierarchy.

Errors the *model* causes (invalid JSON, buggy code) are normally turned into data by the caller; the classes
here are for conditions the caller must stop on or report to the user. Each carries a message that names the
problem and, where there is one, the fix.
"""

from __future__ import annotations


class ShoalError(Exception):
    """Base class: every error Shoal raises on purpose."""


class ConfigError(ShoalError):
    """A setting, config file or command-line override is invalid."""


class UserInputError(ShoalError):
    """Input the user gave (a topic, a file, a path) cannot be used."""


class ModelUnavailable(ShoalError):
    """No model endpoint can be reached (embedded weights missing, server down, bad base URL)."""


class ModelCallError(ShoalError):
    """A model call failed after its bounded retries (rate limits, server errors, timeouts)."""

    def __init__(self, message: str, *, prompt: str, role: str, attempts: int) -> None:
        super().__init__(message)
        self.prompt = prompt
        self.role = role
        self.attempts = attempts


class StructuredOutputError(ShoalError):
    """The model did not produce a schema-valid answer within the bounded repair rounds."""

    def __init__(self, message: str, *, prompt: str, raw: str, errors: list[str]) -> None:
        super().__init__(message)
        self.prompt = prompt
        self.raw = raw
        self.errors = errors


class BudgetExceeded(ShoalError):
    """The run's USD or token budget would be exceeded by the next call; the run stops and can be resumed."""

    def __init__(self, message: str, *, spent_usd: float, spent_tokens: int) -> None:
        super().__init__(message)
        self.spent_usd = spent_usd
        self.spent_tokens = spent_tokens
