"""What ``shoal experiments`` is given: an idea (from a run's ``ideas.json`` or a file), a stage range, a baseline
program; each problem is one ``UserInputError`` with the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agents.errors import UserInputError
from agents.ideation.schema import Idea
from agents.rundir import RunDir
from agents.textfile import read_user_text


def parse_stages(text: str) -> tuple[int, int]:
    """``"1-4"`` -> (1, 4), ``"1"`` -> (1, 1), ``"2-3"`` -> (2, 3)."""
    parts = text.strip().split("-")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        nums = []
    if len(nums) == 1:
        nums = nums * 2
    if len(nums) != 2 or not (1 <= nums[0] <= nums[1] <= 4):
        raise UserInputError(f"--stages {text!r}: give a stage or a range between 1 and 4, e.g. 1-4, 1 or 2-3")
    return nums[0], nums[1]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(read_user_text(path, "idea file"))
    except json.JSONDecodeError as exc:
        raise UserInputError(f"{path} is not valid JSON: {exc}") from exc


def _validate(data: Any, where: str) -> Idea:
    try:
        return Idea.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise UserInputError(f"{where} is not a valid idea ({problems})") from exc


def _pick(ideas: list[Any], name: str | None, where: str) -> Idea:
    parsed = [_validate(i, f"{where} entry {k + 1}") for k, i in enumerate(ideas)]
    if not parsed:
        raise UserInputError(f"{where} holds no ideas")
    if name is None:
        if len(parsed) == 1:
            return parsed[0]
        names = ", ".join(i.name for i in parsed)
        raise UserInputError(f"{where} holds {len(parsed)} ideas; choose one with #name (one of: {names})")
    for idea in parsed:
        if idea.name == name:
            return idea
    raise UserInputError(f"no idea named {name!r} in {where} (names: {', '.join(i.name for i in parsed)})")


def load_idea_ref(ref: str) -> tuple[Path, Idea]:
    """``RUN/ideas.json#name`` -> (run directory, idea)."""
    path_text, _, name = ref.partition("#")
    path = Path(path_text)
    if path.is_dir():
        path = RunDir(path).ideas_path
    data = _read_json(path)
    ideas = data.get("ideas") if isinstance(data, dict) else None
    if not isinstance(ideas, list):
        raise UserInputError(f'{path} has no "ideas" list')
    return path.parent, _pick(ideas, name or None, str(path))


def load_idea_file(path: Path) -> Idea:
    """One idea as JSON (an Idea object, or ``{"ideas": [...]}`` with one entry, or ``file.json#name``)."""
    text = str(path)
    name = None
    if "#" in text and not path.exists():
        text, _, name = text.partition("#")
        path = Path(text)
    data = _read_json(path)
    if isinstance(data, dict) and isinstance(data.get("ideas"), list):
        return _pick(data["ideas"], name, str(path))
    return _validate(data, str(path))


def read_baseline(path: Path) -> str:
    """The user's program for template mode: one file, or a directory (several files, entry point main.py)."""
    if path.is_dir():
        from agents.experiments.program import read_program_dir

        return read_program_dir(path)
    code = read_user_text(path, "--code-to-use")
    if not code.strip():
        raise UserInputError(f"--code-to-use {path} is empty")
    return code
