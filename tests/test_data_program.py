"""Template mode with a directory: a multi-file program is one bundle that edits can change in any file, and
the node runs its entry point with every file beside it (real sandbox)."""

from __future__ import annotations

from pathlib import Path

import exp_support as S
import pytest

from agents.errors import UserInputError
from agents.experiments.executor import execute
from agents.experiments.inputs import read_baseline
from agents.experiments.journal import Node
from agents.experiments.patches import Edit, apply_edits, syntax_error
from agents.experiments.program import entry_point, extract_program, join_bundle, keep_missing_files, split_bundle

MAIN = "from model import fit\nfrom shoal_helper import log_metric\n\nlog_metric('loss', fit(), direction='minimize')\n"
MODEL = "SCALE = 2.0\n\n\ndef fit():\n    return 1.0 / SCALE\n"


def code_dir(tmp_path: Path) -> Path:
    d = tmp_path / "project"
    (d / "lib").mkdir(parents=True)
    (d / "main.py").write_text(MAIN)
    (d / "model.py").write_text(MODEL)
    (d / "lib" / "util.py").write_text("X = 1\n")
    (d / "config.json").write_text('{"lr": 0.1}\n')
    (d / "__pycache__").mkdir()
    (d / "__pycache__" / "x.pyc").write_bytes(b"\0")
    return d


def test_directory_becomes_a_bundle_with_the_entry_point_first(tmp_path: Path) -> None:
    bundle = read_baseline(code_dir(tmp_path))
    files = split_bundle(bundle)
    assert [n for n, _ in files] == ["main.py", "config.json", "lib/util.py", "model.py"]
    assert entry_point(bundle) == "main.py" and dict(files)["model.py"] == MODEL
    assert split_bundle(join_bundle(files)) == files
    assert syntax_error(bundle) is None
    broken = bundle.replace("return 1.0 / SCALE", "return (1.0 / SCALE")
    assert syntax_error(broken) == "SyntaxError: '(' was never closed (model.py line 5)"
    assert "relative path" in (syntax_error("# === file: ../evil.py ===\nx = 1\n") or "")
    assert split_bundle("x = 1\n") == [("code.py", "x = 1\n")]


def test_bad_code_directories(tmp_path: Path) -> None:
    d = tmp_path / "nocode"
    d.mkdir()
    (d / "notes.txt").write_text("hi")
    with pytest.raises(UserInputError, match=r"holds no \.py file"):
        read_baseline(d)
    (d / "a.py").write_text("x=1\n")
    (d / "b.py").write_text("x=2\n")
    with pytest.raises(UserInputError, match="no entry point; name it main.py"):
        read_baseline(d)
    (d / "weights.bin").write_bytes(b"\0\1")
    with pytest.raises(UserInputError, match="weights.bin is not a source or text file"):
        read_baseline(d)


def test_an_edit_may_touch_any_file_and_the_node_runs_it(tmp_path: Path) -> None:
    bundle = read_baseline(code_dir(tmp_path))
    edited = apply_edits(bundle, [Edit("SCALE = 2.0", "SCALE = 4.0")])
    assert dict(split_bundle(edited))["model.py"].startswith("SCALE = 4.0")
    run = tmp_path / "run"
    node = Node(id="n1", stage=1, kind="draft", code=edited)
    execute(S.sandbox(), run, node, 60)
    assert not node.is_buggy, node.bug_reason
    assert node.metric.primary is not None and node.metric.primary.values["default"] == 0.25
    d = run / "nodes" / "n1"
    assert (d / "lib" / "util.py").read_text() == "X = 1\n" and (d / "code.py").read_text() == edited


def test_a_rewrite_may_give_only_the_files_it_changes(tmp_path: Path) -> None:
    parent = read_baseline(code_dir(tmp_path))
    answer = (
        "PLAN: scale\n```python\n# === file: model.py ===\nSCALE = 8.0\n\n\ndef fit():\n    return 1.0 / SCALE\n```\n"
    )
    child = keep_missing_files(parent, extract_program(answer) or "")
    files = dict(split_bundle(child))
    assert entry_point(child) == "main.py" and files["model.py"].startswith("SCALE = 8.0")
    assert files["main.py"] == MAIN and set(files) == {"main.py", "model.py", "lib/util.py", "config.json"}
    two_blocks = (
        "```python\n# === file: main.py ===\nprint(1)\n```\ntext\n```python\n# === file: model.py ===\nX = 2\n```\n"
    )
    both = dict(split_bundle(keep_missing_files(parent, extract_program(two_blocks) or "")))
    assert both["main.py"] == "print(1)\n" and both["model.py"] == "X = 2\n" and "lib/util.py" in both
    plain = keep_missing_files(parent, "print('only the entry point')\n")
    assert dict(split_bundle(plain))["main.py"] == "print('only the entry point')\n"
    assert keep_missing_files("x = 1\n", "x = 2\n") == "x = 2\n"
