"""The writer's inputs, built from a run directory: the idea, per-stage journal summaries, metric facts, results
tables generated from metrics (never typed by the model) and the final figures with their captions.

Choices written down here:
- The idea is the run's chosen idea (``RunDir.chosen_idea``, written once by the choice step).
- The main table has one row per stage (its best node): initial implementation, tuned baseline, proposed
  method; the ablation table has the stage-4 nodes next to the stage-3 best. Cells show mean +- standard error
  over the seeds where seed runs filled ``Metric.seed_mean``; the best cell of each column is bold (direction-aware).
- Every number of a seeded configuration is reported as the mean +- standard error over its n seeds (n in the
  text and in the table's n column); the per-seed values go in an appendix table (``tab:seeds``).
- The recorded values a number in the paper may state, each with its source, are ``facts``
  (``agents.writeup.facts``, checked by ``agents.writeup.integrity``).
- Figures come from ``figures/captions.json`` (PDF preferred, PNG otherwise); without it, the best node's own
  plots are used with a generic caption.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pydantic import BaseModel, Field

from agents.data.session import data_summary
from agents.errors import UserInputError
from agents.experiments.journal import Journal, Node
from agents.ideation.schema import Idea
from agents.rundir import RunDir
from agents.writeup.claims import ALPHA, Comparison, compare, key_sentences
from agents.writeup.facts import Fact, collect, counts, reported
from agents.writeup.floats import ResultsTable, fmt, results_table, seed_table

log = logging.getLogger(__name__)

STAGE_NAMES = {1: "initial implementation", 2: "baseline tuning", 3: "creative research", 4: "ablations"}
ROW_LABELS = {1: "Initial implementation", 2: "Tuned baseline", 3: "Proposed method"}
NO_CHANGE_LABEL = "Research stage (no change)"


def row_labels(journal: Journal) -> dict[int, str]:
    """Stage -> row label; the research stage's best is a "proposed method" only when its program differs from
    the tuned baseline's in more than plotting or logging."""
    c = compare(journal)
    return {**ROW_LABELS, 3: NO_CHANGE_LABEL} if c is not None and not c.changed else dict(ROW_LABELS)


class StageSummary(BaseModel):
    stage: int
    name: str
    nodes: int
    good: int
    buggy: int
    best_node: str | None = None
    best_plan: str = ""
    best_result: str = ""
    notes: list[str] = Field(default_factory=list)


class FigureInfo(BaseModel):
    name: str
    source: Path = Field(description="absolute path of the file in the run")
    file: str = Field(description="file name inside paper/figures/")
    caption: str
    label: str


class WriterContext(BaseModel):
    idea: Idea
    stages: list[StageSummary]
    facts: list[Fact] = Field(description="the recorded values a number in the paper may state, with sources")
    tables: list[ResultsTable]
    figures: list[FigureInfo]
    key_results: list[str] = Field(description="formatted numbers the model may quote, one line each")
    method_plan: str
    datasets: list[str]
    seeds: int = 0
    seed_table: ResultsTable | None = Field(default=None, description="per-seed values, for the appendix")
    comparison: Comparison | None = Field(default=None, description="proposed method vs tuned baseline, with a test")
    key_sentences: str = Field(default="", description="the results' key sentences, generated from the data")
    data: str = Field(default="", description="the user's goal, metric and data card (runs with --data)")


def _first_line(text: str, limit: int = 600) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _result_text(node: Node) -> str:
    """The node's metrics as reported: mean ± standard error over n seeds when it was re-run with seeds."""
    parts = []
    for m in node.metric.metrics:
        for ds in m.values:
            v, se, n = reported(m, ds)
            text = f"{m.name} on {ds} = {fmt(v)}" + (f" ± {fmt(se)}" if se is not None else "")
            parts.append(text + (f" (mean ± standard error over {n} seeds)" if n > 1 else " (single run)"))
    return "; ".join(parts)


def summarize_stages(journal: Journal) -> list[StageSummary]:
    out = []
    for stage in sorted({n.stage for n in journal.nodes}):
        nodes = journal.stage_nodes(stage)
        best = journal.best_node(stage)
        marker = f"stage {stage}"
        out.append(
            StageSummary(
                stage=stage,
                name=STAGE_NAMES.get(stage, f"stage {stage}"),
                nodes=len(nodes),
                good=sum(n.is_good for n in nodes),
                buggy=sum(n.is_buggy for n in nodes),
                best_node=best.id if best else None,
                best_plan=_first_line(best.plan) if best else "",
                best_result=_result_text(best) if best else "",
                notes=[_first_line(x, 300) for x in journal.notes if marker in x.lower()],
            )
        )
    return out


def _seed_count(node: Node) -> int:
    p = node.metric.primary
    return p.n_seeds if p is not None and p.n_seeds > 1 else 0


def build_tables(journal: Journal) -> list[ResultsTable]:
    tables: list[ResultsTable] = []
    labels = row_labels(journal)
    main_rows = [(labels[s], b) for s in (1, 2, 3) if (b := journal.best_node(s)) is not None]
    seeds = max((_seed_count(n) for _, n in main_rows), default=0)
    note = (
        " Mean $\\pm$ standard error over $n$ seeds (column $n$; per-seed values in Table~\\ref{tab:seeds})."
        if seeds
        else ""
    )
    main = results_table(
        main_rows,
        "tab:results",
        "Best configuration found in each stage of the experiment search." + note + r" $\uparrow$/$\downarrow$: "
        "higher/lower is better; best in bold.",
    )
    if main:
        tables.append(main)
    ablations = [n for n in journal.good_nodes(4) if n.kind != "seed"]
    if ablations:
        ref = journal.best_node(3) or journal.best_node()
        rows = [("Full method", ref)] if ref is not None and ref.stage != 4 else []
        rows += [(n.tag or f"Ablation {i}", n) for i, n in enumerate(ablations, start=1)]
        abl = results_table(rows, "tab:ablations", "Ablations: each row removes or changes one component.")
        if abl:
            tables.append(abl)
    return tables


def key_results(journal: Journal) -> list[str]:
    labels = row_labels(journal)
    lines = []
    for s in (1, 2, 3):
        best = journal.best_node(s)
        if best is not None:
            lines.append(f"{labels[s]}: {_result_text(best)}")
    for n in journal.good_nodes(4):
        if n.kind != "seed":
            lines.append(f"Ablation '{n.tag or n.id}': {_result_text(n)}")
    return lines


def load_figures(run: RunDir, journal: Journal) -> list[FigureInfo]:
    figs_dir = run.figures_dir
    captions = run.captions_path
    out: list[FigureInfo] = []
    if captions.is_file():
        try:
            entries = json.loads(captions.read_text(encoding="utf-8")).get("figures", [])
        except ValueError as exc:
            raise UserInputError(f"{captions} is not valid JSON: {exc}") from exc
        for e in entries:
            name = str(e.get("name") or Path(str(e.get("png", "figure"))).stem)
            cands = [figs_dir / str(e[k]) for k in ("pdf", "png") if e.get(k)]
            src = next((p for p in cands if p.is_file()), None)
            if src is None:
                log.warning("figure %s listed in captions.json has no file; left out", name)
                continue
            out.append(
                FigureInfo(
                    name=name,
                    source=src,
                    file=src.name,
                    caption=str(e.get("caption") or name.replace("_", " ")),
                    label=str(e.get("label") or f"fig:{name}"),
                )
            )
        return out
    best = journal.best_node()
    if best is None:
        return out
    for rel in best.plots:
        src = run.node_dir(best.id) / rel
        if src.is_file():
            name = src.stem
            out.append(
                FigureInfo(
                    name=name,
                    source=src,
                    file=f"{best.id}_{src.name}",
                    caption=f"{name.replace('_', ' ').capitalize()} of the best experiment.",
                    label=f"fig:{name}",
                )
            )
    return out


def seed_rows(journal: Journal) -> list[tuple[str, Node, list[Node]]]:
    rows: list[tuple[str, Node, list[Node]]] = []
    for s in (1, 2, 3):
        best = journal.best_node(s)
        if best is not None and best.id not in {n.id for _, n, _ in rows}:
            rows.append((row_labels(journal)[s], best, [x for x in journal.seed_runs(best.id) if x.is_good]))
    return [r for r in rows if r[2]]


def build_context(run: RunDir) -> WriterContext:
    """Everything the section writer needs, from ``run`` (raises UserInputError when there is nothing to write)."""
    journal = run.journal()
    best = journal.best_node()
    if best is None:
        raise UserInputError(
            f"{run.journal_path} has no successful experiment node; there are no results to write about "
            "(run the experiments first)"
        )
    idea = run.chosen_idea()
    method_node = journal.best_node(3) or best
    fact_list = collect(journal, counts(journal))
    comparison = compare(journal)
    if comparison is not None and comparison.p_value is not None:
        fact_list += [
            Fact(value=comparison.p_value, kind="metric", source="Welch t-test over the seed values, p-value"),
            Fact(
                value=ALPHA,
                kind="setting",
                source="significance level of the test",
                resolution=2,
                context=["significance", "level", "alpha", "test"],
            ),
        ]
    return WriterContext(
        idea=idea,
        stages=summarize_stages(journal),
        facts=fact_list,
        tables=build_tables(journal),
        figures=load_figures(run, journal),
        key_results=key_results(journal),
        method_plan=_first_line(method_node.plan, 1500),
        datasets=sorted({ds for n in journal.good_nodes() for m in n.metric.metrics for ds in m.values}),
        seeds=_seed_count(method_node) or _seed_count(best),
        seed_table=seed_table(seed_rows(journal)),
        comparison=comparison,
        key_sentences=key_sentences(comparison),
        data=data_summary(run),
    )
