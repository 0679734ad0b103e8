"""Configured keys never reach a run file, even when an endpoint echoes them; a refused call is one message."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.cli.main import app
from agents.errors import ModelCallError
from agents.llm import LLM, Ledger
from agents.llm.redact import EndpointRejected, redact
from agents.settings import ROLES, Settings, load_settings
from agents.testing.replies import error
from agents.testing.scripted_server import ScriptedServer

KEY = "sk-live-0123456789abcdefSECRET"
runner = CliRunner()


def _overrides(server: ScriptedServer) -> list[str]:
    out = [f"models.{r}.base_url={server.base_url}" for r in ROLES]
    out += [f'models.{r}.model="scripted-model"' for r in ROLES]
    out += [f'models.{r}.api_key_env="SHOAL_TEST_KEY"' for r in ROLES]
    return [*out, "llm.backoff_base_s=0", "llm.backoff_max_s=0", "llm.max_retries=1"]


@pytest.fixture
def keyed(scripted_llm: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SHOAL_TEST_KEY", KEY)
    return load_settings(None, _overrides(scripted_llm), workspace=tmp_path / "ws", cache_dir=tmp_path / "cache")


def _all_text(root: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_a_refusal_names_role_endpoint_and_fix_without_the_key(
    status: int, scripted_llm: ScriptedServer, keyed: Settings, tmp_path: Path
) -> None:
    scripted_llm.script("demo/hello", error(status, f"Incorrect API key provided: {KEY}. You passed {KEY[:14]}..."))
    llm = LLM(keyed, Ledger(tmp_path / "llm_calls.jsonl"))
    with pytest.raises(EndpointRejected) as info:
        llm.chat("ideation", "demo/hello", {"topic": "t"})
    message = str(info.value)
    assert scripted_llm.requests_for("demo/hello")[0].headers["authorization"] == f"Bearer {KEY}"  # it was sent
    assert KEY not in message and KEY[:12] not in message and "<redacted>" in message
    assert "role 'ideation'" in message and scripted_llm.base_url in message and "check" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert {401: "$SHOAL_TEST_KEY", 404: "base_url", 403: "may use model", 400: "max_tokens"}[status] in message
    assert len(scripted_llm.requests_for("demo/hello")) == 1  # not retried
    assert KEY not in (tmp_path / "llm_calls.jsonl").read_text()


def test_retried_server_errors_are_redacted(scripted_llm: ScriptedServer, keyed: Settings, tmp_path: Path) -> None:
    scripted_llm.script("demo/hello", error(500, f"upstream said key={KEY}"), error(500, f"key={KEY}"))
    with pytest.raises(ModelCallError) as info:
        LLM(keyed, Ledger(tmp_path / "calls.jsonl")).chat("ideation", "demo/hello", {"topic": "t"})
    assert KEY not in str(info.value) and info.value.__cause__ is None


def test_cli_prints_one_message_and_no_run_file_holds_the_key(
    scripted_llm: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOAL_TEST_KEY", KEY)
    scripted_llm.script("demo/hello", error(401, f"Incorrect API key provided: {KEY}"))
    args = [arg for o in _overrides(scripted_llm) for arg in ("--set", o)]
    result = runner.invoke(app, ["--workspace", str(tmp_path / "ws"), *args, "demo"])
    assert result.exit_code == 2
    output = " ".join(result.output.split())  # rich wraps long lines
    assert "Traceback" not in output and KEY not in output and KEY[:12] not in output
    assert "refused the call (401: Incorrect API key provided: <redacted>)" in output and "SHOAL_TEST_KEY" in output
    assert KEY not in _all_text(tmp_path / "ws")


def test_redact_masks_whole_and_partly_echoed_values() -> None:
    assert redact(f"a {KEY} b {KEY[:15]}...", [KEY]) == f"a <redacted> b <redacted>{KEY[12:15]}..."
    assert redact("nothing here", [KEY]) == "nothing here"
