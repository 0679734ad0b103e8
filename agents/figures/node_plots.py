"""Per-node plots: the coder model writes a matplotlib script over the node's saved results, the sandbox runs it.

``plot_node`` always leaves the node in a defined state (written through ``Journal.update_node``, under the
journal's lock, when a journal is given):

- ``plots_status="ok"``: PNGs in ``nodes/<id>/`` listed in ``node.plots``, lint without errors;
- ``"invalid"``: the critic judged the plots not valid for the experiment's claim (the experiment result stands);
- ``"failed"``: no working, lint-clean script within ``figures.node_plot_attempts`` (the reason is in
  ``node.plot_critique``; the node is still a good experiment);
- ``"none"``: the node is not good or saved nothing to plot.

Calls per node: one to write the script, one per fix attempt (bounded), at most one critic call. The script is
``plot.py`` in the node dir; it may read only ``results/*.json`` and ``metrics.json`` (checked by the lint).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agents.errors import ModelCallError
from agents.experiments.journal import Journal, Node
from agents.figures.critic import critique_figures
from agents.figures.data import example_series, has_plot_data, summarize_node_data
from agents.figures.lint import Finding, format_findings, has_errors, lint_figures
from agents.figures.runner import extract_code, run_plot_script
from agents.llm import LLM
from agents.sandbox import Sandbox
from agents.sandbox.leftovers import write_own
from agents.settings import Settings

log = logging.getLogger(__name__)

SCRIPT_NAME = "plot.py"
WRITE_PROMPT = "figures/node_plot"
FIX_PROMPT = "figures/fix_plot"
MAX_PLOTS = 3


class PlotOutcome(BaseModel):
    status: str
    plots: list[str] = Field(default_factory=list)
    attempts: int = 0
    llm_calls: int = 0
    error: str = ""
    lint: list[Finding] = Field(default_factory=list)
    critique: str = ""


def _apply(node: Node, journal: Journal | None, **fields: Any) -> None:
    if journal is not None:
        journal.update_node(node.id, **fields)
    else:
        for name, value in fields.items():
            setattr(node, name, value)


def plot_node(
    node: Node, node_dir: Path, llm: LLM, sandbox: Sandbox, settings: Settings, *, journal: Journal | None = None
) -> PlotOutcome:
    """Make, lint and critique the node's plots; sets ``node.plots``, ``plots_status``, ``plot_critique``,
    ``lint_findings``, ``llm_calls`` (through ``journal``'s lock when given)."""
    cfg = settings.figures
    if not node.is_good or not has_plot_data(node_dir):
        _apply(node, journal, plots_status="none")
        return PlotOutcome(status="none")
    llm = llm.bind(node=node.id)
    summary = summarize_node_data(node_dir)
    example = example_series(node_dir)
    plan = (node.plan or "an experiment").strip()[:600]
    outcome = PlotOutcome(status="failed")
    script = ""
    problems = ""
    made: list[str] = []
    for attempt in range(1, cfg.node_plot_attempts + 1):
        outcome.attempts = attempt
        try:
            if attempt == 1 or not script:
                variables = {"plan": plan, "data_summary": summary, "max_plots": MAX_PLOTS, "example": example}
                reply = llm.chat("coder", WRITE_PROMPT, variables)
            else:
                variables = {"script": script, "data_summary": summary, "problems": problems}
                reply = llm.chat("coder", FIX_PROMPT, variables)
        except ModelCallError as exc:  # endpoint down after its retries: the node still ends in a defined state
            problems = f"the model call failed: {exc}"
            break
        outcome.llm_calls += 1
        script = extract_code(reply.content)
        _remove(node_dir, made)
        made = []
        if not script:
            problems = "the answer contained no python code block"
            continue
        write_own(node_dir / SCRIPT_NAME, script + "\n")
        run = run_plot_script(sandbox, node_dir, SCRIPT_NAME, cfg.script_timeout_s)
        made = run.pngs
        if not run.ok:
            problems = run.error
            continue
        report = lint_figures(node_dir, run.pngs, cfg)
        findings = [f for fs in report.values() for f in fs]
        outcome.lint = findings
        if has_errors(findings):
            problems = format_findings([f for f in findings if f.severity != "info"])
            continue
        outcome.status, outcome.plots, problems = "ok", run.pngs, ""
        break
    if outcome.status != "ok":
        _remove(node_dir, made)
        outcome.error = problems[-1500:]
        _apply(
            node, journal, plots=[], plots_status="failed", lint_findings=_lines(outcome.lint),
            plot_critique=f"Plotting failed after {outcome.attempts} attempt(s): {outcome.error}",
            llm_calls=node.llm_calls + outcome.llm_calls,
        )  # fmt: skip
        log.info("node %s: plots failed after %d attempt(s)", node.id, outcome.attempts)
        return outcome
    status = "ok"
    if cfg.node_critic:
        result = critique_figures(
            llm,
            [node_dir / p for p in outcome.plots],
            context=f"plots of this experiment's saved results: {plan}",
            script=script,
            data_summary=summary,
            lint=outcome.lint,
            max_images=cfg.critic_max_images,
        )
        outcome.llm_calls += result.calls
        outcome.critique = result.as_text()
        if result.invalid:
            outcome.status = status = "invalid"
    _apply(
        node, journal, plots=outcome.plots, plots_status=status, plot_critique=outcome.critique,
        lint_findings=_lines(outcome.lint), llm_calls=node.llm_calls + outcome.llm_calls,
    )  # fmt: skip
    log.info("node %s: plots %s (%d attempt(s), %d call(s))", node.id, status, outcome.attempts, outcome.llm_calls)
    return outcome


def _lines(findings: list[Finding]) -> list[str]:
    return [line for line in format_findings([f for f in findings if f.severity != "info"]).splitlines() if line]


def _remove(node_dir: Path, pngs: list[str]) -> None:
    """Delete PNGs a failed attempt of *our* script wrote (never the experiment's own files)."""
    for rel in pngs:
        (node_dir / rel).unlink(missing_ok=True)


def plot_feedback(node: Node) -> str:
    """What the coder should hear about this node's plots in its debug/improve prompt ("" when nothing)."""
    if node.plots_status == "invalid":
        return f"The plots of this experiment were judged invalid for its claim. {node.plot_critique}".strip()
    if node.plots_status == "failed":
        return f"{node.plot_critique} Save the results the plots need with save_results().".strip()
    return node.plot_critique.strip()
