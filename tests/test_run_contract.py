"""The run contract: only ``agents/rundir.py`` spells the run directory's file names; the chosen idea is decided
once and validated."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from agents.errors import UserInputError
from agents.rundir import create_run
from agents.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
RUN_FILES = (
    "journal.json", "ideas.json", "topic.json", "chosen_idea.json", "idea.md", "captions.json", "run.json",
    "report.html", "baseline.py", "config.resolved.toml", "checkpoints.sqlite", "findings.json",
)  # fmt: skip
RUN_FOLDERS = ("nodes", "figures", "paper", "reviews", "ideas", "pipeline")
FILE_LITERAL = re.compile(r"(^|/)(" + "|".join(re.escape(n) for n in RUN_FILES) + r")($|[/#])|^(nodes|paper)/")


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def run_path_literals(path: Path) -> list[str]:
    """String literals (not docstrings) naming a run file, and ``x / "nodes"``-style joins of a run folder."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        literal = isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
        if literal and FILE_LITERAL.search(node.value) and not re.search(r"\s", node.value):  # prose: no path
            found.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value!r}")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            right = node.right
            if isinstance(right, ast.Constant) and right.value in RUN_FOLDERS:
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: / {right.value!r}")
    return found


def test_no_run_path_is_spelled_outside_rundir() -> None:
    files = [p for d in ("agents", "reviewer") for p in sorted((REPO / d).rglob("*.py"))]
    assert len(files) > 50
    found = [hit for p in files if p != REPO / "agents" / "rundir.py" for hit in run_path_literals(p)]
    assert not found, "run paths built by hand (use agents.rundir.RunDir):\n" + "\n".join(found)


def test_the_check_catches_a_hand_built_path(tmp_path: Path) -> None:
    bad = REPO / "agents" / "_contract_probe_tmp.py"
    bad.write_text('"""Doc names journal.json."""\nP = run / "nodes" / "x"\nQ = "figures/captions.json"\n')
    try:
        hits = run_path_literals(bad)
    finally:
        bad.unlink()
    assert len(hits) == 2 and "journal.json" not in " ".join(hits)


def _ideas(n: int) -> list[dict]:
    from ideation_helpers import LABEL_SMOOTHING, WARMUP

    return [WARMUP, LABEL_SMOOTHING][:n]


def test_choose_idea_is_validated_and_fixed_once_experiments_start(tmp_path: Path) -> None:
    from agents.ideation.schema import Idea

    run = create_run(load_settings(None, workspace=tmp_path), "t")
    ideas = [Idea.model_validate({**i, "topic": "t"}) for i in _ideas(2)]
    run.write_ideas({"ideas": [i.model_dump(mode="json") for i in ideas], "chosen": ideas[0].name})
    with pytest.raises(UserInputError, match="no chosen idea"):
        run.chosen_idea()
    with pytest.raises(UserInputError, match=f"no idea named 'nope'.*{ideas[1].name}"):
        run.choose_idea("nope")
    assert not run.chosen_idea_path.exists() and not run.idea_md_path.exists()  # nothing written
    assert run.choose_idea(ideas[1].name).name == ideas[1].name
    assert run.chosen_idea().title == ideas[1].title
    assert run.idea_md_path.read_text().startswith(f"# {ideas[1].title}")
    run.journal_path.write_text(json.dumps({"nodes": []}))  # the experiments started: the choice is fixed
    with pytest.raises(UserInputError, match="already runs the idea"):
        run.choose_idea(ideas[0].name)
    assert run.chosen_idea().name == ideas[1].name
