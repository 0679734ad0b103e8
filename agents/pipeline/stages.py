"""The pipeline's stages: thin adapters from graph state to each stage's one entry function (the same function
its CLI command calls: ``ideation_stage``, ``experiments_stage``, ``aggregate_figures``, ``write_paper``,
``review_paper``, ``write_report``).

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
from typing import Any

from langgraph.types import interrupt

from agents.errors import ShoalError
from agents.ideation.inputs import Topic
from agents.ideation.schema import Idea
from agents.llm import LLM
from agents.pipeline.graph import StageFns
from agents.pipeline.state import PipelineState
from agents.rundir import RunDir
from agents.settings import Settings

log = logging.getLogger(__name__)

EventSink = Callable[..., None]


@dataclass
class StageContext:
    """What every stage needs; the sandbox and literature backend are made on first use."""

    run: RunDir
    settings: Settings
    llm: LLM
    on_event: EventSink | None = None
    _sandbox: Any = field(default=None, repr=False)
    _literature: Any = field(default=None, repr=False)
    _executor: Any = field(default=None, repr=False)

    @property
    def sandbox(self) -> Any:
        if self._sandbox is None:
            from agents.sandbox import make_sandbox

            self._sandbox = make_sandbox(self.settings.sandbox)
            if warning := getattr(self._sandbox, "warning", None):  # sandbox.allow_weak: the report shows it
                self.run.event("sandbox_weak", warning=warning)
        return self._sandbox

    @property
    def executor(self) -> Any:
        """Where experiment programs run (``executor``: this machine's sandbox, or a Ray cluster)."""
        if self.settings.executor == "local":
            return self.sandbox
        if self._executor is None:
            from agents.scale import make_executor

            self._executor = make_executor(self.settings)
        return self._executor

    @property
    def literature(self) -> Any:
        if self._literature is None:
            from agents.ideation.stage import literature_cache
            from agents.literature.factory import make_literature

            self._literature = make_literature(self.settings, literature_cache(self.settings))
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
    run.write_topic(topic)


def _score(idea: Idea) -> int:
    return idea.interestingness.value + idea.feasibility.value + idea.novelty.value


def choose_idea_stage(run: RunDir, wanted: str | None, *, approve: bool) -> str:
    """The choice step (the one place the run's idea is decided): ``wanted``, else ideation's suggestion, else the
    best-scored idea; with ``approve``, a human answer (LangGraph interrupt) may pick another. A name that is not
    an idea is a ``UserInputError`` and nothing is written."""
    ideas, suggested = run.ideas()
    names = [i.name for i in ideas]
    name = wanted or (suggested if suggested in names else max(ideas, key=_score).name)
    run.idea(name)  # validates
    if approve:
        answer = interrupt({"question": "approve the chosen idea", "idea_name": name, "ideas": names})
        if isinstance(answer, str) and answer.strip():
            name = answer.strip()
    run.choose_idea(name)
    return name


def make_stage_fns(ctx: StageContext) -> StageFns:
    run, settings, llm = ctx.run, ctx.settings, ctx.llm

    def ideation(state: PipelineState) -> dict[str, Any]:
        from agents.ideation.stage import ideation_stage

        if not run.has_ideas():
            ctx.event("stage_started", stage="ideation")
        ideation_stage(
            run, llm, settings, num_ideas=state.get("num_ideas"), literature=ctx.literature, on_event=ctx.event
        )
        return {}

    def choose_idea(state: PipelineState) -> dict[str, Any]:
        approve = "ideas" in (state.get("approve") or [])
        return {"idea_name": choose_idea_stage(run, state.get("idea_name") or None, approve=approve)}

    def experiments(state: PipelineState) -> dict[str, Any]:
        from agents.experiments.stage import experiments_stage

        first, last = state.get("exp_stages") or [1, 4]
        ctx.event("stage_started", stage="experiments")
        result = experiments_stage(
            run, settings, llm, ctx.executor, stages=(first, last), on_event=lambda kind, data: ctx.notify(kind, **data)
        )
        outcome = result.outcome
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
        marker = run.marker(f"writeup-{rnd}.done")
        if marker.is_file() and run.paper_pdf.is_file():
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
        marker = run.marker(f"review-{rnd}.json")
        if marker.is_file():
            requests = json.loads(marker.read_text(encoding="utf-8"))
        else:
            pdf = run.paper_pdf
            if not pdf.is_file():
                raise ShoalError(f"no paper to review at {pdf}; run `shoal write {run.path}`")
            ctx.event("stage_started", stage="review", round=rnd)
            out_dir = run.review_round_dir(rnd)
            outcome = review_paper(pdf, llm, settings, out_dir)
            for top in (run.review_json, run.review_md):  # the latest round's review at the top of the run dir
                if (out_dir / top.name).is_file():
                    shutil.copyfile(out_dir / top.name, top)
            requests = list(outcome.revision_requests)
            marker.write_text(json.dumps(requests), encoding="utf-8")
        return {"revision_requests": requests, "revision_round": rnd + 1}

    def report(state: PipelineState) -> dict[str, Any]:
        from agents.report import write_report

        write_report(run, status="done")
        return {}

    return StageFns(
        ideation=ideation, choose_idea=choose_idea, experiments=experiments, figures=figures,
        writeup=writeup, review=review, report=report,
    )  # fmt: skip
