"""The coder: one model call writes a node's program, as a full program or as SEARCH/REPLACE edits of the parent.

- Drafts are full programs (``coder/draft``). Other kinds edit the parent: ``coder/patch`` (edits) or
  ``coder/edit`` (a whole new program). With ``search.edit_mode = "auto"`` a model gets patch prompts until three
  or more of its patches were tried and fewer than half applied; then it gets rewrites (the embedded 1.5B model's
  patches mostly fail). A patch that fails to apply (or changes nothing) is followed by one rewrite call.
- The prompt holds the idea, the stage goal, the parent's code, output tail, metrics and critique, and the
  compact what-worked / what-failed memory.
- Drafts and improvements that duplicate an existing program (``novelty``) are regenerated, at most
  ``search.max_regenerations`` times; after that the candidate runs anyway (the search must progress).
- Per model the journal counts programs, compiled programs, patch attempts and applied patches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from agents.experiments.imports import add_missing_imports
from agents.experiments.journal import CoderStats, Journal, Metric, Node
from agents.experiments.journal_index import index_of
from agents.experiments.memory import memory_lines
from agents.experiments.novelty import NoveltyFilter
from agents.experiments.patches import (
    PatchError,
    apply_edits,
    extract_plan,
    parse_edits,
    syntax_error,
)
from agents.experiments.policy import Action
from agents.experiments.program import extract_program, keep_missing_files
from agents.llm import LLM
from agents.prompts import render_text
from agents.settings import Settings

log = logging.getLogger(__name__)

OUTPUT_CHARS = 1500
CODE_CHARS = 12000


@dataclass
class Proposal:
    """What the coder produced for one action."""

    code: str
    plan: str
    edit: str  # full | patch | patch_fallback
    model: str
    calls: int = 0
    tokens_in: int = 0
    duplicate_of: str | None = None  # the twin of the last candidate rejected as a duplicate
    problem: str = ""  # why no usable program came back (the node is then buggy with this reason)


def metrics_text(node: Node) -> str:
    parts = []
    for m in node.metric.metrics[:3]:
        vals = ", ".join(f"{ds}={v:.4g}" for ds, v in list(m.values.items())[:4])
        parts.append(f"{m.name} ({m.direction}): {vals}")
    return "; ".join(parts)


def seed_summary(metric: Metric) -> str:
    """ "synthetic 0.632 ± 0.112, other 0.41 ± 0.02" (mean ± standard error over the seeds) for people."""
    return (
        ", ".join(
            f"{ds} {value:.4g} ± {metric.std_err.get(ds, float('nan')):.2g}" for ds, value in metric.seed_mean.items()
        )
        or "no seed values"
    )


def idea_vars(idea: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": str(idea.get("title", idea.get("name", "experiment"))),
        "hypothesis": str(idea.get("hypothesis", "")),
        "experiments": [str(e) for e in idea.get("experiments", [])][:6],
    }


class Coder:
    """Writes programs for actions; shared by the worker threads (it keeps no per-node state)."""

    def __init__(
        self,
        llm: LLM,
        settings: Settings,
        journal: Journal,
        novelty: NoveltyFilter | None = None,
        *,
        data: dict[str, Any] | None = None,
        env: dict[str, Any] | None = None,
    ) -> None:
        from agents.data.environment import coder_environment

        self.data = data  # the user's data task for the prompts (agents.data.session.DataSession.prompt)
        self.env = env or coder_environment(settings)
        self.llm = llm
        self.settings = settings
        self.search = settings.search
        self.journal = journal
        self.novelty = novelty
        self._llms: dict[str, LLM] = {}

    # -- models -------------------------------------------------------------------------------------------------

    def models(self) -> list[str]:
        return list(self.search.coder_models) or [self.settings.models.coder.model]

    def _llm_for(self, model: str) -> LLM:
        if not self.search.coder_models:
            return self.llm
        if model not in self._llms:
            self._llms[model] = self.llm.with_model("coder", model)
        return self._llms[model]

    def stats(self, model: str) -> CoderStats:
        with self.journal.lock:
            return self.journal.coder_stats.setdefault(model, CoderStats())

    def use_patch(self, model: str, kind: str) -> bool:
        if kind == "draft" or self.search.edit_mode == "full":
            return False
        if self.search.edit_mode == "patch":
            return True
        st = self.stats(model)
        return not (st.patch_attempts >= 3 and st.patches_applied < 0.5 * st.patch_attempts)

    # -- prompts ------------------------------------------------------------------------------------------------

    def variables(self, action: Action, parent: Node | None, note: str = "") -> dict[str, Any]:
        from agents.figures.node_plots import plot_feedback

        worked, failed = memory_lines(self.journal, self.search.memory_lines)
        idea = idea_vars(self.journal.idea or {})
        out = parent.exec.stdout_tail if parent and parent.exec else ""
        err = parent.bug_reason if parent else ""
        if parent and parent.exec and parent.exec.error:
            err = parent.exec.error
        return {
            "idea": idea,
            "stage_goal": render_text("experiments/stage_goal", {"stage": action.stage}),
            "kind": action.kind,
            "tag": action.tag,
            "parent_code": (parent.code if parent else "")[:CODE_CHARS],
            "parent_output": out[-OUTPUT_CHARS:],
            "parent_error": err[-OUTPUT_CHARS:],
            "parent_metrics": metrics_text(parent) if parent else "",
            "critique": parent.critique if parent else "",
            "plot_critique": plot_feedback(parent) if parent else "",
            "lint_findings": list(parent.lint_findings) if parent else [],
            "worked": worked,
            "failed": failed,
            "timeout_s": int(self.settings.sandbox.timeout_s),
            "note": note,
            "data": self.data,
            "env": self.env,
        }

    # -- writing ------------------------------------------------------------------------------------------------

    def write(self, action: Action, model: str, node_id: str) -> Proposal:
        """A program for ``action`` (``node_id`` tags the ledger records)."""
        llm = self._llm_for(model).bind(node=node_id, search_stage=str(action.stage))
        parent = index_of(self.journal).find(action.parent)
        check_novelty = self.novelty is not None and action.kind in ("draft", "improve")
        note = ""
        total_calls = total_tokens = 0
        prop = Proposal(code="", plan="", edit="full", model=model)
        rejected: str | None = None
        for attempt in range(self.search.max_regenerations + 1):
            prop = self._write_once(llm, action, parent, model, note, force_full=bool(note) and attempt > 0)
            total_calls += prop.calls
            total_tokens += prop.tokens_in
            if prop.problem and attempt < self.search.max_regenerations:
                note = f"Your last answer could not be used: {prop.problem}. Follow the answer format exactly."
                continue
            if prop.problem or not check_novelty:
                break
            assert self.novelty is not None
            limit = self.search.novelty_threshold if action.kind == "draft" else self.search.edit_novelty_threshold
            dup, other, sim = self.novelty.is_duplicate(prop.code, limit)
            if not dup:
                break
            rejected = other
            with self.journal.lock:
                self.stats(model).duplicates_rejected += 1
            log.info("node %s: candidate duplicates node %s (similarity %.4f)", node_id, other, sim)
            note = "Your last program repeated an earlier one. Write a clearly different approach."
        prop.calls, prop.tokens_in, prop.duplicate_of = total_calls, total_tokens, rejected
        if prop.code.strip():
            prop.code, added = add_missing_imports(prop.code)
            if added:
                log.info("node %s: added the missing import of %s", node_id, ", ".join(added))
        return prop

    def _write_once(
        self, llm: LLM, action: Action, parent: Node | None, model: str, note: str, *, force_full: bool = False
    ) -> Proposal:
        variables = self.variables(action, parent, note)
        if action.kind == "draft" or parent is None or not parent.code.strip():
            return self._full(llm, "coder/draft", variables, model, "full")
        if force_full or not self.use_patch(model, action.kind):
            return self._full(llm, "coder/edit", variables, model, "full", parent.code)
        reply = llm.chat("coder", "coder/patch", variables)
        calls, tokens = 1, reply.tokens_in
        plan = extract_plan(reply.content)
        try:
            code = apply_edits(parent.code, parse_edits(reply.content))
            if code == parent.code:
                raise PatchError("the edits change nothing")
            applied = True
        except PatchError as exc:
            log.info("patch for %s child did not apply (%s); asking for a full rewrite", action.kind, exc)
            applied = False
        with self.journal.lock:
            st = self.stats(model)
            st.patch_attempts += 1
            st.patches_applied += int(applied)
        if applied:
            self._count_program(model, code)
            return Proposal(code=code, plan=plan, edit="patch", model=model, calls=calls, tokens_in=tokens)
        whole = extract_program(reply.content)
        if whole:
            whole = keep_missing_files(parent.code, whole)
        if whole and syntax_error(whole) is None and len(whole.splitlines()) >= len(parent.code.splitlines()) / 2:
            self._count_program(model, whole)  # the model wrote the whole program instead of edits: use it
            return Proposal(code=whole, plan=plan, edit="full", model=model, calls=calls, tokens_in=tokens)
        prop = self._full(llm, "coder/edit", variables, model, "patch_fallback", parent.code)
        prop.calls += calls
        prop.tokens_in += tokens
        return prop

    def _full(
        self, llm: LLM, prompt: str, variables: dict[str, Any], model: str, edit: str, parent_code: str = ""
    ) -> Proposal:
        reply = llm.chat("coder", prompt, variables)
        code = extract_program(reply.content)
        plan = extract_plan(reply.content)
        if code is None and parent_code:
            try:  # asked for a whole program, the model answered with edits: apply them if they fit
                code = apply_edits(parent_code, parse_edits(reply.content))
                edit = "patch"
            except PatchError:
                code = None
        if code is not None and parent_code:
            code = keep_missing_files(parent_code, code)
        if code is None:
            why = "the answer held no program" + (
                " (cut off at the token limit)" if reply.finish_reason == "length" else ""
            )
            return Proposal("", plan, edit, model, calls=1, tokens_in=reply.tokens_in, problem=why)
        self._count_program(model, code)
        return Proposal(code=code, plan=plan, edit=edit, model=model, calls=1, tokens_in=reply.tokens_in)

    def _count_program(self, model: str, code: str) -> None:
        with self.journal.lock:
            st = self.stats(model)
            st.programs += 1
            st.valid_programs += int(syntax_error(code) is None)
