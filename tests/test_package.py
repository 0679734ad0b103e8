"""Packaging traps: ``agents`` must be this repository's package, and templates must be found."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

import agents
import reviewer
from agents.prompts import prompt_environment, templates_root

REPO = Path(__file__).resolve().parents[1]


def test_agents_is_this_repository() -> None:
    # `agents` is also the import name of openai-agents; we must never import that one.
    assert Path(agents.__file__).resolve().is_relative_to(REPO)
    assert Path(reviewer.__file__).resolve().is_relative_to(REPO)


def test_templates_are_found() -> None:
    assert templates_root() == REPO / "templates"


def test_every_prompt_template_parses() -> None:
    env = prompt_environment()
    names = [n for n in env.list_templates() if n.endswith(".md.j2")]
    assert "demo/hello.md.j2" in names
    for name in names:
        env.get_template(name)  # raises on syntax errors


def test_strict_undefined() -> None:
    from agents.prompts import render_messages

    try:
        render_messages("demo/hello", {})
    except jinja2.UndefinedError as exc:
        assert "topic" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a missing variable must raise")


def test_shared_data_dir_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agents.testing import shared_data

    monkeypatch.setattr(shared_data, "_REPO", tmp_path / "repo")
    monkeypatch.delenv(shared_data.ENV_VAR, raising=False)
    assert shared_data.shared_data_dir() == tmp_path / "shared" / "data"  # none exists: names the last candidate
    (tmp_path / "shared" / "data").mkdir(parents=True)
    assert shared_data.shared_data_dir() == tmp_path / "shared" / "data"  # beside the checkout
    (tmp_path / "repo" / "shared" / "data").mkdir(parents=True)
    assert shared_data.shared_data_dir() == tmp_path / "repo" / "shared" / "data"  # inside wins
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv(shared_data.ENV_VAR, str(tmp_path / "elsewhere"))
    assert shared_data.shared_data_dir() == tmp_path / "elsewhere"  # the variable wins
