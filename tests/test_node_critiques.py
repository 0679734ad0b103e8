"""Critiques kept apart: the feedback review, the plot critique and the lint findings are separate node fields,
each under its own heading in the coder's prompt; plots judged invalid rank a node below a clean one of equal
metric; later writes to a node go through the journal's lock."""

from __future__ import annotations

import threading

from agents.experiments.coder import Coder
from agents.experiments.journal import Journal, Metric, MetricValue, Node
from agents.experiments.policy import Action
from agents.experiments.stages import select_best
from agents.llm import LLM, Ledger
from agents.prompts import render_messages
from agents.settings import load_settings


def _node(value: float, plots_status: str = "ok", **kw: object) -> Node:
    metric = MetricValue(metrics=[Metric(name="mse", direction="minimize", values={"d": value})])
    return Node.model_validate({"stage": 1, "kind": "draft", "status": "done", "metric": metric,
                                "plots_status": plots_status, "code": "print(1)", **kw})  # fmt: skip


def test_the_coder_prompt_has_one_heading_per_critique() -> None:
    journal = Journal()
    parent = journal.add(
        _node(
            0.3,
            "invalid",
            critique="train longer",
            plot_critique="the plot shows loss, the claim is accuracy",
            lint_findings=["- [error] a.png: empty_axes: no data drawn"],
        )
    )
    settings = load_settings(None)
    coder = Coder(LLM(settings, Ledger(None)), settings, journal)
    variables = coder.variables(Action("improve", 1, parent.id), parent)
    prompt = "\n".join(str(m["content"]) for m in render_messages("coder/edit", variables))
    review = prompt.index("## Reviewer's note on this program\ntrain longer")
    plots = prompt.index("## Critique of this program's plots\nThe plots of this experiment were judged invalid")
    lint = prompt.index("## Plot lint findings\n- [error] a.png: empty_axes")
    assert review < plots < lint


def test_invalid_plots_rank_below_a_clean_node_of_equal_metric() -> None:
    journal = Journal()
    invalid = journal.add(_node(0.25, "invalid"))
    clean = journal.add(_node(0.25, "ok"))
    assert clean.better_than(invalid) and not invalid.better_than(clean)
    assert journal.best_node() is clean
    assert select_best(journal, 1) is clean
    better = journal.add(_node(0.2, "invalid"))  # a better metric still wins
    assert journal.best_node() is better


def test_update_node_holds_the_journal_lock() -> None:
    journal = Journal()
    node = journal.add(_node(0.3))
    seen: list[bool] = []

    class Probe(threading.Thread):
        def run(self) -> None:
            seen.append(journal.lock.acquire(blocking=False))

    with journal.lock:
        journal.update_node(node.id, plot_critique="fine", lint_findings=["x"])
        probe = Probe()
        probe.start()
        probe.join()
    assert seen == [False]  # another thread cannot take the lock while an update holds it
    assert node.plot_critique == "fine" and node.lint_findings == ["x"]
