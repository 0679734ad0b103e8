"""The pipeline's stages: thin adapters from graph state to each stage's plain function.

Every adapter is idempotent over its artefacts, so a stage re-run after a crash (or a resume) skips what is on
disk: ideation keeps ``ideas.json``, the experiment manager resumes its journal, figures keep complete
``figures/captions.json``, each writing round and each review round leave a marker and are not redone.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.errors import ShoalError, UserInputError
from agents.experiments.journal import Node
from agents.ideation.inputs import Topic
from agents.ideation.schema import Idea
from agents.llm import LLM
from agents.pipeline.graph import StageFns
from agents.pipeline.state import PipelineState
from agents.rundir import RunDir
from agents.settings import Settings

log = logging.getLogger(__name__)

EventSink = Callable[..., None]
TOPIC_FILE = "topic.json"


@dataclass
class StageContext:
    """What every stage needs; the sandbox and literature backend are made on first use."""

    run: RunDir
    settings: Settings
    llm: LLM
    on_event: EventSink | None = None
    _sandbox: Any = field(default=None, repr=False)
    _literature: Any = field(default=None, repr=False)

    @property
    def sandbox(self) -> Any:
        if self._sandbox is None:
            from agents.sandbox import make_sandbox

            self._sandbox = make_sandbox(self.settings.sandbox)
            if warning := getattr(self._sandbox, "warning", None):  # sandbox.allow_weak: the report shows it
                self.run.event("sandbox_weak", warning=warning)
        return self._sandbox

    @property
    def literature(self) -> Any:
        if self._literature is None:
            from agents.literature.factory import make_literature

            self._literature = make_literature(self.settings, self.settings.cache_dir / "literature")
        return self._literature

    def notify(self, kind: str, **data: Any) -> None:
        """Tell the live view only (for stages that write their own events)."""
        if self.on_event is not None:
            self.on_event(kind, **data)

    def event(self, kind: str, **data: Any) -> None:
        """Record in events.jsonl and tell the live view."""
        self.run.event(kind, **data)
        self.notify(kind, **data)


def save_topic(run: RunDir, topic: Topic) -> None:
    run.file(TOPIC_FILE).write_text(topic.model_dump_json(indent=1), encoding="utf-8")


def _topic(run: RunDir) -> Topic:
    path = run.file(TOPIC_FILE)
    if not path.is_file():
        raise UserInputError(f"{run.path} has no {TOPIC_FILE}; start the run with `shoal run --topic ...`")
    return Topic.model_validate_json(path.read_text(encoding="utf-8"))


def _score(idea: Idea) -> int:
    return idea.interestingness.value + idea.feasibility.value + idea.novelty.value


def _marker(run: RunDir, name: str) -> Path:
    return run.subdir("pipeline") / name


def make_stage_fns(ctx: StageContext) -> StageFns:
    run, settings, llm = ctx.run, ctx.settings, ctx.llm

    def ideation(state: PipelineState) -> dict[str, Any]:
        if run.file("ideas.json").is_file():
            log.info("ideation: ideas.json exists; keeping it")
            return {}
        from agents.ideation.generate import generate_ideas
        from agents.ideation.output import write_ideas

        ctx.event("stage_started", stage="ideation")
        result = generate_ideas(
            _topic(run), llm, ctx.literature, settings, num_ideas=state.get("num_ideas"), on_event=ctx.event
        )
        if not result.ideas:
            raise ShoalError("ideation produced no usable idea; try a more specific topic or a stronger model")
        write_ideas(run.path, result)
        return {}

    def choose_idea(state: PipelineState) -> dict[str, Any]:
        from agents.ideation.output import load_ideas

        ideas, chosen = load_ideas(run.path)
        wanted = state.get("idea_name") or None
        names = [i.name for i in ideas]
        if wanted is not None and wanted not in names:
            raise UserInputError(f"no idea named {wanted!r} in {run.path}/ideas.json; ideas are: {', '.join(names)}")
        if wanted is None:
            wanted = chosen if chosen in names else max(ideas, key=_score).name
        return {"idea_name": wanted}

    def _idea(state: PipelineState) -> Idea:
        from agents.ideation.output import load_ideas

        ideas, _ = load_ideas(run.path)
        for idea in ideas:
            if idea.name == state.get("idea_name"):
                return idea
        raise UserInputError(f"the chosen idea {state.get('idea_name')!r} is not in ideas.json")

    def node_hook(node: Node, node_dir: Path) -> None:
        if not settings.figures.node_plots:
            return
        from agents.figures.node_plots import plot_node

        outcome = plot_node(node, node_dir, llm.bind(stage="experiments"), ctx.sandbox, settings)
        log.info("node %s plots: %s", node.id, outcome.status)

    def experiments(state: PipelineState) -> dict[str, Any]:
        from agents.experiments.inputs import BASELINE_FILE
        from agents.experiments.manager import run_experiments

        stages = state.get("exp_stages") or [1, 4]
        baseline = run.file(BASELINE_FILE)  # template mode: `shoal run --code-to-use FILE` copied it here
        ctx.event("stage_started", stage="experiments")
        outcome = run_experiments(
            run, settings, llm, ctx.sandbox, _idea(state).model_dump(mode="json"),
            stages=(stages[0], stages[-1]), on_event=lambda kind, data: ctx.notify(kind, **data),
            node_hook=node_hook,
            baseline_code=baseline.read_text(encoding="utf-8") if baseline.is_file() else None,
        )  # fmt: skip
        if outcome.status == "no_working_implementation":
            ctx.event("experiments_failed", message=outcome.message)
        return {"experiments_status": outcome.status, "experiments_message": outcome.message}

    def figures(state: PipelineState) -> dict[str, Any]:
        from agents.figures.aggregate import aggregate_figures

        ctx.event("stage_started", stage="figures")
        caps = aggregate_figures(run, llm, ctx.sandbox, settings, force=False)
        return {"num_figures": len(caps.figures)}

    def writeup(state: PipelineState) -> dict[str, Any]:
        from agents.writeup.writer import write_paper

        rnd = state.get("revision_round", 0)
        marker = _marker(run, f"writeup-{rnd}.done")
        if marker.is_file() and run.file("paper/paper.pdf").is_file():
            log.info("writeup round %d already done; keeping paper.pdf", rnd)
            return {}
        ctx.event("stage_started", stage="writeup", round=rnd)
        requests = state.get("revision_requests") if rnd > 0 else None
        pdf = write_paper(run, llm, settings, ctx.literature, revision_requests=requests)
        marker.write_text(str(pdf.relative_to(run.path)), encoding="utf-8")
        return {}

    def review(state: PipelineState) -> dict[str, Any]:
        from reviewer.pipeline import review_paper

        rnd = state.get("revision_round", 0)
        marker = _marker(run, f"review-{rnd}.json")
        if marker.is_file():
            requests = json.loads(marker.read_text(encoding="utf-8"))
        else:
            pdf = run.file("paper/paper.pdf")
            if not pdf.is_file():
                raise ShoalError(f"no paper to review at {pdf}; run `shoal write {run.path}`")
            ctx.event("stage_started", stage="review", round=rnd)
            out_dir = run.subdir(f"reviews/round-{rnd}")
            outcome = review_paper(pdf, llm, settings, out_dir)
            for name in ("review.json", "review.md"):  # the latest round's review at the top of the run dir
                if (out_dir / name).is_file():
                    shutil.copyfile(out_dir / name, run.file(name))
            requests = list(outcome.revision_requests)
            marker.write_text(json.dumps(requests), encoding="utf-8")
        return {"revision_requests": requests, "revision_round": rnd + 1}

    def report(state: PipelineState) -> dict[str, Any]:
        from agents.report import write_report

        write_report(run)
        return {}

    return StageFns(
        ideation=ideation, choose_idea=choose_idea, experiments=experiments, figures=figures,
        writeup=writeup, review=review, report=report,
    )  # fmt: skip
