"""Asking a model for one edit of a parent program and turning the answer into a new program.

One proposal is one model call in one edit format (``rewrite``, ``lines``, ``diff``, or ``crossover``, which
answers like ``rewrite``), plus at most ``evolve.repairs`` follow-ups in the same conversation: an answer that
cannot be applied, does not compile or breaks what the code around its block takes from it (a lost helper, a
function that no longer returns what its callers unpack: ``contract``) goes back with the error, and so does a
program whose evaluation failed (``repair_after_eval``). The completion is capped at ``evolve.max_output_tokens``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from agents.evolve import contract, salvage
from agents.evolve.blocks import (
    Program,
    apply_answer,
    lost_names,
    numbered,
    restore_definitions,
    split_program,
)
from agents.evolve.population import ProgramRecord
from agents.experiments.patches import PatchError, extract_plan, syntax_error
from agents.llm import LLM
from agents.prompts import render_messages, render_text
from agents.sandbox import pyenv
from agents.settings import Settings

log = logging.getLogger(__name__)

_SALVAGE = {"rewrite": ("diff", "lines"), "lines": ("rewrite", "diff"), "diff": ("rewrite", "lines")}
_COPIED = ("(new version of these lines)", "<the new lines that replace")


@dataclass
class Proposal:
    """The outcome of asking: ``code`` is None when no usable program came back."""

    kind: str
    model: str
    code: str | None = None
    plan: str = ""
    error: str = ""
    repairs: int = 0
    applied: bool = False
    applied_as: str = ""  # the format the answer was read in (another than asked: salvaged)
    second_reading: str = ""  # "cut-tail" or "reindented" when only a second reading compiled (salvage.py)
    messages: list[dict[str, Any]] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)


def metrics_text(public: dict[str, Any], limit: int = 6) -> str:
    items = list(public.items())[:limit]
    return ", ".join(f"{k}={_fmt(v)}" for k, v in items)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    text = json.dumps(v) if not isinstance(v, str) else v
    return text[:80]


def score_text(rec: ProgramRecord) -> str:
    return f"{rec.combined_score:.6g}" if rec.correct else "invalid"


class Proposer:
    """Builds prompts from the population and applies the answers."""

    modules: frozenset[str] = frozenset()  # what the experiment environment installs (empty: not known)

    def __init__(self, settings: Settings, llm: LLM, task: str) -> None:
        self.settings = settings
        # the local sandbox's environment; a Docker image is built from the same requirements file
        box = settings.sandbox
        extras = tuple(box.extra_packages)
        self.modules = pyenv.importable(pyenv.env_path(box.python_env, extras), extras)
        self.cfg = settings.evolve
        self.llm = llm
        self.task = task
        self._llms: dict[str, LLM] = {}

    def llm_for(self, model: str) -> LLM:
        if not self.cfg.models:
            return self.llm
        if model not in self._llms:
            self._llms[model] = self.llm.with_model("coder", model)
        return self._llms[model]

    def variables(
        self,
        kind: str,
        parent: ProgramRecord,
        code: str,
        inspirations: list[tuple[ProgramRecord, str]],
        notes: list[str],
        other: tuple[ProgramRecord, str] | None,
    ) -> dict[str, Any]:
        prog = split_program(code)
        body = "".join(prog.blocks)
        first = [ln for ln in body.splitlines() if ln.strip()][:2]
        v: dict[str, Any] = {
            "task": self.task,
            "notes": notes,
            "inspirations": [
                {"score": score_text(r), "plan": r.plan, "block": "".join(split_program(c).blocks).rstrip()}
                for r, c in inspirations
            ],
            "score": score_text(parent),
            "metrics": metrics_text(parent.public),
            "program": code.rstrip(),
            "n_blocks": len(prog.blocks),
            "before": prog.parts[0].rstrip(),
            "numbered": numbered("".join(prog.blocks)),
            "example": "\n".join(first),
        }
        if other is not None:
            v["other_score"] = score_text(other[0])
            v["other_block"] = "".join(split_program(other[1]).blocks).rstrip()
        return v

    def _ask(self, model: str, prompt: str, messages: list[dict[str, Any]]) -> tuple[str, bool]:
        """(answer, whether it was cut at ``max_output_tokens``)."""
        reply = self.llm_for(model).chat("coder", prompt, messages=messages, max_tokens=self.cfg.max_output_tokens)
        return reply.content, reply.finish_reason == "length"

    def _apply_as(self, program: Program, answer: str, fmt: str) -> tuple[str, str]:
        """(new program, "" or the second reading that made it compile) for ``answer`` read as ``fmt``."""
        if any(marker in answer for marker in _COPIED):
            raise PatchError("the answer copies the format's placeholder text instead of real code")
        code = apply_answer(program, answer, fmt)
        err = syntax_error(code)
        if not err:
            return self._checked(program, code), ""
        for reading, candidate in salvage.second_readings(program, answer, code, fmt):
            try:
                checked = self._checked(program, candidate)
            except PatchError:
                continue
            log.info("evolve: the answer compiled only after a second reading (%s): %s", reading, err)
            return checked, reading
        raise PatchError(err)

    def _checked(self, program: Program, code: str) -> str:
        """``code`` with lost helpers put back; PatchError when it still breaks what the fixed code needs."""
        code, restored = restore_definitions(program, code)
        if restored:
            log.info("evolve: kept the parent's definition of %s, which the new code uses", ", ".join(restored))
        lost = lost_names(program, code)
        if lost:
            raise PatchError(f"the new code no longer defines {', '.join(lost)}, which the rest of the program uses")
        broken = contract.new_problems(program.render(), code, self.modules)
        if broken:
            raise PatchError("the new program would fail when run: " + "; ".join(broken))
        return code

    def _apply(self, program: Program, answer: str, fmt: str) -> tuple[str, str, str]:
        """(new program, the format it was read in, "" or the second reading that made it compile): the asked
        format first, then the others (small models often answer a diff or line request with the whole block);
        the asked format's error when none works."""
        try:
            code, reading = self._apply_as(program, answer, fmt)
            return code, fmt, reading
        except PatchError as first:
            for other in _SALVAGE[fmt]:
                try:
                    code, reading = self._apply_as(program, answer, other)
                    return code, other, reading
                except PatchError:
                    continue
            raise first

    def propose(
        self,
        kind: str,
        model: str,
        parent: ProgramRecord,
        code: str,
        inspirations: list[tuple[ProgramRecord, str]],
        notes: list[str],
        other: tuple[ProgramRecord, str] | None = None,
    ) -> Proposal:
        fmt = "rewrite" if kind == "crossover" else kind
        prompt = f"evolve/{kind}"
        program = split_program(code)
        messages = render_messages(prompt, self.variables(kind, parent, code, inspirations, notes, other))
        out = Proposal(kind=kind, model=model)
        for attempt in range(self.cfg.repairs + 1):
            answer, cut = self._ask(model, prompt if attempt == 0 else "evolve/repair", messages)
            out.answers.append(answer)
            messages = [*messages, {"role": "assistant", "content": answer[:6000]}]
            try:
                out.code, out.applied_as, out.second_reading = self._apply(program, answer, fmt)
            except PatchError as exc:
                out.error = str(exc)
                out.repairs = attempt
                if attempt < self.cfg.repairs:
                    variables = {"stage": "apply", "error": out.error, "fmt": fmt, "n_blocks": len(program.blocks)}
                    text = render_text("evolve/repair", {**variables, "cut": cut})
                    messages = [*messages, {"role": "user", "content": text}]
                continue
            out.applied, out.repairs, out.error = True, attempt, ""
            out.plan = extract_plan(answer)
            break
        out.messages = messages
        return out

    def repair_after_eval(self, prop: Proposal, parent_code: str, error: str) -> str | None:
        """One more answer for a program whose evaluation failed (whole-block rewrite); None when unusable."""
        program = split_program(parent_code)
        variables = {"stage": "eval", "error": error[-1200:], "fmt": "rewrite", "n_blocks": len(program.blocks),
                     "cut": False}  # fmt: skip
        text = render_text("evolve/repair", variables)
        messages = [*prop.messages, {"role": "user", "content": text}]
        answer, _ = self._ask(prop.model, "evolve/repair", messages)
        prop.answers.append(answer)
        prop.messages = [*messages, {"role": "assistant", "content": answer[:6000]}]
        prop.repairs += 1
        try:
            code, _, reading = self._apply(program, answer, "rewrite")
        except PatchError as exc:
            prop.error = str(exc)
            return None
        prop.plan = extract_plan(answer) or prop.plan
        prop.second_reading = reading or prop.second_reading
        return code
