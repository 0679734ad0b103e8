"""The experiment stage's one entry point, called by ``shoal experiments`` and by the pipeline alike.

It reads the chosen idea and the template-mode baseline from the run directory, runs (or resumes) the tree search,
and makes every good node's plots (``figures.node_plots``) through a hook that writes to the node under the
journal's lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.experiments.journal import Node
from agents.experiments.manager import EventSink, ExperimentManager, SearchOutcome
from agents.llm import LLM
from agents.rundir import RunDir
from agents.sandbox.base import SandboxRunner
from agents.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class ExperimentsResult:
    outcome: SearchOutcome
    best: Node | None


def _plot_hook(
    manager_ref: list[ExperimentManager], llm: LLM, sandbox: Any, settings: Settings
) -> Callable[[Node, Path], None]:
    def hook(node: Node, node_dir: Path) -> None:
        from agents.figures.node_plots import plot_node

        journal = manager_ref[0].journal
        outcome = plot_node(node, node_dir, llm.bind(stage="experiments"), sandbox, settings, journal=journal)
        log.info("node %s plots: %s", node.id, outcome.status)

    return hook


def experiments_stage(
    run: RunDir,
    settings: Settings,
    llm: LLM,
    sandbox: SandboxRunner,
    *,
    stages: tuple[int, int] = (1, 4),
    on_event: EventSink | None = None,
) -> ExperimentsResult:
    """Run or resume the search for the run's chosen idea (idempotent over the journal)."""
    idea = run.chosen_idea().model_dump(mode="json")
    ref: list[ExperimentManager] = []
    hook = _plot_hook(ref, llm, sandbox, settings) if settings.figures.node_plots else None
    manager = ExperimentManager(
        run, settings, llm, sandbox, idea, stages=stages, baseline_code=run.baseline_code(), on_event=on_event,
        node_hook=hook,
    )  # fmt: skip
    ref.append(manager)
    outcome = manager.run()
    return ExperimentsResult(outcome, manager.journal.find(outcome.best))
