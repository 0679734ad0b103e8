"""Starting and continuing evolve runs: the checks on the user's files, the run directory, and ``evolve()``.

Everything the user gives is checked before any model call: the program exists, compiles and has an
EVOLVE-BLOCK; the evaluator exists and compiles; then the engine evaluates the initial program and stops with one
message if the evaluator crashes, hangs, writes no or invalid metrics.json, or calls the initial program invalid.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from agents.errors import UserInputError
from agents.evolve.blocks import BlockError, split_program
from agents.evolve.engine import EVOLVE_DIR, EvolveEngine, Listener, Outcome, initial_task
from agents.experiments.novelty import Embedder
from agents.experiments.patches import syntax_error
from agents.llm import LLM, Ledger
from agents.rundir import RunDir, create_run
from agents.sandbox.base import SandboxRunner
from agents.settings import Settings
from agents.textfile import read_user_text


def check_inputs(program: Path, evaluator: Path) -> str:
    """The program's text once program and evaluator pass the static checks; UserInputError otherwise."""
    code = read_user_text(program, "the program")
    err = syntax_error(code)
    if err:
        raise UserInputError(f"the program {program} does not compile: {err}")
    try:
        split_program(code)
    except BlockError as exc:
        raise UserInputError(f"{program}: {exc}") from exc
    ev = read_user_text(evaluator, "the evaluator")
    err = syntax_error(ev)
    if err:
        raise UserInputError(f"the evaluator {evaluator} does not compile: {err}")
    return code


def create_evolve_run(settings: Settings, program: Path, evaluator: Path) -> RunDir:
    """A new run directory holding copies of the program (``evolve/initial.py``) and evaluator."""
    check_inputs(program, evaluator)
    run = create_run(settings, f"evolve {program.stem}")
    d = run.subdir(EVOLVE_DIR)
    shutil.copyfile(program, d / "initial.py")
    shutil.copyfile(evaluator, d / "evaluate.py")
    sources = {"program": str(program.resolve()), "evaluator": str(evaluator.resolve())}
    (d / "sources.json").write_text(json.dumps(sources, indent=1), encoding="utf-8")
    return run


def make_engine(
    run: RunDir,
    settings: Settings,
    sandbox: SandboxRunner,
    *,
    llm: LLM | None = None,
    embed: Embedder | None = None,
    on_event: Listener | None = None,
) -> EvolveEngine:
    if not run.is_evolve:
        raise UserInputError(f"{run.path} is not an evolve run (no evolve/initial.py)")
    code = (run.evolve_dir / "initial.py").read_text(encoding="utf-8")
    task = settings.evolve.task or initial_task(code) or "maximise the evaluator's combined_score"
    llm = llm or LLM(settings, Ledger(run.ledger_path), context={"stage": "evolve"})
    return EvolveEngine(run, settings, llm, sandbox, task=task, embed=embed, on_event=on_event)


def evolve(
    program: Path,
    evaluator: Path,
    settings: Settings,
    *,
    sandbox: SandboxRunner | None = None,
    embed: Embedder | None = None,
    on_event: Listener | None = None,
) -> tuple[RunDir, Outcome]:
    """Evolve ``program`` against ``evaluator`` in a new run directory (the Python API of ``shoal evolve``)."""
    from agents.sandbox import make_sandbox

    run = create_evolve_run(settings, program, evaluator)
    engine = make_engine(run, settings, sandbox or make_sandbox(settings.sandbox), embed=embed, on_event=on_event)
    try:
        engine.start()
    except UserInputError:
        shutil.rmtree(run.path, ignore_errors=True)
        raise
    return run, engine.run()
