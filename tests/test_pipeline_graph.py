"""Graph wiring and the runner: order, checkpoints, resume after a failure, approval interrupts, revisions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agents.errors import BudgetExceeded, UserInputError
from agents.pipeline.graph import StageFns
from agents.pipeline.runner import drive, read_info
from agents.pipeline.state import PipelineState
from agents.rundir import create_run
from agents.settings import load_settings


class Recorder:
    """Stage functions that log each call to a file in the run dir, so re-runs are visible."""

    def __init__(self, path: Path, fail_once: str | None = None, budget_once: str | None = None) -> None:
        self.path = path
        self.fail_once = fail_once
        self.budget_once = budget_once

    def calls(self) -> list[str]:
        return self.path.read_text().split() if self.path.exists() else []

    def stage(self, name: str, result: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
        def fn(state: PipelineState) -> dict[str, Any]:
            with self.path.open("a") as fh:
                fh.write(name + "\n")
            if self.fail_once == name:
                self.fail_once = None
                raise RuntimeError(f"{name} crashed")
            if self.budget_once == name:
                self.budget_once = None
                raise BudgetExceeded("budget", spent_usd=1.0, spent_tokens=10)
            if name == "review":
                rounds = state.get("revision_round", 0)
                return {"revision_requests": ["shorten"] if rounds < 1 else [], "revision_round": rounds + 1}
            return result or {}

        return fn

    def fns(self) -> StageFns:
        return StageFns(
            ideation=self.stage("ideation"),
            choose_idea=self.stage("choose_idea", {"idea_name": "best_idea"}),
            experiments=self.stage("experiments"),
            figures=self.stage("figures"),
            writeup=self.stage("writeup"),
            review=self.stage("review"),
            report=self.stage("report"),
        )


INPUTS: PipelineState = {"topic": "t", "num_ideas": 1, "max_revisions": 1, "revision_round": 0, "approve": []}


def _run(tmp_path: Path):  # type: ignore[no-untyped-def]
    return create_run(load_settings(None, workspace=tmp_path / "ws"), "t")


def test_full_order_with_one_revision_round(tmp_path: Path) -> None:
    run = _run(tmp_path)
    rec = Recorder(run.file("calls.txt"))
    out = drive(run, rec.fns(), dict(INPUTS))  # type: ignore[arg-type]
    assert out.status == "done"
    assert rec.calls() == [
        "ideation", "choose_idea", "experiments", "figures", "writeup", "review", "writeup", "review", "report",
    ]  # fmt: skip
    assert read_info(run).status == "done"  # type: ignore[union-attr]
    assert run.checkpoint_path.is_file()
    assert "stage_finished" in run.events_path.read_text()


def test_resume_after_failure_redoes_nothing_finished(tmp_path: Path) -> None:
    run = _run(tmp_path)
    rec = Recorder(run.file("calls.txt"), fail_once="figures")
    with pytest.raises(RuntimeError):
        drive(run, rec.fns(), dict(INPUTS))  # type: ignore[arg-type]
    assert read_info(run).status == "failed"  # type: ignore[union-attr]
    out = drive(run, rec.fns(), None)
    assert out.status == "done"
    calls = rec.calls()
    assert calls.count("ideation") == 1 and calls.count("experiments") == 1
    assert calls.count("figures") == 2  # the failed attempt and the resumed one


def test_budget_stop_then_resume(tmp_path: Path) -> None:
    run = _run(tmp_path)
    rec = Recorder(run.file("calls.txt"), budget_once="writeup")
    with pytest.raises(BudgetExceeded):
        drive(run, rec.fns(), dict(INPUTS))  # type: ignore[arg-type]
    assert read_info(run).status == "stopped"  # type: ignore[union-attr]
    assert drive(run, rec.fns(), None).status == "done"
    assert rec.calls().count("experiments") == 1


def test_approval_interrupt(tmp_path: Path) -> None:
    """The choice step pauses for approval; a wrong name is one error that changes nothing; another idea can be
    picked."""
    from ideation_helpers import LABEL_SMOOTHING, WARMUP

    from agents.pipeline.stages import choose_idea_stage

    run = _run(tmp_path)
    run.write_ideas({"ideas": [WARMUP, LABEL_SMOOTHING]})
    first, second = (i.name for i in run.ideas()[0])
    rec = Recorder(run.file("calls.txt"))

    def choose(state: PipelineState) -> dict[str, Any]:
        approve = "ideas" in (state.get("approve") or [])
        return {"idea_name": choose_idea_stage(run, state.get("idea_name"), approve=approve)}

    fns = StageFns(**{**rec.fns().__dict__, "choose_idea": choose})
    out = drive(run, fns, {**INPUTS, "approve": ["ideas"]})  # type: ignore[arg-type]
    assert out.status == "awaiting-approval"
    assert out.pending_question == {"question": "approve the chosen idea", "idea_name": first, "ideas": [first, second]}
    assert "experiments" not in rec.calls() and not run.chosen_idea_path.exists()
    with pytest.raises(UserInputError, match="no idea named 'typo'"):
        run.idea("typo")  # what `shoal resume --idea typo` checks before it touches the run
    out = drive(run, fns, None, approval_answer=second)
    assert out.status == "done"
    assert run.chosen_idea().name == second


def test_a_wrong_idea_at_the_start_is_fixed_on_resume(tmp_path: Path) -> None:
    """`shoal run --idea typo`: the choice step fails with one message and writes nothing; `shoal resume --idea
    NAME` runs the choice again with the right name."""
    from ideation_helpers import LABEL_SMOOTHING, WARMUP

    from agents.pipeline.stages import choose_idea_stage

    run = _run(tmp_path)
    run.write_ideas({"ideas": [WARMUP, LABEL_SMOOTHING]})
    second = run.ideas()[0][1].name
    rec = Recorder(run.file("calls.txt"))

    def choose(state: PipelineState) -> dict[str, Any]:
        return {"idea_name": choose_idea_stage(run, state.get("idea_name"), approve=False)}

    fns = StageFns(**{**rec.fns().__dict__, "choose_idea": choose})
    with pytest.raises(UserInputError, match="no idea named 'typo'"):
        drive(run, fns, {**INPUTS, "idea_name": "typo"})  # type: ignore[arg-type]
    assert not run.chosen_idea_path.exists() and read_info(run).status == "failed"  # type: ignore[union-attr]
    assert drive(run, fns, None, approval_answer=second).status == "done"
    assert run.chosen_idea().name == second and rec.calls().count("ideation") == 1


def test_starting_twice_is_refused(tmp_path: Path) -> None:
    run = _run(tmp_path)
    rec = Recorder(run.file("calls.txt"))
    drive(run, rec.fns(), dict(INPUTS))  # type: ignore[arg-type]
    with pytest.raises(UserInputError, match="shoal resume"):
        drive(run, rec.fns(), dict(INPUTS))  # type: ignore[arg-type]


def test_no_working_implementation_goes_to_the_report(tmp_path: Path) -> None:
    run = _run(tmp_path)
    rec = Recorder(run.file("calls.txt"))
    fns = rec.fns()
    fns = StageFns(**{**fns.__dict__, "experiments": lambda s: {"experiments_status": "no_working_implementation"}})
    out = drive(run, fns, dict(INPUTS))  # type: ignore[arg-type]
    assert out.status == "done"
    assert out.done == ["ideation", "choose_idea", "experiments", "report"]
