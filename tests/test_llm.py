"""The model layer against the scripted server, through the real openai client: structured output and repair,
retry bounds, budget stop, ledger contents, images and tools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from agents.errors import BudgetExceeded, ConfigError, ModelCallError, StructuredOutputError
from agents.llm import LLM, Ledger, read_ledger, summarize
from agents.settings import Settings
from agents.testing import (
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

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


class Person(BaseModel):
    name: str
    age: int = Field(ge=0, le=150)


def make_llm(settings: Settings, tmp_path: Path) -> LLM:
    return LLM(settings, Ledger(tmp_path / "llm_calls.jsonl"), context={"stage": "test"})


def test_plain_chat_sends_prompt_name_and_rendered_template(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    scripted_llm.script("demo/hello", text("hi there"))
    reply = make_llm(llm_settings, tmp_path).chat("ideation", "demo/hello", {"topic": "sparse MLPs"})
    assert reply.content == "hi there"
    req = scripted_llm.requests_for("demo/hello")[0]
    msgs = req.body["messages"]
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert "sparse MLPs" in msgs[1]["content"]
    assert req.body["max_tokens"] == llm_settings.models.ideation.max_tokens


def test_missing_template_variable_raises(llm_settings: Settings, tmp_path: Path) -> None:
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        make_llm(llm_settings, tmp_path).chat("ideation", "demo/hello", {})


def test_structured_uses_json_schema_and_validates(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    scripted_llm.script("demo/hello", json_reply({"name": "Ada", "age": 36}))
    person = make_llm(llm_settings, tmp_path).structured("ideation", "demo/hello", Person, {"topic": "t"})
    assert person == Person(name="Ada", age=36)
    fmt = scripted_llm.requests_for("demo/hello")[0].body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["schema"]["properties"]["age"]["maximum"] == 150


def test_structured_repairs_malformed_then_invalid(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    scripted_llm.script(
        "demo/hello",
        malformed_json('{"name": "Ada", "age": '),
        json_reply({"name": "Ada", "age": 999}),
        text('Sure! ```json\n{"name": "Ada", "age": 36}\n```'),
    )
    llm = make_llm(llm_settings, tmp_path)
    assert llm.structured("ideation", "demo/hello", Person, {"topic": "t"}).age == 36
    reqs = scripted_llm.requests_for("demo/hello")
    assert len(reqs) == 3
    second = reqs[1].body["messages"]
    assert second[-2]["role"] == "assistant"
    assert "not valid JSON" in second[-1]["content"]
    third = reqs[2].body["messages"]
    assert "age: Input should be less than or equal to 150" in third[-1]["content"]
    outcomes = [r.outcome for r in read_ledger(tmp_path / "llm_calls.jsonl")]
    assert outcomes == ["ok", "invalid", "ok", "invalid", "ok"]


def test_structured_gives_typed_error_after_bounded_repairs(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    rounds = llm_settings.llm.max_repairs + 1
    scripted_llm.script("demo/hello", *[malformed_json() for _ in range(rounds)])
    with pytest.raises(StructuredOutputError) as info:
        make_llm(llm_settings, tmp_path).structured("ideation", "demo/hello", Person, {"topic": "t"})
    assert info.value.raw == '{"a": 1,'
    assert len(scripted_llm.requests_for("demo/hello")) == rounds


def test_truncated_answer_is_repaired(scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path) -> None:
    scripted_llm.script(
        "demo/hello", truncated('{"name": "Ada", "age": 36}', keep=10), json_reply({"name": "A", "age": 1})
    )
    assert make_llm(llm_settings, tmp_path).structured("ideation", "demo/hello", Person, {"topic": "t"}).age == 1
    assert "cut off" in scripted_llm.requests_for("demo/hello")[1].body["messages"][-1]["content"]
    assert read_ledger(tmp_path / "llm_calls.jsonl")[0].outcome == "truncated"


def test_text_mode_puts_schema_in_prompt(scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path) -> None:
    llm_settings.models.ideation.structured_mode = "text"
    scripted_llm.script("demo/hello", json_reply({"name": "Ada", "age": 3}))
    make_llm(llm_settings, tmp_path).structured("ideation", "demo/hello", Person, {"topic": "t"})
    body = scripted_llm.requests_for("demo/hello")[0].body
    assert "response_format" not in body
    assert '"age"' in body["messages"][-1]["content"]


def test_endpoint_rejecting_json_schema_falls_back_to_text(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    scripted_llm.script("demo/hello", error(400, "response_format not supported"), json_reply({"name": "B", "age": 2}))
    assert make_llm(llm_settings, tmp_path).structured("ideation", "demo/hello", Person, {"topic": "t"}).name == "B"
    second = scripted_llm.requests_for("demo/hello")[1].body
    assert "response_format" not in second
    assert "JSON schema" in second["messages"][-1]["content"]


@pytest.mark.parametrize("fault", [error(429), error(500), error(503), timeout(5), bad_http_body()])
def test_retries_then_succeeds(
    fault: object, scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    scripted_llm.script("demo/hello", fault, text("recovered"))
    assert make_llm(llm_settings, tmp_path).chat("ideation", "demo/hello", {"topic": "t"}).content == "recovered"
    recs = read_ledger(tmp_path / "llm_calls.jsonl")
    assert [r.attempt for r in recs] == [1, 2]
    assert recs[0].outcome.startswith("error:") and recs[1].outcome == "ok"


def test_retries_are_bounded(scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path) -> None:
    attempts = llm_settings.llm.max_retries + 1
    scripted_llm.script("demo/hello", *[error(429) for _ in range(attempts)])
    with pytest.raises(ModelCallError, match=f"after {attempts} attempt"):
        make_llm(llm_settings, tmp_path).chat("ideation", "demo/hello", {"topic": "t"})
    assert len(scripted_llm.requests_for("demo/hello")) == attempts


def test_client_errors_are_not_retried(scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path) -> None:
    from agents.llm.redact import EndpointRejected

    scripted_llm.script("demo/hello", error(401, "bad key"))
    with pytest.raises(EndpointRejected, match="refused the call"):
        make_llm(llm_settings, tmp_path).chat("ideation", "demo/hello", {"topic": "t"})
    assert len(scripted_llm.requests_for("demo/hello")) == 1


def test_ledger_contents_and_cost(scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path) -> None:
    llm_settings.models.writer.price_in_per_mtok = 2.0
    llm_settings.models.writer.price_out_per_mtok = 10.0
    scripted_llm.script("demo/hello", text("x", prompt_tokens=1000, completion_tokens=100))
    llm = make_llm(llm_settings, tmp_path).bind(node="n7")
    llm.chat("writer", "demo/hello", {"topic": "t"})
    (rec,) = read_ledger(tmp_path / "llm_calls.jsonl")
    assert (rec.prompt, rec.role, rec.model, rec.endpoint)[:3] == ("demo/hello", "writer", "scripted-model")
    assert rec.endpoint.startswith("127.0.0.1:")
    assert (rec.tokens_in, rec.tokens_out) == (1000, 100)
    assert rec.cost_usd == pytest.approx(0.003)
    assert rec.context == {"stage": "test", "node": "n7"}
    assert rec.latency_s > 0
    assert summarize([rec], "stage")["test"].cost_usd == pytest.approx(0.003)
    # a new ledger on the same file (a resumed run) starts from what was already spent
    assert Ledger(tmp_path / "llm_calls.jsonl").totals().cost_usd == pytest.approx(0.003)


def test_budget_stops_before_sending(scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path) -> None:
    llm_settings.models.writer.price_in_per_mtok = 1000.0
    llm_settings.models.writer.price_out_per_mtok = 1000.0
    llm_settings.budget.max_usd = 1.6
    scripted_llm.script("demo/hello", text("x", prompt_tokens=1000, completion_tokens=500))
    llm = make_llm(llm_settings, tmp_path)
    llm.chat("writer", "demo/hello", {"topic": "t"}, max_tokens=100)  # $1.50 spent
    with pytest.raises(BudgetExceeded, match="raise budget.max_usd"):
        llm.chat("writer", "demo/hello", {"topic": "t"}, max_tokens=100)
    assert len(scripted_llm.requests) == 1  # the second call never left the process
    # raising the budget lets a resumed run continue with the same ledger
    llm_settings.budget.max_usd = 10.0
    scripted_llm.script("demo/hello", text("y"))
    assert make_llm(llm_settings, tmp_path).chat("writer", "demo/hello", {"topic": "t"}, max_tokens=100).content == "y"


def test_token_budget(scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path) -> None:
    llm_settings.budget.max_tokens = 50
    with pytest.raises(BudgetExceeded, match="token budget"):
        make_llm(llm_settings, tmp_path).chat("writer", "demo/hello", {"topic": "t"}, max_tokens=100)


def test_images_are_sent_as_data_urls(scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path) -> None:
    llm = make_llm(llm_settings, tmp_path)
    with pytest.raises(ConfigError, match="supports_images"):
        llm.chat("vlm", "demo/hello", {"topic": "t"}, images=[PNG])
    llm_settings.models.vlm.supports_images = True
    img = tmp_path / "fig.png"
    img.write_bytes(PNG)
    scripted_llm.script("demo/hello", text("looks fine"))
    llm.chat("vlm", "demo/hello", {"topic": "t"}, images=[img])
    content = scripted_llm.requests_for("demo/hello")[0].body["messages"][-1]["content"]
    assert content[0]["type"] == "text"
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_tool_calls_round_trip(scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path) -> None:
    tools = [{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}]
    scripted_llm.script("demo/hello", tool_calls([{"name": "search", "arguments": {"query": "warmup"}}]))
    reply = make_llm(llm_settings, tmp_path).chat("ideation", "demo/hello", {"topic": "t"}, tools=tools)
    assert reply.finish_reason == "tool_calls"
    assert reply.tool_calls[0].name == "search"
    assert reply.tool_calls[0].parsed_arguments() == {"query": "warmup"}
    assert json.loads(reply.assistant_message()["tool_calls"][0]["function"]["arguments"]) == {"query": "warmup"}
    assert scripted_llm.requests_for("demo/hello")[0].body["tools"] == tools


def test_missing_api_key_is_explained(llm_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agents.errors import ModelUnavailable

    monkeypatch.delenv("SHOAL_TEST_KEY", raising=False)
    llm_settings.models.writer.api_key_env = "SHOAL_TEST_KEY"
    with pytest.raises(ModelUnavailable, match="export SHOAL_TEST_KEY"):
        make_llm(llm_settings, tmp_path).chat("writer", "demo/hello", {"topic": "t"})


def test_loopback_endpoint_ignores_an_outside_proxy(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user's HTTP(S)_PROXY (here one that does not exist) must not swallow calls to a model on this machine."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    scripted_llm.script("demo/hello", text("direct"))
    assert make_llm(llm_settings, tmp_path).chat("ideation", "demo/hello", {"topic": "x"}).content == "direct"


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:8080/v1", True),
        ("http://localhost:11434/v1", True),
        ("http://[::1]:8000/v1", True),
        ("https://api.openai.com/v1", False),
        ("http://10.0.0.5:8000/v1", False),
    ],
)
def test_is_loopback(url: str, local: bool) -> None:
    from agents.llm.endpoints import is_loopback

    assert is_loopback(url) is local


def test_usage_comes_with_every_result_and_meters_do_not_mix(
    scripted_llm: ScriptedServer, llm_settings: Settings
) -> None:
    """Text replies carry their tokens and cost; structured answers come with the usage of all their rounds; a
    metered view counts only its own calls while other callers use the same ledger at the same time."""
    import threading

    class Answer(BaseModel):
        x: int

    scripted_llm.always("demo/hello", text("hi"))
    llm = LLM(llm_settings, Ledger(None))
    reply = llm.chat("ideation", "demo/hello", {"topic": "a"})
    assert reply.tokens_in > 0 and reply.tokens_out > 0
    scripted_llm.reset()
    scripted_llm.script("demo/hello", text("not json"), json_reply({"x": 1}))
    value, usage = llm.structured_with_usage("ideation", "demo/hello", Answer, {"topic": "t"})
    assert value.x == 1 and usage.calls >= 2 and usage.tokens_in > 0
    scripted_llm.always("demo/hello", text("hi"))
    mine, meter = llm.metered()
    others = [threading.Thread(target=lambda: llm.chat("ideation", "demo/hello", {"topic": "b"})) for _ in range(4)]
    for t in others:
        t.start()
    for _ in range(3):
        mine.bind(stage="x").chat("ideation", "demo/hello", {"topic": "c"})
    for t in others:
        t.join()
    assert meter.totals().calls == 3 and meter.requests == 3
    assert llm.ledger.totals().calls >= 3 + 4 + usage.calls + 1
