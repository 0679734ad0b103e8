"""The three shipped evolve tasks: each evaluator, run in the real sandbox on its initial program, gives the
documented score; the circle-packing evaluator rejects an overlapping packing."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.evolve.api import check_inputs
from agents.evolve.evaluation import check_initial, evaluate
from agents.sandbox import make_sandbox
from agents.settings import load_settings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(
    ("task", "score"),
    [("circle_packing", 0.9597642), ("preference_loss", 0.745), ("model_merging", 0.9370277)],
)
def test_initial_programs_score_as_documented(task: str, score: float, tmp_path: Path) -> None:
    prog, ev = EXAMPLES / task / "initial.py", EXAMPLES / task / "evaluate.py"
    code = check_inputs(prog, ev)
    settings = load_settings(EXAMPLES / task / "shoal.toml", ["sandbox.backend=local"], workspace=tmp_path)
    result = evaluate(make_sandbox(settings.sandbox), tmp_path / "w", code, ev, 120)
    assert check_initial(result, ev, 120) is None, result.error
    assert result.combined_score == pytest.approx(score, abs=1e-6)
    assert (EXAMPLES / task / "README.md").is_file()


def test_circle_packing_rejects_overlap(tmp_path: Path) -> None:
    prog, ev = EXAMPLES / "circle_packing" / "initial.py", EXAMPLES / "circle_packing" / "evaluate.py"
    code = prog.read_text().replace("radii = compute_max_radii(centers)", "radii = compute_max_radii(centers) + 1e-8")
    result = evaluate(
        make_sandbox(load_settings(None, ["sandbox.backend=local"]).sandbox), tmp_path / "w", code, ev, 60
    )
    assert not result.correct
    assert "overlap" in result.error or "outside the unit square" in result.error
