"""Second readings of answers that do not compile: a rewrite cut at the token cap, line edits that lost their
indentation (agents/evolve/salvage.py), read through the proposer and, end to end, through the engine."""

from __future__ import annotations

import json
from pathlib import Path

from agents.evolve.blocks import split_program
from agents.evolve.proposer import Proposer
from agents.evolve.salvage import cut_tail, reindented
from agents.testing import text, truncated
from tests.evolve_support import one_rewrite_sample

PARENT = """import numpy as np
# EVOLVE-BLOCK-START
def build():
    xs = np.zeros(3)
    for i in range(3):
        xs[i] = i
    return helper(xs)


def helper(xs):
    return float(xs.sum())
# EVOLVE-BLOCK-END
print(build())
"""

CUT = """PLAN: spread the points
```python
def build():
    xs = np.ones(3)
    for i in range(3):
        xs[i] = 2 * i
    return helper(xs)


def helper(xs):
    total = np.sum([xs[0], xs[1],
"""


def _proposer() -> Proposer:
    return Proposer.__new__(Proposer)  # _apply needs neither settings nor a model


def _run(code: str) -> str:
    scope: dict[str, object] = {"print": lambda *a: scope.setdefault("out", a[0])}
    exec(compile(code, "<program>", "exec"), scope)
    return str(scope["out"])


def test_a_rewrite_cut_at_the_cap_loses_its_broken_tail_and_gets_the_parents_helper_back() -> None:
    code, fmt, reading = _proposer()._apply(split_program(PARENT), CUT, "rewrite")
    assert (fmt, reading) == ("rewrite", "cut-tail")
    assert "xs = np.ones(3)" in code and "xs[i] = 2 * i" in code  # the new part is kept
    assert "return float(xs.sum())" in code and "total = " not in code  # the parent's helper, not the cut one
    assert _run(code) == "6.0"


def test_a_syntax_error_before_the_last_statement_is_not_cut_away() -> None:
    broken = PARENT.replace("    for i in range(3):\n", "    for i in range(3)\n")
    assert cut_tail(split_program(PARENT), broken) is None


def test_a_cut_that_leaves_nothing_is_refused() -> None:
    only = PARENT.replace("def helper(xs):\n    return float(xs.sum())\n", "").replace(
        "    return helper(xs)\n", "    return helper(xs\n"
    )
    assert cut_tail(split_program(PARENT), only) is None


def test_flat_line_edits_take_the_indentation_of_the_same_lines_in_the_block() -> None:
    answer = "PLAN: twice\nLINES 2-4\n```python\nxs = np.zeros(3)\nfor i in range(3):\nxs[i] = 2 * i\n```"
    code, fmt, reading = _proposer()._apply(split_program(PARENT), answer, "lines")
    assert (fmt, reading) == ("lines", "reindented")
    assert "    for i in range(3):\n        xs[i] = 2 * i\n" in code
    assert _run(code) == "6.0"


def test_new_flat_lines_go_one_level_deeper_after_a_colon() -> None:
    block = ["def f():", "    a = 1", "    return a"]
    out = next(reindented(["if a:", "a = 2"], ["    a = 1"], block, 1))
    assert out == ["    if a:", "        a = 2"]


def test_lines_written_at_a_loop_bodys_depth_are_shifted_to_the_lines_they_replace() -> None:
    answer = "LINES 2-2\n```python\n        xs = np.full(3, 2.0)\n        xs[0] = 0\n```"
    code, _, reading = _proposer()._apply(split_program(PARENT), answer, "lines")
    assert reading == "reindented"
    assert "\n    xs = np.full(3, 2.0)\n    xs[0] = 0\n" in code


def test_the_engine_records_the_second_reading_and_evaluates_the_program(tmp_path: Path) -> None:
    cut = "PLAN: more\n```python\ndef value():\n    base = 9\n    return base\n\n\ndef spare(x):\n    return [x,\n"
    run, outcome, repairs = one_rewrite_sample(tmp_path, text(cut))
    assert repairs == []
    samples = [json.loads(x) for x in (run.evolve_dir / "samples.jsonl").read_text().splitlines() if x.strip()]
    assert samples[0]["second_reading"] == "cut-tail" and samples[0]["correct"] is True
    assert outcome.stats["best"] == 9.0


def test_the_repair_of_an_answer_cut_at_the_cap_asks_for_shorter_code(tmp_path: Path) -> None:
    cut = truncated("PLAN: more\n```python\ndef value(:\n    base = 9\n", keep=None)
    _, outcome, repairs = one_rewrite_sample(
        tmp_path, cut, text("PLAN: fixed\n```python\ndef value():\n    return 8\n```")
    )
    assert len(repairs) == 1
    assert "cut off at the length limit" in repairs[0].messages[-1]["content"]
    assert outcome.stats["best"] == 8.0


def test_a_line_range_running_past_the_block_stops_at_its_end() -> None:
    answer = "LINES 8-14\n```python\ndef helper(xs):\n    return float(xs.sum()) + 1\n```"
    code, fmt, _ = _proposer()._apply(split_program(PARENT), answer, "lines")
    assert fmt == "lines" and _run(code) == "4.0"
    assert code.endswith("# EVOLVE-BLOCK-END\nprint(build())\n")
