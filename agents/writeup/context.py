"""The writer's inputs, built from a run directory: the idea, per-stage journal summaries, metric facts, results
tables generated from metrics (never typed by the model) and the final figures with their captions.

Choices written down here:
- The idea is the one in ``ideas.json`` whose name or title appears in ``idea.md``; the first one otherwise.
- The main table has one row per stage (its best node): initial implementation, tuned baseline, proposed
  method; the ablation table has the stage-4 nodes next to the stage-3 best. Cells show mean +- standard error
  where seed runs filled ``Metric.std_err``; the best cell of each column is bold (direction-aware).
- Every metric value and standard error of every good node (seed runs included) is a *fact*: a number in the
  paper must match one of them (see ``agents.writeup.integrity``).
- Figures come from ``figures/captions.json`` (PDF preferred, PNG otherwise); without it, the best node's own
  plots are used with a generic caption.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from pydantic import BaseModel, Field

from agents.data.session import data_summary
from agents.errors import UserInputError
from agents.experiments.journal import Journal, Node
from agents.ideation.schema import Idea
from agents.rundir import RunDir
from agents.writeup.floats import ResultsTable, fmt, results_table

log = logging.getLogger(__name__)

STAGE_NAMES = {1: "initial implementation", 2: "baseline tuning", 3: "creative research", 4: "ablations"}
ROW_LABELS = {1: "Initial implementation", 2: "Tuned baseline", 3: "Proposed method"}


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


class MetricFact(BaseModel):
    node_id: str
    stage: int
    kind: str
    metric: str
    dataset: str
    value: float
    std_err: float | None = None


class FigureInfo(BaseModel):
    name: str
    source: Path = Field(description="absolute path of the file in the run")
    file: str = Field(description="file name inside paper/figures/")
    caption: str
    label: str


class WriterContext(BaseModel):
    idea: Idea
    stages: list[StageSummary]
    facts: list[MetricFact]
    tables: list[ResultsTable]
    figures: list[FigureInfo]
    key_results: list[str] = Field(description="formatted numbers the model may quote, one line each")
    method_plan: str
    datasets: list[str]
    seeds: int = 0
    config_numbers: list[float] = Field(
        default_factory=list, description="numbers in the good nodes' plans and tags (hyperparameters): quotable"
    )
    data: str = Field(default="", description="the user's goal, metric and data card (runs with --data)")


def _pick_idea(run: Path) -> Idea:
    path = run / "ideas.json"
    if not path.is_file():
        raise UserInputError(f"{run} has no ideas.json; run ideation first (`shoal ideate`)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        ideas = [Idea.model_validate(i) for i in raw["ideas"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise UserInputError(f"{path} is not a valid ideas file: {exc}") from exc
    if not ideas:
        raise UserInputError(f"{path} holds no ideas")
    md = run / "idea.md"
    if md.is_file():
        text = md.read_text(encoding="utf-8").lower()
        for idea in ideas:
            if idea.title.lower() in text or idea.name in text:
                return idea
    return ideas[0]


def _first_line(text: str, limit: int = 600) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _result_text(node: Node) -> str:
    parts = []
    for m in node.metric.metrics:
        for ds in m.values:
            se = m.std_err.get(ds)
            parts.append(f"{m.name} on {ds} = {fmt(m.values[ds])}" + (f" ± {fmt(se)}" if se is not None else ""))
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


def collect_facts(journal: Journal) -> list[MetricFact]:
    facts = []
    for n in journal.nodes:
        if not n.is_good:
            continue
        for m in n.metric.metrics:
            for ds, v in m.values.items():
                facts.append(
                    MetricFact(
                        node_id=n.id, stage=n.stage, kind=n.kind, metric=m.name, dataset=ds, value=v,
                        std_err=m.std_err.get(ds),
                    )
                )  # fmt: skip
    return facts


def _seed_count(journal: Journal, node: Node) -> int:
    return sum(1 for n in journal.children(node.id) if n.kind == "seed" and n.is_good)


def build_tables(journal: Journal) -> list[ResultsTable]:
    tables: list[ResultsTable] = []
    main_rows = [(ROW_LABELS[s], b) for s in (1, 2, 3) if (b := journal.best_node(s)) is not None]
    seeds = max((_seed_count(journal, n) for _, n in main_rows), default=0)
    note = f" Mean $\\pm$ standard error over {seeds} seeds where shown." if seeds else ""
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
    lines = []
    for s in (1, 2, 3):
        best = journal.best_node(s)
        if best is not None:
            lines.append(f"{ROW_LABELS[s]}: {_result_text(best)}")
    for n in journal.good_nodes(4):
        if n.kind != "seed":
            lines.append(f"Ablation '{n.tag or n.id}': {_result_text(n)}")
    return lines


def load_figures(run: Path, journal: Journal) -> list[FigureInfo]:
    figs_dir = run / "figures"
    captions = figs_dir / "captions.json"
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
        src = run / "nodes" / best.id / rel
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


def config_numbers(journal: Journal) -> list[float]:
    """Hyperparameter values recorded in good nodes' plans and tags ("noise scale 0.5", "l2=0.05")."""
    found: set[float] = set()
    for n in journal.nodes:
        if n.is_good:
            for raw in re.findall(r"(?<![\w.])\d+\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+", f"{n.plan} {n.tag}"):
                found.add(float(raw))
    return sorted(found)


def build_context(run: Path) -> WriterContext:
    """Everything the section writer needs, from ``run`` (raises UserInputError when there is nothing to write)."""
    idea = _pick_idea(run)
    journal = Journal.load(run / "journal.json")
    best = journal.best_node()
    if best is None:
        raise UserInputError(
            f"{run / 'journal.json'} has no successful experiment node; there are no results to write about "
            "(run the experiments first)"
        )
    method_node = journal.best_node(3) or best
    facts = collect_facts(journal)
    return WriterContext(
        idea=idea,
        stages=summarize_stages(journal),
        facts=facts,
        tables=build_tables(journal),
        figures=load_figures(run, journal),
        key_results=key_results(journal),
        method_plan=_first_line(method_node.plan, 1500),
        datasets=sorted({f.dataset for f in facts}),
        seeds=_seed_count(journal, best),
        config_numbers=config_numbers(journal),
        data=data_summary(RunDir(run)),
    )
