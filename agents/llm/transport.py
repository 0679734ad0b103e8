"""Sending one chat request: the budget check, the endpoint, bounded retries with backoff, a ledger record per
attempt, and the errors an endpoint causes turned into Shoal's own (with secrets redacted)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import openai
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from agents.errors import ModelCallError
from agents.llm.budget import call_cost, check_budget, estimate_tokens
from agents.llm.concurrency import call_slot
from agents.llm.endpoints import Endpoint, EndpointResolver, openai_client
from agents.llm.ledger import CallRecord, Ledger
from agents.llm.redact import REFUSALS, redact, refusal, secret_values
from agents.llm.replies import ChatReply, ToolCall
from agents.settings import RoleModel, Settings

RETRYABLE: tuple[type[Exception], ...] = (
    openai.RateLimitError,
    openai.InternalServerError,
    openai.APITimeoutError,
    openai.APIConnectionError,
    openai.APIResponseValidationError,
)
PROMPT_HEADER = "X-Shoal-Prompt"

Recorder = Callable[[CallRecord], None]


class Transport:
    """One per ``LLM`` (its views share it): the ``openai`` clients, one per endpoint, and the sending of requests."""

    def __init__(self, settings: Settings, ledger: Ledger, resolver: EndpointResolver) -> None:
        self.settings = settings
        self.ledger = ledger
        self.resolver = resolver
        self._clients: dict[tuple[str, str], openai.OpenAI] = {}
        self._lock = threading.Lock()

    def send(
        self,
        role: str,
        prompt: str,
        model: RoleModel,
        kwargs: dict[str, Any],
        record: Recorder,
        context: dict[str, str],
    ) -> ChatReply:
        """The reply to ``kwargs`` (messages, max_tokens, ...) from ``role``'s endpoint; every attempt recorded."""
        check_budget(self.settings.budget, self.ledger, model, kwargs["messages"], kwargs["max_tokens"])
        endpoint = self.resolver.resolve(role, model)
        client = self._client(endpoint)
        attempts = self.settings.llm.max_retries + 1
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=self._wait,
            retry=retry_if_exception_type(RETRYABLE),
            reraise=True,
        )
        attempt_no = 0
        sender = _Attempt(client, endpoint, role, prompt, model, kwargs, record, context)
        try:
            for attempt in retrying:
                with attempt:
                    attempt_no = attempt.retry_state.attempt_number
                    with call_slot(endpoint.base_url, self.settings.llm.max_concurrency):
                        return sender.run(attempt_no)
        except RETRYABLE as exc:
            raise ModelCallError(
                redact(
                    f"{prompt}: model call failed after {attempt_no} attempt(s) to {endpoint.label}: "
                    f"{type(exc).__name__}: {exc}",
                    self._secrets(endpoint),
                ),
                prompt=prompt,
                role=role,
                attempts=attempt_no,
            ) from None  # not chained: the original message may carry the key
        except openai.APIStatusError as exc:
            if exc.status_code not in REFUSALS:
                raise ModelCallError(
                    redact(f"{prompt}: {endpoint.label} answered {exc.status_code}: {exc}", self._secrets(endpoint)),
                    prompt=prompt,
                    role=role,
                    attempts=attempt_no,
                ) from None
            raise refusal(
                exc,
                role=role,
                prompt=prompt,
                url=endpoint.base_url,
                model=endpoint.model,
                key_env=model.api_key_env,
                secrets=self._secrets(endpoint),
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _client(self, endpoint: Endpoint) -> openai.OpenAI:
        key = (endpoint.base_url, endpoint.api_key)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = openai_client(endpoint.base_url, endpoint.api_key, self.settings.llm.request_timeout_s)
                self._clients[key] = client
            return client

    def _wait(self, state: RetryCallState) -> float:
        cfg = self.settings.llm
        exc = state.outcome.exception() if state.outcome else None
        delay = min(cfg.backoff_max_s, cfg.backoff_base_s * (2 ** (state.attempt_number - 1)))
        retry_after = _retry_after(exc)
        if retry_after is not None:
            delay = min(cfg.backoff_max_s, max(delay, retry_after))
        return delay

    def _secrets(self, endpoint: Endpoint) -> list[str]:
        # the embedded server's "key" is the word "embedded" (also its label), "not-needed" a placeholder
        placeholder = endpoint.label == "embedded" or endpoint.api_key == "not-needed"
        return secret_values(self.settings, [] if placeholder else [endpoint.api_key])


@dataclass(frozen=True)
class _Attempt:
    """One request as sent (again) on each retry: the call, its ledger record, the reply."""

    client: openai.OpenAI
    endpoint: Endpoint
    role: str
    prompt: str
    model: RoleModel
    kwargs: dict[str, Any]
    record: Recorder
    context: dict[str, str]

    def run(self, attempt_no: int) -> ChatReply:
        endpoint, kwargs = self.endpoint, self.kwargs
        start = time.monotonic()
        try:
            try:
                resp = self.client.chat.completions.create(
                    model=endpoint.model, extra_headers={PROMPT_HEADER: self.prompt}, **kwargs
                )
            except json.JSONDecodeError as exc:  # a 200 whose body is not JSON (a proxy's HTML page, say)
                raise openai.APIResponseValidationError(
                    response=_dummy_response(endpoint), body=None, message=f"the endpoint's answer is not JSON: {exc}"
                ) from exc
            if not getattr(resp, "choices", None):
                raise openai.APIResponseValidationError(
                    response=_dummy_response(endpoint), body=None, message="the endpoint returned no choices"
                )
        except Exception as exc:
            self._log(attempt_no, time.monotonic() - start, f"error:{type(exc).__name__}")
            raise
        latency = time.monotonic() - start
        choice = resp.choices[0]
        usage = resp.usage
        tokens_in = usage.prompt_tokens if usage else estimate_tokens(kwargs["messages"])
        content = choice.message.content or ""
        tokens_out = usage.completion_tokens if usage else max(1, len(content) // 4)
        finish = choice.finish_reason or "stop"
        cost = call_cost(self.model, tokens_in, tokens_out)
        outcome = "truncated" if finish == "length" else "ok"
        self._log(attempt_no, latency, outcome, tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost)
        calls = [
            ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments or "")
            for c in (choice.message.tool_calls or [])
            if getattr(c, "function", None) is not None
        ]
        return ChatReply(
            content=content,
            finish_reason=finish,
            model=endpoint.model,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            latency_s=latency,
            tool_calls=calls,
            cost_usd=cost,
        )

    def _log(self, attempt_no: int, latency: float, outcome: str, **usage: Any) -> None:
        self.record(
            CallRecord(
                prompt=self.prompt,
                role=self.role,
                model=self.endpoint.model,
                endpoint=self.endpoint.label,
                latency_s=latency,
                outcome=outcome,
                attempt=attempt_no,
                context=self.context,
                **usage,
            )
        )


def _retry_after(exc: BaseException | None) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _dummy_response(endpoint: Endpoint) -> Any:
    import httpx

    return httpx.Response(200, request=httpx.Request("POST", endpoint.base_url))
