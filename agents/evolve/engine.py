"""The evolve loop: pick an island, a parent, an operator and a model; propose; reject near-duplicates; evaluate
in the sandbox; record; migrate and take notes on schedule. ``evolve.workers`` threads run it, so one proposal is
written while another program is evaluated (a pipeline), and all state lives in the run directory.

The initial program is evaluated before any model call (``EvolveEngine.start``); a run stops after
``evolve.max_samples`` proposals, after ``evolve.time_budget_min``, on the run's budget, or on a model endpoint
failure, and ``shoal resume RUN`` continues it from ``evolve/programs.jsonl`` and ``evolve/samples.jsonl``.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.errors import BudgetExceeded, ModelCallError, UserInputError
from agents.evolve.evaluation import Evaluation, check_initial, evaluate
from agents.evolve.novelty_gate import NoveltyGate
from agents.evolve.population import Population, ProgramRecord, SampleRecord
from agents.evolve.proposer import Proposal, Proposer
from agents.evolve.reach import top_level_names
from agents.evolve.scratchpad import Scratchpad
from agents.evolve.selection import choose_operator, inspirations, migrants, operator_mix, origin, select_parent
from agents.experiments.bandit import ucb_choice
from agents.experiments.novelty import Embedder
from agents.llm import LLM
from agents.prompts import render_text
from agents.rundir import RunDir
from agents.sandbox.base import SandboxRunner
from agents.settings import Settings

log = logging.getLogger(__name__)

EVOLVE_DIR = "evolve"
Listener = Callable[[str, dict[str, Any]], None]


@dataclass
class Outcome:
    status: str  # complete | budget | time | error
    message: str
    stats: dict[str, Any]


class EvolveEngine:
    def __init__(
        self,
        run: RunDir,
        settings: Settings,
        llm: LLM,
        sandbox: SandboxRunner,
        *,
        task: str,
        embed: Embedder | None = None,
        on_event: Listener | None = None,
    ) -> None:
        self.run_dir = run
        self.settings = settings
        self.cfg = settings.evolve
        self.llm = llm
        self.sandbox = sandbox
        self.root = run.subdir(EVOLVE_DIR)
        self.evaluator = self.root / "evaluate.py"
        self.pop = Population.load(self.root, self.cfg.islands, self.cfg.archive_size)
        self.proposer = Proposer(settings, llm, task)
        self.task = task
        roots = top_level_names((self.root / "initial.py").read_text(encoding="utf-8"))
        self.gate = NoveltyGate(
            self.cfg.islands, self.cfg.novelty_threshold, self.cfg.novelty_judge, llm, embed, roots=roots
        )
        for p in self.pop.all():
            self.gate.add(p.island, p.id, self.pop.code(p.id))
        self.scratch = Scratchpad(self.root / "scratchpad.jsonl", self.cfg.scratchpad_every)
        self.on_event = on_event
        self.rng = random.Random(self.cfg.seed + self.pop.sample_count())
        self.lock = threading.Lock()
        self.scratch_lock = threading.Lock()
        self.started = self.pop.sample_count()
        self.in_flight: list[str] = []
        self.stop_reason = ""
        self.stop_message = ""
        self.crash: BaseException | None = None
        self.deadline: float | None = None
        n = self.pop.evaluated_count()
        self.migrations_done = n // self.cfg.migration_interval

    # -- events -------------------------------------------------------------------------------------------------

    def _emit(self, event: str, **data: Any) -> None:
        stats = self.progress()
        self.run_dir.event(f"evolve_{event}", **data)
        if self.on_event is not None:
            self.on_event(event, {**data, "progress": stats})

    def progress(self) -> dict[str, Any]:
        s = self.pop.stats()
        t = self.llm.ledger.totals()
        s.update(spend_usd=t.cost_usd, tokens=t.tokens, calls=t.calls, in_flight=len(self.in_flight))
        s["generation"] = max((p.generation for p in self.pop.all()), default=0)
        s["mix"] = operator_mix(self.cfg.operators, self.pop.operator_stats(self.cfg.operators))
        return s

    # -- the initial program ------------------------------------------------------------------------------------

    def _evaluate(self, pid: str, code: str) -> Evaluation:
        work = self.root / "work" / pid
        return evaluate(
            self.sandbox, work, code, self.evaluator, self.cfg.eval_timeout_s, keep=self.pop.program_dir(pid)
        )

    def _user_evaluator(self) -> Path:
        """The evaluator's path as the user gave it (for messages), else the run's copy."""
        try:
            return Path(json.loads((self.root / "sources.json").read_text(encoding="utf-8"))["evaluator"])
        except (OSError, ValueError, KeyError):
            return self.evaluator

    def start(self) -> None:
        """Evaluate the initial program (once per run) and seed every island with it; UserInputError if unusable."""
        if any(p.kind == "initial" for p in self.pop.all()):
            return
        code = (self.root / "initial.py").read_text(encoding="utf-8")
        pid = self.pop.new_id()
        ev = self._evaluate(pid, code)
        problem = check_initial(ev, self._user_evaluator(), self.cfg.eval_timeout_s)
        if problem:
            raise UserInputError(problem)
        rec = _record(pid, None, 0, 0, "initial", "", "", ev)
        self.pop.add(rec, code)
        self.gate.add(0, pid, code)
        for island in range(1, self.cfg.islands):
            self._copy(rec, island)
        self._emit("initial", id=pid, score=ev.combined_score)

    def _copy(self, rec: ProgramRecord, island: int) -> None:
        pid = self.pop.new_id()
        origin = rec.parent if rec.kind == "migrant" and rec.parent else rec.id
        copy = rec.model_copy(
            update={"id": pid, "parent": origin, "island": island, "kind": "migrant", "ts": time.time()}
        )
        code = self.pop.code(rec.id)
        self.pop.add(copy, code)
        self.gate.add(island, pid, code)

    # -- the loop -----------------------------------------------------------------------------------------------

    def run(self) -> Outcome:
        self.start()
        if self.cfg.time_budget_min is not None:
            self.deadline = time.monotonic() + 60.0 * self.cfg.time_budget_min
        # daemon threads: on Ctrl-C the main thread stops waiting and the process ends with them (a proposal in
        # flight is lost, nothing evaluated is); sandboxed runs die with Shoal (the sandbox's parent-death signal)
        threads = [
            threading.Thread(target=self._worker, name=f"evolve-{i}", daemon=True) for i in range(self.cfg.workers)
        ]
        for t in threads:
            t.start()
        try:
            while any(t.is_alive() for t in threads):
                for t in threads:
                    t.join(timeout=0.5)
        except KeyboardInterrupt:
            with self.lock:
                self.stop_reason = self.stop_reason or "interrupted"
            raise
        work = self.root / "work"
        if work.is_dir() and not any(work.iterdir()):
            work.rmdir()
        if self.crash is not None:
            raise self.crash
        stats = self.progress()
        if self.stop_reason in ("budget", "error"):
            return Outcome(self.stop_reason, self.stop_message, stats)
        status = "time" if self.stop_reason == "time" else "complete"
        best = stats["best"]
        msg = f"{stats['samples']} samples, {stats['evaluated']} evaluated, best {best:.6g}" if best is not None else ""
        self._emit("done", status=status)
        return Outcome(status, msg, stats)

    def _claim(self) -> dict[str, Any] | None:
        with self.lock:
            if self.stop_reason:
                return None
            if self.started >= self.cfg.max_samples:
                return None
            if self.deadline is not None and time.monotonic() >= self.deadline:
                self.stop_reason = "time"
                return None
            n = self.started
            self.started += 1
            island = n % self.cfg.islands
            parent = select_parent(
                self.pop,
                island,
                self.cfg.parent_selection,
                self.rng,
                self.cfg.selection_lambda,
                self.cfg.power_law_alpha,
            )
            can_cross = len(self.pop.archive()) >= 2
            kind = choose_operator(self.cfg.operators, self.pop.operator_stats(self.cfg.operators), can_cross, self.rng)
            models = list(self.cfg.models) or [self.settings.models.coder.model]
            model = ucb_choice(self.pop.model_stats(models), models, self.cfg.ucb_c, self.in_flight)
            self.in_flight.append(model)
            insp = inspirations(self.pop, parent, self.cfg.top_inspirations, self.cfg.random_inspirations, self.rng)
            other = None
            if kind == "crossover":
                own = origin(self.pop, parent)
                pool = [p for p in self.pop.archive() if origin(self.pop, p.id) != own]
                other = self.rng.choice(pool) if pool else None
                if other is None:
                    kind = "rewrite"
            return {
                "n": n + 1,
                "island": island,
                "parent": parent,
                "kind": kind,
                "model": model,
                "insp": insp,
                "other": other,
            }

    def _worker(self) -> None:
        while True:
            job = self._claim()
            if job is None:
                return
            try:
                self._sample(job)
            except BudgetExceeded as exc:
                self._stop("budget", str(exc))
            except ModelCallError as exc:
                self._stop("error", str(exc))
            except BaseException as exc:  # our bug: stop the other workers, re-raised by run()
                self.crash = exc
                self._stop("error", f"{type(exc).__name__}: {exc}")
            finally:
                with self.lock:
                    self.in_flight.remove(job["model"])

    def _stop(self, reason: str, message: str) -> None:
        with self.lock:
            if not self.stop_reason or self.stop_reason == "time":
                self.stop_reason, self.stop_message = reason, message
        self._emit("stopped", reason=reason, message=message)

    def _sample(self, job: dict[str, Any]) -> None:
        parent = self.pop.programs[job["parent"]]
        parent_code = self.pop.code(parent.id)
        insp = [(r, self.pop.code(r.id)) for r in job["insp"]]
        other = (job["other"], self.pop.code(job["other"].id)) if job["other"] is not None else None
        sample = SampleRecord(
            sample=job["n"], island=job["island"], parent=parent.id, kind=job["kind"], model=job["model"], outcome=""
        )
        self._emit("proposing", sample=job["n"], island=job["island"], parent=parent.id, op=job["kind"])
        prop: Proposal | None = None
        rejected = ""  # why the last answer was a copy, told to the model when it is asked again
        for attempt in range(self.cfg.max_resamples + 1):
            notes = [*self.scratch.notes(), *([rejected] if rejected else [])]
            earlier = prop.answers if prop is not None else []
            prop = self.proposer.propose(job["kind"], job["model"], parent, parent_code, insp, notes, other)
            prop.answers = [*earlier, *prop.answers]  # every answer of the sample is kept on disk
            sample.resamples = attempt
            if prop.code is None:
                break
            verdict = self.gate.check(job["island"], prop.code)
            if verdict.novel:
                break
            sample.detail = f"near-duplicate of {verdict.nearest} ({verdict.similarity:.4f}): {verdict.reason}"
            rejected = render_text("evolve/rejected", {"reason": verdict.reason}).strip()
            self._emit("rejected", sample=job["n"], nearest=verdict.nearest, similarity=verdict.similarity)
            if attempt == self.cfg.max_resamples:
                if verdict.exact:  # evaluating the same code again would teach nothing
                    prop.code, prop.error = None, sample.detail
                    sample.outcome, sample.applied = "duplicate", True
                else:  # bounded: the last close candidate is evaluated anyway (as ShinkaEvolve does)
                    sample.detail += "; kept after the last resample"
        assert prop is not None
        sample.repairs = prop.repairs
        if prop.code is None:
            sample.applied = sample.applied or prop.applied
            sample.outcome = sample.outcome or "not-applied"
            sample.detail = prop.error or sample.detail  # the last attempt's reason
            self._finish(sample, prop)
            return
        sample.applied = True
        sample.applied_as = prop.applied_as
        sample.second_reading = prop.second_reading
        pid = self.pop.new_id()
        code = prop.code
        ev = self._evaluate(pid, code)
        repaired = False
        if not ev.correct and self.cfg.repairs > prop.repairs:
            fixed = self.proposer.repair_after_eval(prop, parent_code, ev.feedback or "the program is invalid")
            if fixed is not None and self.gate.check(job["island"], fixed).novel:
                code, repaired = fixed, True
                ev = self._evaluate(pid, code)
        rec = _record(pid, parent.id, job["island"], parent.generation + 1, job["kind"], job["model"], prop.plan, ev)
        rec.second_parent = other[0].id if other is not None else None
        rec.inspirations = [r.id for r, _ in insp]
        rec.repaired = repaired
        rec.sample = job["n"]
        self._write_proposal(pid, parent_code, code, prop)
        self.pop.add(rec, code)
        self.gate.add(job["island"], pid, code)
        sample.outcome, sample.program, sample.correct = "evaluated", pid, ev.correct
        sample.improved = ev.correct and (not parent.correct or ev.combined_score > parent.combined_score)
        sample.repairs = prop.repairs
        sample.detail = ev.feedback[:300]
        self._finish(sample, prop)
        self._emit("evaluated", sample=job["n"], id=pid, score=ev.combined_score, correct=ev.correct, op=job["kind"])
        self._after_program()

    def _finish(self, sample: SampleRecord, prop: Proposal) -> None:
        sample.ts = time.time()
        self.pop.add_sample(sample)
        if sample.outcome != "evaluated":
            d = self.root / "unapplied"
            d.mkdir(exist_ok=True)
            (d / f"s{sample.sample:04d}.md").write_text(
                "\n\n---\n\n".join(prop.answers) + f"\n\n---\nerror: {sample.detail}\n", encoding="utf-8"
            )
            self._emit("discarded", sample=sample.sample, outcome=sample.outcome, detail=sample.detail[:200])

    def _write_proposal(self, pid: str, parent_code: str, code: str, prop: Proposal) -> None:
        import difflib

        d = self.pop.program_dir(pid)
        diff = difflib.unified_diff(
            parent_code.splitlines(keepends=True), code.splitlines(keepends=True), "parent/program.py", "program.py"
        )
        (d / "diff.patch").write_text("".join(diff), encoding="utf-8")
        (d / "answer.md").write_text("\n\n---\n\n".join(prop.answers), encoding="utf-8")

    def _after_program(self) -> None:
        n = self.pop.evaluated_count()
        with self.lock:
            due = n // self.cfg.migration_interval > self.migrations_done
            if due:
                self.migrations_done = n // self.cfg.migration_interval
                moves = migrants(self.pop, self.cfg.migration_count)
                for prog, dst in moves:
                    self._copy(prog, dst)
        if due:
            self._emit("migrated", moved=[(p.id, dst) for p, dst in moves])
        with self.scratch_lock:
            if not self.scratch.due(n):
                return
            notes = self.scratch.write(self.llm, self.pop, self.task, n)
        self._emit("scratchpad", at=n, notes=notes)


def _record(
    pid: str, parent: str | None, island: int, gen: int, kind: str, model: str, plan: str, ev: Evaluation
) -> ProgramRecord:
    return ProgramRecord(
        id=pid,
        parent=parent,
        island=island,
        generation=gen,
        kind=kind,
        model=model,
        plan=plan,
        combined_score=ev.combined_score,
        public=ev.public,
        private=ev.private,
        correct=ev.correct,
        error=ev.error[-2000:],
        ts=time.time(),
    )


def initial_task(code: str) -> str:
    """The task text for prompts: the initial program's module docstring, first paragraph."""
    import ast

    try:
        doc = ast.get_docstring(ast.parse(code)) or ""
    except SyntaxError:
        return ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")
