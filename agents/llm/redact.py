"""Keeping configured key values out of everything Shoal writes, and turning an endpoint's refusal into one
clear message (no traceback, no key).

Endpoints sometimes echo the key they were sent ("Incorrect API key provided: sk-..."). Every error message the
model layer raises passes through :func:`redact` first, so run.json, events.jsonl, llm_calls.jsonl, checkpoints
and the report never see a key value; the original exception is not chained (a traceback would carry it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import openai

from agents.errors import ModelCallError
from agents.settings import ROLES, Settings

MASK = "<redacted>"  # not [..]: the CLI prints through rich markup
_MIN_SECRET = 6  # shorter values ("none", "x") would mask ordinary words


class EndpointRejected(ModelCallError):
    """The endpoint refused the request (400/401/403/404/422): retrying cannot help."""

    def __init__(self, message: str, *, prompt: str, role: str, status: int) -> None:
        super().__init__(message, prompt=prompt, role=role, attempts=1)
        self.status = status


def secret_values(settings: Settings, extra: Iterable[str] = ()) -> list[str]:
    """The values of every configured key variable (roles' ``api_key_env``, the literature key), longest first."""
    names = {settings.models.for_role(r).api_key_env for r in ROLES} | {settings.literature.api_key_env}
    values = {os.environ.get(n, "") for n in names if n} | set(extra)
    return sorted((v for v in values if len(v) >= _MIN_SECRET), key=len, reverse=True)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value (and any run of 12+ of its leading characters) replaced by a mask."""
    for value in secrets:
        if value and value in text:
            text = text.replace(value, MASK)
        prefix = value[:12]
        if len(value) >= 20 and prefix in text:  # a partially echoed key ("sk-abc123...")
            text = text.replace(prefix, MASK)
    return text


_CHECK = {
    400: "the request this endpoint accepts: models.{role}.model ({model}), max_tokens, response format",
    401: "the key: ${key_env} must hold a valid key for {url}",
    403: "that the key in ${key_env} may use model {model} at {url}",
    404: "models.{role}.base_url ({url}; OpenAI-compatible servers usually end in /v1) and models.{role}.model "
    "({model})",
    422: "the request this endpoint accepts: models.{role}.model ({model}), max_tokens, response format",
}
REFUSALS = tuple(_CHECK)


def refusal(
    exc: openai.APIStatusError, *, role: str, prompt: str, url: str, model: str, key_env: str | None, secrets: list[str]
) -> EndpointRejected:
    """One message for a 4xx: which role, which endpoint, what it said (redacted), what to check."""
    status = exc.status_code
    said = _message(exc)
    check = _CHECK.get(status, _CHECK[400]).format(role=role, model=model, url=url, key_env=key_env)
    if status == 401 and not key_env:
        check = f"whether {url} needs a key: set models.{role}.api_key_env to the variable holding it"
    text = f"role {role!r}: the endpoint {url} refused the call ({status}: {said}); check {check}"
    return EndpointRejected(redact(text, secrets), prompt=prompt, role=role, status=status)


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
    return str(exc)[:300]
