"""The one model layer: every call to every model goes through ``LLM`` on the ``openai`` SDK.

- ``chat``: plain chat, optional images (VLM role) and tools; returns a ``ChatReply``.
- ``structured``: an answer validated into a pydantic model (json_schema ``response_format`` where the endpoint
  supports it, JSON in text otherwise); invalid answers are sent back with the validation errors for a bounded
  number of repairs, then ``StructuredOutputError``.
- Sending (``agents.llm.transport``): bounded retries with exponential backoff on rate limits, 5xx, timeouts and
  connection errors only; every attempt written to the run's ledger; the budget checked before each call.
"""

from __future__ import annotations

import json
import logging
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from agents.errors import ConfigError, StructuredOutputError
from agents.llm.endpoints import DefaultResolver, EndpointResolver
from agents.llm.ledger import CallRecord, Ledger, Totals
from agents.llm.messages import ImageInput, append_to_last_user, attach_images
from agents.llm.redact import EndpointRejected
from agents.llm.replies import ChatReply, UsageMeter
from agents.llm.structured import JSONExtractionError, extract_json, response_format_for, validation_messages
from agents.llm.transport import Transport
from agents.prompts import render_messages, render_text
from agents.settings import RoleModel, Settings

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)


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
        self.transport = Transport(settings, self.ledger, self.resolver)
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

    def _mark_invalid(self, prompt: str, role: str, model: RoleModel) -> None:
        self._record(
            CallRecord(
                prompt=prompt, role=role, model=model.model, endpoint="-", outcome="invalid", context=self.context
            )
        )

    def _send(self, role: str, prompt: str, model: RoleModel, kwargs: dict[str, Any]) -> ChatReply:
        return self.transport.send(role, prompt, model, kwargs, self._record, self.context)
