"""Pure parts of evolve mode: the EVOLVE-BLOCK contract, the edit formats, parent selection, the operator mix,
metrics.json checks."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from agents.evolve.blocks import BlockError, apply_answer, numbered, split_program
from agents.evolve.evaluation import parse_metrics
from agents.evolve.population import Population, ProgramRecord
from agents.evolve.selection import (
    choose_operator,
    migrants,
    power_law_probs,
    select_parent,
    weighted_probs,
)
from agents.experiments.patches import PatchError

ROOT = Path(__file__).resolve().parents[1]
PROG = "import math\n# EVOLVE-BLOCK-START\ndef f(x):\n    y = x + 1\n    return y\n# EVOLVE-BLOCK-END\nprint(f(1))\n"


def test_split_and_render_round_trip() -> None:
    p = split_program(PROG)
    assert p.blocks == ("def f(x):\n    y = x + 1\n    return y\n",)
    assert p.render() == PROG


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("x = 1\n", "no EVOLVE-BLOCK"),
        ("# EVOLVE-BLOCK-START\nx = 1\n", "without a matching EVOLVE-BLOCK-END"),
        ("# EVOLVE-BLOCK-END\n", "without a matching EVOLVE-BLOCK-START"),
        ("# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-END\n", "inside another block"),
    ],
)
def test_contract_errors(code: str, message: str) -> None:
    with pytest.raises(BlockError, match=message):
        split_program(code)


def test_rewrite_keeps_the_outside_even_when_the_model_copies_it() -> None:
    p = split_program(PROG)
    whole = "```python\n" + PROG.replace("x + 1", "x * 2").replace("print(f(1))", "print('changed')") + "```"
    out = apply_answer(p, whole, "rewrite")
    assert "x * 2" in out and "print(f(1))" in out and "changed" not in out
    out = apply_answer(p, "PLAN: p\n```python\ndef f(x):\n    return 3\n```", "rewrite")
    assert out == PROG.replace("    y = x + 1\n    return y\n", "    return 3\n")


def test_lines_format_replaces_numbered_lines_and_restores_indentation() -> None:
    p = split_program(PROG)
    assert numbered(p.blocks[0]).splitlines()[1] == "2|     y = x + 1"
    out = apply_answer(p, "PLAN: p\nLINES 2-2\n```python\ny = x + 41\n```", "lines")
    assert "    y = x + 41\n    return y" in out
    out = apply_answer(p, "LINES: 2 to 3\n```python\n2|     return x\n```", "lines")  # numbers copied: dropped
    assert "def f(x):\n    return x\n# EVOLVE-BLOCK-END" in out
    for bad, why in [("LINES 7-9\n```python\nx\n```", "the block has lines 1-3"), ("```python\nx\n```", "no 'LINES")]:
        with pytest.raises(PatchError, match=why):
            apply_answer(p, bad, "lines")


def test_diff_format_only_inside_blocks() -> None:
    p = split_program(PROG)
    out = apply_answer(p, "<<<<<<< SEARCH\n    y = x + 1\n=======\n    y = x + 2\n>>>>>>> REPLACE\n", "diff")
    assert "x + 2" in out
    with pytest.raises(PatchError, match="inside the EVOLVE-BLOCK"):
        apply_answer(p, "<<<<<<< SEARCH\nprint(f(1))\n=======\nprint(2)\n>>>>>>> REPLACE\n", "diff")


def test_weighted_selection_formula() -> None:
    # scores 1, 2, 3: median 2, MAD 1; lambda 1: sigmoid(-1), sigmoid(0), sigmoid(1); children 0, 1, 3
    probs = weighted_probs([1.0, 2.0, 3.0], [0, 1, 3], 1.0)
    import math

    raw = [1 / (1 + math.exp(1)) / 1, 0.5 / 2, 1 / (1 + math.exp(-1)) / 4]
    assert probs == pytest.approx([r / sum(raw) for r in raw])
    assert weighted_probs([5.0, 5.0], [0, 0], 10.0) == pytest.approx([0.5, 0.5])  # MAD 0 is floored
    assert power_law_probs(3, 1.0) == pytest.approx([6 / 11, 3 / 11, 2 / 11])


def _pop(tmp_path: Path, scores: list[float], islands: int = 2) -> Population:
    pop = Population(tmp_path, islands, 10)
    for i, s in enumerate(scores):
        rec = ProgramRecord(id=f"p{i:04d}", kind="rewrite" if i else "initial", island=i % islands,
                            combined_score=s, correct=True, parent="p0000" if i else None)  # fmt: skip
        pop.add(rec, PROG)
    return pop


def test_selection_policies_and_migration(tmp_path: Path) -> None:
    pop = _pop(tmp_path, [1.0, 5.0, 2.0, 9.0, 3.0])
    rng = random.Random(0)
    assert select_parent(pop, 1, "hill_climbing", rng, 10.0, 1.0) == "p0003"
    picks = [select_parent(pop, 0, "power_law", rng, 10.0, 1.0) for _ in range(600)]
    assert picks.count("p0004") > picks.count("p0002") > picks.count("p0000")  # island 0 ranks 3.0, 2.0, 1.0
    # the best of island 1 moves to island 0 and the best of island 0 to island 1, once
    moves = {(p.id, dst) for p, dst in migrants(pop, 1)}
    assert moves == {("p0003", 0), ("p0004", 1)}
    reloaded = Population.load(tmp_path, 2, 10)
    assert set(reloaded.programs) == set(pop.programs) and reloaded.children["p0000"] == 4


def test_operator_mix_adapts_to_success() -> None:
    rng = random.Random(1)
    stats = {"rewrite": (10, 9), "diff": (10, 0)}
    picks = [choose_operator({"rewrite": 0.5, "diff": 0.5}, stats, False, rng) for _ in range(500)]
    assert picks.count("rewrite") > 4 * picks.count("diff")
    assert "crossover" not in {choose_operator({"crossover": 1.0, "lines": 0.1}, {}, False, rng) for _ in range(50)}


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{oops", "not valid JSON"),
        ("[1]", "must hold a JSON object"),
        (json.dumps({"combined_score": "high"}), "must be a finite number"),
        (json.dumps({"combined_score": float("nan")}), "must be a finite number"),
        (json.dumps({"combined_score": 1, "correct": "yes"}), "'correct' must be true or false"),
        (json.dumps({"combined_score": 1, "public": [1]}), "'public' must be an object"),
    ],
)
def test_metrics_json_checks(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "metrics.json"
    path.write_text(content)
    ev, why = parse_metrics(path)
    assert ev is None and problem in why


def test_invalid_candidate_may_omit_the_score(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"correct": False, "error": "overlap"}))
    ev, _ = parse_metrics(path)
    assert ev is not None and not ev.correct and ev.combined_score == 0.0 and ev.error == "overlap"


def test_a_block_that_drops_a_function_the_program_uses_is_refused() -> None:
    from agents.evolve.blocks import lost_names

    p = split_program(PROG)
    assert lost_names(p, apply_answer(p, "```python\ndef g(x):\n    return x\n```", "rewrite")) == ["f"]
    assert lost_names(p, apply_answer(p, "```python\ndef f(x):\n    return x\n```", "rewrite")) == []


TWO = (
    "a = 1\n# EVOLVE-BLOCK-START\nx = 1\n# EVOLVE-BLOCK-END\n"
    "b = 2\n# EVOLVE-BLOCK-START\ny = 2\nz = 3\n# EVOLVE-BLOCK-END\n"
)


def test_two_blocks_in_every_format() -> None:
    p = split_program(TWO)
    assert p.blocks == ("x = 1\n", "y = 2\nz = 3\n")
    out = apply_answer(p, "```python\nx = 10\n```\n```python\ny = 20\nz = 30\n```", "rewrite")
    assert out == TWO.replace("x = 1", "x = 10").replace("y = 2", "y = 20").replace("z = 3", "z = 30")
    with pytest.raises(PatchError, match="expected 2 fenced code blocks"):
        apply_answer(p, "```python\nx = 10\n```", "rewrite")
    assert "z = 33" in apply_answer(p, "LINES 3-3\n```python\nz = 33\n```", "lines")  # numbering runs on
    with pytest.raises(PatchError, match="within one block"):
        apply_answer(p, "LINES 1-2\n```python\nq = 0\n```", "lines")
    assert "y = 7" in apply_answer(p, "<<<<<<< SEARCH\ny = 2\n=======\ny = 7\n>>>>>>> REPLACE\n", "diff")


def test_a_helper_the_new_lines_still_call_is_kept_from_the_parent() -> None:
    """The embedded model's LINES answer replaced the block's first 27 lines, which held the helper its new lines
    call: the parent's definition goes back into the block, so the program runs instead of dying of a NameError."""
    from agents.evolve.blocks import restore_definitions

    initial = (ROOT / "examples" / "circle_packing" / "initial.py").read_text()
    p = split_program(initial)
    n_lines = len(p.blocks[0].splitlines())
    answer = (
        f"LINES 1-{n_lines}\n```python\ndef construct_packing():\n    centers = np.full((N, 2), 0.5)\n"
        "    centers[:, 0] = np.linspace(0.1, 0.9, N)\n    radii = compute_max_radii(centers)\n"
        "    return centers, radii\n```\n"
    )
    code = apply_answer(p, answer, "lines")
    assert "def compute_max_radii" not in code
    fixed, restored = restore_definitions(p, code)
    assert restored == ["compute_max_radii"]
    new = split_program(fixed)
    assert new.parts == p.parts and "def compute_max_radii(centers):" in new.blocks[0]
    namespace: dict[str, object] = {}
    exec(compile(fixed, "program.py", "exec"), namespace)
    _centers, radii = namespace["construct_packing"]()  # type: ignore[operator]
    assert len(radii) == 26 and float(sum(radii)) > 0
    assert restore_definitions(p, fixed) == (fixed, [])  # nothing twice
    dropped_unused = apply_answer(p, "```python\ndef construct_packing():\n    return 1, 2\n```", "rewrite")
    assert restore_definitions(p, dropped_unused) == (dropped_unused, [])  # not used any more: not restored


def test_a_restored_helper_brings_back_the_helpers_it_calls() -> None:
    """An embedded-model repair answer kept only an unrelated class in the block: the code outside the block
    calls construct_packing, which calls compute_max_radii; both go back (the first alone died of a NameError)."""
    from agents.evolve.blocks import restore_definitions

    initial = (ROOT / "examples" / "circle_packing" / "initial.py").read_text()
    p = split_program(initial)
    answer = (
        "```python\n# EVOLVE-BLOCK-START\n\nclass Program:\n    def evaluate(self, program):\n"
        "        return program.run_packing()\n\n# EVOLVE-BLOCK-END\n```"
    )
    code = apply_answer(p, answer, "rewrite")
    assert "def construct_packing" not in code and "def compute_max_radii" not in code
    fixed, restored = restore_definitions(p, code)
    assert sorted(restored) == ["compute_max_radii", "construct_packing"]
    namespace: dict[str, object] = {}
    exec(compile(fixed, "program.py", "exec"), namespace)
    _centers, radii, total = namespace["run_packing"]()  # type: ignore[operator]
    assert len(radii) == 26 and total > 0


def test_a_marker_line_inside_new_code_cannot_break_the_blocks() -> None:
    """Seen on the embedded model: a diff's REPLACE text ended with a copied `# EVOLVE-BLOCK-END`; the program
    then had two END markers and the next step crashed the run. Marker lines never reach a block's body."""
    p = split_program(PROG)
    answer = "<<<<<<< SEARCH\n    y = x + 1\n=======\n    y = x + 2\n# EVOLVE-BLOCK-END\n>>>>>>> REPLACE\n"
    code = apply_answer(p, answer, "diff")
    new = split_program(code)
    assert new.parts == p.parts and "y = x + 2" in new.blocks[0] and "EVOLVE-BLOCK" not in new.blocks[0]
    body = "x = 1  # EVOLVE-BLOCK-START copied\ny = 2\n"
    assert split_program(p.render((body,))).blocks == ("y = 2\n",)
