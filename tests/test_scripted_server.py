"""The scripted OpenAI-compatible server, exercised through the real ``openai`` client."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest

from agents.testing import (
    RecordedRequest,
    Reply,
    ScriptedServer,
    bad_http_body,
    error,
    json_reply,
    malformed_json,
    text,
    timeout,
    tool_calls,
    truncated,
)

pytest_plugins = ["pytester"]

PROMPT = "coder/draft"
MESSAGES: list[Any] = [
    {"role": "system", "content": "You write Python."},
    {"role": "user", "content": "Write a function that adds two numbers."},
]


ClientFactory = Callable[..., openai.OpenAI]


@pytest.fixture
def make_client() -> Iterator[ClientFactory]:
    """Build real ``openai`` clients for a server; all are closed after the test."""
    clients: list[openai.OpenAI] = []

    def build(server: ScriptedServer, *, timeout_s: float = 5.0, max_retries: int = 0) -> openai.OpenAI:
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=max_retries, timeout=timeout_s)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


def ask(client: openai.OpenAI, prompt: str = PROMPT, **kwargs: Any) -> Any:
    return client.chat.completions.create(
        model="test-model", messages=MESSAGES, extra_headers={"X-Shoal-Prompt": prompt}, **kwargs
    )


def test_text_reply_is_a_real_chat_completion(scripted_llm: ScriptedServer, make_client: ClientFactory) -> None:
    scripted_llm.script(PROMPT, text("def add(a, b):\n    return a + b\n"))
    completion = ask(make_client(scripted_llm))
    assert completion.object == "chat.completion"
    assert completion.model == "test-model"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == "def add(a, b):\n    return a + b\n"
    chars = sum(len(m["content"]) for m in MESSAGES)
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == chars // 4
    assert completion.usage.completion_tokens == len(choice.message.content) // 4
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_explicit_usage_and_fifo_order(scripted_llm: ScriptedServer, make_client: ClientFactory) -> None:
    scripted_llm.script(PROMPT, text("first", prompt_tokens=100, completion_tokens=7), text("second"))
    client = make_client(scripted_llm)
    first, second = ask(client), ask(client)
    assert (first.choices[0].message.content, second.choices[0].message.content) == ("first", "second")
    assert first.usage.prompt_tokens == 100
    assert first.usage.completion_tokens == 7
    assert second.usage.completion_tokens == 1  # max(1, len("second") // 4)


def test_json_reply(scripted_llm: ScriptedServer, make_client: ClientFactory) -> None:
    scripted_llm.script(PROMPT, json_reply({"name": "idea", "score": 3}))
    completion = ask(make_client(scripted_llm))
    assert json.loads(completion.choices[0].message.content) == {"name": "idea", "score": 3}


def test_tool_calls(scripted_llm: ScriptedServer, make_client: ClientFactory) -> None:
    calls = [{"name": "search", "arguments": {"query": "grokking"}}, {"name": "finish", "arguments": {}}]
    scripted_llm.script(PROMPT, tool_calls(calls))
    choice = ask(make_client(scripted_llm)).choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    got = choice.message.tool_calls
    assert [c.id for c in got] == ["call_1", "call_2"]
    assert all(c.type == "function" for c in got)
    assert [c.function.name for c in got] == ["search", "finish"]
    assert json.loads(got[0].function.arguments) == {"query": "grokking"}


def test_rate_limit_raises_rate_limit_error(scripted_llm: ScriptedServer, make_client: ClientFactory) -> None:
    scripted_llm.script(PROMPT, error(429, "slow down"))
    with pytest.raises(openai.RateLimitError) as caught:
        ask(make_client(scripted_llm))
    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "0"
    assert "slow down" in str(caught.value)


def test_client_retries_are_fast_and_each_is_recorded(scripted_llm: ScriptedServer, make_client: ClientFactory) -> None:
    scripted_llm.script(PROMPT, error(429), error(503), text("ok"))
    started = time.monotonic()
    completion = ask(make_client(scripted_llm, max_retries=2))
    assert completion.choices[0].message.content == "ok"
    assert time.monotonic() - started < 1.0
    assert len(scripted_llm.requests_for(PROMPT)) == 3


def test_server_error_raises_internal_server_error(scripted_llm: ScriptedServer, make_client: ClientFactory) -> None:
    scripted_llm.script(PROMPT, error(500, "boom"))
    with pytest.raises(openai.InternalServerError) as caught:
        ask(make_client(scripted_llm))
    assert caught.value.status_code == 500
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["message"] == "boom"


def test_timeout_raises_api_timeout_error_and_stays_fast(
    scripted_llm: ScriptedServer, make_client: ClientFactory
) -> None:
    scripted_llm.script(PROMPT, timeout(seconds=5))
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        ask(make_client(scripted_llm, timeout_s=0.5))
    assert time.monotonic() - started < 2.0


def test_stop_cuts_a_pending_timeout_short(make_client: ClientFactory) -> None:
    server = ScriptedServer().start()
    server.script(PROMPT, timeout(seconds=30))
    with pytest.raises(openai.APITimeoutError):
        ask(make_client(server, timeout_s=0.2))
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.0
    server.check()


def test_malformed_json_content(scripted_llm: ScriptedServer, make_client: ClientFactory) -> None:
    scripted_llm.script(PROMPT, malformed_json())
    content = ask(make_client(scripted_llm), response_format={"type": "json_object"}).choices[0].message.content
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)


def test_truncated_reply_has_finish_reason_length(scripted_llm: ScriptedServer, make_client: ClientFactory) -> None:
    full = '{"plan": "a long plan that goes on"}'
    scripted_llm.script(PROMPT, truncated(full), truncated(full, keep=5))
    client = make_client(scripted_llm)
    choice = ask(client).choices[0]
    assert choice.finish_reason == "length"
    assert choice.message.content == full[: len(full) // 2]
    assert ask(client).choices[0].message.content == '{"pla'


def test_bad_http_body(scripted_llm: ScriptedServer, make_client: ClientFactory) -> None:
    """The installed client raises a ValueError (JSONDecodeError) for a non-JSON body claiming to be JSON, and
    returns the raw text when the content type is not JSON: the LLM layer must treat both as an API failure."""
    scripted_llm.script(PROMPT, bad_http_body(), bad_http_body(content_type="text/html"))
    client = make_client(scripted_llm)
    with pytest.raises(ValueError):
        ask(client)
    assert not isinstance(ask(client), openai.types.chat.ChatCompletion)


def test_streaming_text_with_usage(scripted_llm: ScriptedServer, make_client: ClientFactory) -> None:
    scripted_llm.script(PROMPT, text("streamed answer in pieces"))
    stream = ask(make_client(scripted_llm), stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert "".join(pieces) == "streamed answer in pieces"
    assert len([p for p in pieces if p]) >= 2
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == len("streamed answer in pieces") // 4


def test_streaming_tool_calls_without_usage(scripted_llm: ScriptedServer, make_client: ClientFactory) -> None:
    scripted_llm.script(PROMPT, tool_calls([{"name": "run", "arguments": {"code": "print(1)"}}]))
    chunks = list(ask(make_client(scripted_llm), stream=True))
    assert all(c.usage is None for c in chunks)
    deltas = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].function.name == "run"
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == {"code": "print(1)"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_requests_are_recorded(scripted_llm: ScriptedServer, make_client: ClientFactory) -> None:
    scripted_llm.script(PROMPT, json_reply({"ok": True}))
    scripted_llm.script("", text("no header"))
    schema = {"type": "json_schema", "json_schema": {"name": "ok", "schema": {"type": "object"}}}
    client = make_client(scripted_llm)
    ask(client, response_format=schema, temperature=0.2)
    client.chat.completions.create(model="test-model", messages=MESSAGES)
    assert [r.prompt for r in scripted_llm.requests] == [PROMPT, ""]
    recorded = scripted_llm.requests_for(PROMPT)[0]
    assert recorded.messages == MESSAGES
    assert recorded.body["response_format"] == schema
    assert recorded.body["temperature"] == 0.2
    assert recorded.headers["x-shoal-prompt"] == PROMPT
    assert recorded.headers["authorization"] == "Bearer test"
    assert recorded.time <= time.time()
    assert scripted_llm.requests_for("")[0].body["model"] == "test-model"


def test_unscripted_call_is_a_violation_and_check_raises(make_client: ClientFactory) -> None:
    with ScriptedServer() as server:
        with pytest.raises(openai.InternalServerError) as caught:
            ask(make_client(server), prompt="writer/section")
        assert "unscripted call for prompt 'writer/section'" in str(caught.value)
    assert server.violations == ["unscripted call for prompt 'writer/section'"]
    with pytest.raises(AssertionError, match="unscripted call for prompt 'writer/section'"):
        server.check()


def test_leftovers_make_check_raise(make_client: ClientFactory) -> None:
    with ScriptedServer() as server:
        server.script(PROMPT, text("used"), text("unused"))
        server.script("reviewer/review", text("never asked"))
        ask(make_client(server))
    assert server.leftovers() == {PROMPT: 1, "reviewer/review": 1}
    with pytest.raises(AssertionError, match="leftover") as caught:
        server.check()
    assert "reviewer/review" in str(caught.value)


def test_always_answers_every_call_after_the_queue(scripted_llm: ScriptedServer, make_client: ClientFactory) -> None:
    scripted_llm.script(PROMPT, text("queued"))
    scripted_llm.always(PROMPT, text("always"))
    client = make_client(scripted_llm)
    answers = [ask(client).choices[0].message.content for _ in range(3)]
    assert answers == ["queued", "always", "always"]
    assert scripted_llm.leftovers() == {}


def test_callable_reply_sees_the_request(scripted_llm: ScriptedServer, make_client: ClientFactory) -> None:
    def echo(request: RecordedRequest) -> Reply:
        return text(f"{request.prompt}: {request.messages[-1]['content']}")

    scripted_llm.always(PROMPT, echo)
    content = ask(make_client(scripted_llm)).choices[0].message.content
    assert content == f"{PROMPT}: {MESSAGES[-1]['content']}"


def test_models_and_health_endpoints(scripted_llm: ScriptedServer, make_client: ClientFactory) -> None:
    assert [m.id for m in make_client(scripted_llm).models.list()] == ["scripted-model"]
    root = scripted_llm.base_url.removesuffix("/v1")
    with urllib.request.urlopen(f"{root}/health", timeout=2) as response:
        assert json.loads(response.read()) == {"status": "ok"}
    assert scripted_llm.requests == []


def test_fixture_fails_the_test_on_leftovers(pytester: pytest.Pytester) -> None:
    from pathlib import Path

    pytester.makeconftest(Path(__file__).with_name("conftest.py").read_text())
    pytester.makepyfile(
        """
        from agents.testing import text

        def test_leaves_a_reply(scripted_llm):
            scripted_llm.script("coder/draft", text("never used"))
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*leftover*coder/draft*"])


def test_broken_callable_is_a_violation(make_client: ClientFactory) -> None:
    def broken(request: RecordedRequest) -> Reply:
        raise RuntimeError("bug in the test")

    with ScriptedServer() as server:
        server.script(PROMPT, broken)
        with pytest.raises(openai.InternalServerError, match="bug in the test"):
            ask(make_client(server))
    assert len(server.violations) == 1
    assert "RuntimeError" in server.violations[0]


def test_parallel_calls_are_each_answered_once(scripted_llm: ScriptedServer, make_client: ClientFactory) -> None:
    scripted_llm.script(PROMPT, *(text(f"answer {i}") for i in range(16)))
    client = make_client(scripted_llm)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: ask(client).choices[0].message.content, range(16)))
    assert sorted(answers) == sorted(f"answer {i}" for i in range(16))
