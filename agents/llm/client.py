"""The one model layer: every call to every model goes through ``LLM`` on the ``openai`` SDK.

- ``chat``: plain chat, optional images (VLM role) and tools; returns a ``ChatReply``.
- ``structured``: an answer validated into a pydantic model (json_schema ``response_format`` where the endpoint
  supports it, JSON in text otherwise); invalid answers are sent back with the validation errors for a bounded
  number of repairs, then ``StructuredOutputError``.
- Retries: bounded, with exponential backoff, on rate limits, 5xx, timeouts and connection errors only.
- Every attempt is written to the run's ledger; the budget is checked before each call is sent.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, TypeVar

import openai
from pydantic import BaseModel, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from agents.errors import ConfigError, ModelCallError, StructuredOutputError
from agents.llm.budget import call_cost, check_budget, estimate_tokens
from agents.llm.concurrency import call_slot
from agents.llm.endpoints import DefaultResolver, Endpoint, EndpointResolver, openai_client
from agents.llm.ledger import CallRecord, Ledger, Totals
from agents.llm.messages import ImageInput, append_to_last_user, attach_images
from agents.llm.redact import REFUSALS, EndpointRejected, redact, refusal, secret_values
from agents.llm.replies import ChatReply, ToolCall, UsageMeter
from agents.llm.structured import JSONExtractionError, extract_json, response_format_for, validation_messages
from agents.prompts import render_messages, render_text
from agents.settings import RoleModel, Settings

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)

RETRYABLE: tuple[type[Exception], ...] = (
    openai.RateLimitError,
    openai.InternalServerError,
    openai.APITimeoutError,
    openai.APIConnectionError,
    openai.APIResponseValidationError,
)
PROMPT_HEADER = "X-Shoal-Prompt"


class LLM:
    """Model calls for one run. Share one instance (or ``bind`` views of it) across the run's stages.

    Token usage comes with every result: ``chat`` returns a ``ChatReply`` with its tokens and cost;
    ``structured_with_usage`` returns the answer and the usage of all its rounds; ``metered()`` gives a view whose
    meter counts every call made through it (what a stage reports as its own spend)."""

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger | None = None,
        resolver: EndpointResolver | None = None,
        context: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.ledger = ledger if ledger is not None else Ledger(None)
        self.resolver = resolver if resolver is not None else DefaultResolver(settings)
        self.context = dict(context or {})
        self._clients: dict[tuple[str, str], openai.OpenAI] = {}
        self._lock = threading.Lock()
        self._no_schema_roles: set[str] = set()
        self._meters: tuple[UsageMeter, ...] = ()

    def metered(self) -> tuple[LLM, UsageMeter]:
        """A view (sharing clients and ledger) whose calls, and its bound views' calls, are counted by the meter."""
        meter = UsageMeter()
        view = self.bind()
        view._meters = (*self._meters, meter)
        return view, meter

    def _record(self, rec: CallRecord) -> None:
        self.ledger.record(rec)
        for meter in self._meters:
            meter.add(rec)

    def structured_with_usage(
        self, role: str, prompt: str, schema: type[T], variables: dict[str, Any] | None = None, **kwargs: Any
    ) -> tuple[T, Totals]:
        """``structured``, and the calls, tokens and cost of all its rounds."""
        view, meter = self.metered()
        return view.structured(role, prompt, schema, variables, **kwargs), meter.totals()

    def bind(self, **context: str) -> LLM:
        """A view that shares clients and ledger and adds ``context`` (e.g. stage, node) to every record."""
        view = LLM.__new__(LLM)
        view.__dict__.update(self.__dict__)
        view.context = {**self.context, **{k: str(v) for k, v in context.items()}}
        return view

    def with_model(self, role: str, model: str) -> LLM:
        """``role``'s calls go to ``model`` (a bandit's arm): same ledger, context, meters; ``self`` if unchanged."""
        if model == self.role_model(role).model:
            return self
        swapped = self.role_model(role).model_copy(update={"model": model})
        models = self.settings.models.model_copy(update={role: swapped})
        view = LLM(self.settings.model_copy(update={"models": models}), self.ledger, context=self.context)
        view._meters = self._meters
        return view

    # -- public API -------------------------------------------------------------------------------------------

    def role_model(self, role: str) -> RoleModel:
        return self.settings.models.for_role(role)

    def supports_images(self, role: str) -> bool:
        return self.role_model(role).supports_images

    def chat(
        self,
        role: str,
        prompt: str,
        variables: dict[str, Any] | None = None,
        *,
        messages: list[dict[str, Any]] | None = None,
        images: list[ImageInput] | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> ChatReply:
        """One chat completion. ``prompt`` names the template (rendered unless ``messages`` is given)."""
        model = self.role_model(role)
        msgs = list(messages) if messages is not None else render_messages(prompt, variables)
        if images:
            if not model.supports_images:
                raise ConfigError(
                    f"role {role!r} ({model.model}) is not configured to accept images; "
                    f"set models.{role}.supports_images = true for a vision model"
                )
            msgs = attach_images(msgs, images)
        if tools and not model.supports_tools:
            raise ConfigError(f"role {role!r} ({model.model}) is configured without tool support")
        kwargs: dict[str, Any] = {
            "messages": msgs,
            "temperature": model.temperature if temperature is None else temperature,
            "max_tokens": max_tokens or model.max_tokens,
        }
        if tools:
            kwargs["tools"] = tools
            if tool_choice is not None:
                kwargs["tool_choice"] = tool_choice
        if response_format is not None:
            kwargs["response_format"] = response_format
        return self._send(role, prompt, model, kwargs)

    def structured(
        self,
        role: str,
        prompt: str,
        schema: type[T],
        variables: dict[str, Any] | None = None,
        *,
        messages: list[dict[str, Any]] | None = None,
        images: list[ImageInput] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> T:
        """An answer validated into ``schema``, with bounded repair rounds."""
        model = self.role_model(role)
        msgs = list(messages) if messages is not None else render_messages(prompt, variables)
        use_schema = model.structured_mode == "json_schema" and role not in self._no_schema_roles
        if model.structured_mode == "text" or not use_schema:
            msgs = append_to_last_user(msgs, self._json_instructions(schema))
        rounds = self.settings.llm.max_repairs + 1
        errors: list[str] = []
        raw = ""
        for round_no in range(rounds):
            fmt = self._response_format(role, model, schema)
            try:
                reply = self.chat(
                    role,
                    prompt,
                    messages=msgs,
                    images=images if round_no == 0 else None,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    response_format=fmt,
                )
            except EndpointRejected as exc:
                if exc.status != 400 or fmt is None or fmt.get("type") != "json_schema":
                    raise
                log.warning("role %s: endpoint rejected json_schema response_format; using JSON in text", role)
                self._no_schema_roles.add(role)
                msgs = append_to_last_user(msgs, self._json_instructions(schema))
                continue
            raw = reply.content
            images = None  # the images are in the conversation already
            try:
                if reply.finish_reason == "length":
                    raise JSONExtractionError("the answer was cut off at the token limit; answer more briefly")
                return schema.model_validate(extract_json(raw))
            except JSONExtractionError as exc:
                errors = [str(exc)]
            except ValidationError as exc:
                errors = validation_messages(exc)
            log.info("%s: invalid structured answer (round %d/%d): %s", prompt, round_no + 1, rounds, errors)
            self._mark_invalid(prompt, role, model)
            msgs = [
                *msgs,
                {"role": "assistant", "content": raw[:4000]},
                {"role": "user", "content": render_text("_partials/repair", {"errors": errors})},
            ]
        raise StructuredOutputError(
            f"{prompt}: no valid {schema.__name__} after {rounds} attempts: {'; '.join(errors)}",
            prompt=prompt,
            raw=raw,
            errors=errors,
        )

    # -- internals --------------------------------------------------------------------------------------------

    def _json_instructions(self, schema: type[BaseModel]) -> str:
        return render_text("_partials/json_instructions", {"schema": json.dumps(schema.model_json_schema())})

    def _response_format(self, role: str, model: RoleModel, schema: type[BaseModel]) -> dict[str, Any] | None:
        if model.structured_mode == "json_schema" and role not in self._no_schema_roles:
            return response_format_for(schema)
        if model.structured_mode == "json_object":
            return {"type": "json_object"}
        return None

    def _client(self, endpoint: Endpoint) -> openai.OpenAI:
        key = (endpoint.base_url, endpoint.api_key)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = openai_client(endpoint.base_url, endpoint.api_key, self.settings.llm.request_timeout_s)
                self._clients[key] = client
            return client

    def _mark_invalid(self, prompt: str, role: str, model: RoleModel) -> None:
        self._record(
            CallRecord(
                prompt=prompt, role=role, model=model.model, endpoint="-", outcome="invalid", context=self.context
            )
        )

    def _wait(self, state: RetryCallState) -> float:
        cfg = self.settings.llm
        exc = state.outcome.exception() if state.outcome else None
        delay = min(cfg.backoff_max_s, cfg.backoff_base_s * (2 ** (state.attempt_number - 1)))
        retry_after = _retry_after(exc)
        if retry_after is not None:
            delay = min(cfg.backoff_max_s, max(delay, retry_after))
        return delay

    def _send(self, role: str, prompt: str, model: RoleModel, kwargs: dict[str, Any]) -> ChatReply:
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
        try:
            for attempt in retrying:
                with attempt:
                    attempt_no = attempt.retry_state.attempt_number
                    with call_slot(endpoint.base_url, self.settings.llm.max_concurrency):
                        return self._attempt(client, endpoint, role, prompt, model, kwargs, attempt_no)
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

    def _secrets(self, endpoint: Endpoint) -> list[str]:
        # the embedded server's "key" is the word "embedded" (also its label), "not-needed" a placeholder
        placeholder = endpoint.label == "embedded" or endpoint.api_key == "not-needed"
        return secret_values(self.settings, [] if placeholder else [endpoint.api_key])

    def _attempt(
        self,
        client: openai.OpenAI,
        endpoint: Endpoint,
        role: str,
        prompt: str,
        model: RoleModel,
        kwargs: dict[str, Any],
        attempt_no: int,
    ) -> ChatReply:
        start = time.monotonic()
        try:
            try:
                resp = client.chat.completions.create(
                    model=endpoint.model, extra_headers={PROMPT_HEADER: prompt}, **kwargs
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
            self._record(
                CallRecord(
                    prompt=prompt,
                    role=role,
                    model=endpoint.model,
                    endpoint=endpoint.label,
                    latency_s=time.monotonic() - start,
                    outcome=f"error:{type(exc).__name__}",
                    attempt=attempt_no,
                    context=self.context,
                )
            )
            raise
        latency = time.monotonic() - start
        choice = resp.choices[0]
        usage = resp.usage
        tokens_in = usage.prompt_tokens if usage else estimate_tokens(kwargs["messages"])
        content = choice.message.content or ""
        tokens_out = usage.completion_tokens if usage else max(1, len(content) // 4)
        finish = choice.finish_reason or "stop"
        cost = call_cost(model, tokens_in, tokens_out)
        self._record(
            CallRecord(
                prompt=prompt,
                role=role,
                model=endpoint.model,
                endpoint=endpoint.label,
                tokens_in=tokens_in,
                tokens_out=tokens_out,
                latency_s=latency,
                cost_usd=cost,
                outcome="truncated" if finish == "length" else "ok",
                attempt=attempt_no,
                context=self.context,
            )
        )
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
