"""Run directories: layout, resolved settings, events, bad paths."""

from __future__ import annotations

import json
import tomllib
from datetime import datetime
from pathlib import Path

import pytest

from agents.errors import UserInputError
from agents.rundir import create_run, open_run, slugify
from agents.settings import load_settings


def test_create_run_writes_resolved_settings(tmp_path: Path) -> None:
    settings = load_settings(None, ["budget.max_usd=1.5"], workspace=tmp_path / "ws")
    run = create_run(settings, "Warm-up schedules: do they matter?", now=datetime(2026, 1, 2, 3, 4, 5))
    assert run.path.name == "20260102-030405-warm-up-schedules-do-they-matter"
    data = tomllib.loads(run.config_path.read_text())
    assert data["budget"]["max_usd"] == 1.5
    again = create_run(settings, "Warm-up schedules: do they matter?", now=datetime(2026, 1, 2, 3, 4, 5))
    assert again.path != run.path  # never reuse a directory
    run.event("stage_started", stage="ideation")
    (line,) = run.events_path.read_text().splitlines()
    assert json.loads(line)["stage"] == "ideation"
    assert open_run(run.path).path == run.path


def test_open_run_rejects_non_runs(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="does not exist"):
        open_run(tmp_path / "nope")
    with pytest.raises(UserInputError, match="not a Shoal run"):
        open_run(tmp_path)


@pytest.mark.parametrize(("text", "slug"), [("", "run"), ("!!!", "run"), ("GANs & VAEs", "gans-vaes")])
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug
