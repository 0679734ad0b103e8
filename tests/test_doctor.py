"""Doctor checks that depend on configuration: endpoints through the openai client, keys, disk."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from agents.doctor import check_disk, check_models, required_failures
from agents.settings import ROLES, load_settings
from agents.testing import ScriptedServer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _endpoint_settings(url: str, *extra: str):  # type: ignore[no-untyped-def]
    return load_settings(None, [f"models.{r}.base_url={url}" for r in ROLES] + list(extra))


def test_reachable_endpoint_is_ok(scripted_llm: ScriptedServer) -> None:
    checks = check_models(_endpoint_settings(scripted_llm.base_url))
    (check,) = checks  # one endpoint shared by all roles, no embedded check
    assert check.status == "ok"
    assert "coder" in check.detail


def test_unreachable_endpoint_fails() -> None:
    checks = check_models(_endpoint_settings(f"http://127.0.0.1:{_free_port()}/v1"))
    assert [c.status for c in checks] == ["fail"]
    assert required_failures(checks)


def test_missing_key_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    overrides = [f"models.{r}.api_key_env=NO_SUCH_KEY" for r in ROLES]
    (check,) = check_models(_endpoint_settings("http://127.0.0.1:9/v1", *overrides))
    assert check.status == "fail"
    assert "export NO_SUCH_KEY" in check.fix


def test_disk_check_walks_up_to_an_existing_dir(tmp_path: Path) -> None:
    check = check_disk(tmp_path / "not" / "yet" / "made", need_gb=0)
    assert check.status == "ok"
    assert check_disk(tmp_path, need_gb=1e9).status == "fail"
