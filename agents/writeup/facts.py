"""The recorded values a number in the paper may state, each with where it came from (the provenance).

A *fact* is a value the run recorded and the writer was shown: a reported configuration's metric (the mean over
its seeds when it was re-run with seeds, else its single run), its standard error, each seed's own value, the
difference between two reported rows of the same metric and dataset, a setting (a number in a reported node's
plan, tag or an assignment in its code: learning rates, sizes, epochs), and counts (seeds, runs per stage,
datasets). Only reported nodes (each stage's best, the ablations, their seed runs) give facts: the writer never
sees the other nodes' values, so it cannot legitimately quote them.

Matching (``match``): a number printed with decimals must equal a fact at the precision the tables print
(``floats.fmt``) or finer, so a metric is quoted as in the key results, not rounded to a coarser value that many
numbers would hit; a setting or count matches exactly as recorded; a percentage (one decimal at least) matches
a fact read as a fraction (``24.5\\%`` for 0.245) or a relative difference of two reported rows.
"""

from __future__ import annotations

import ast
import math
import re
from typing import Literal

from pydantic import BaseModel, Field

from agents.experiments.journal import Journal, Metric, Node

FactKind = Literal["metric", "std_err", "seed_value", "difference", "relative", "setting", "count"]

_RATE = re.compile(r"acc|err|rate|f1|auc|prec|recall|score|pct|percent|fraction", re.I)  # a percentage makes sense
_SETTING = re.compile(r"(?<![\w.])(\d+\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\d+)(?![\w.])")


_PREFERENCE: dict[str, int] = {
    "metric": 0, "std_err": 1, "difference": 2, "relative": 3, "count": 4, "seed_value": 5, "setting": 6,
}  # fmt: skip


class Fact(BaseModel):
    value: float
    kind: FactKind
    source: str
    node_id: str | None = None
    metric: str = ""
    seeds: int = 0
    resolution: int | None = Field(default=None, description="decimals as recorded (settings, counts)")


def reported(metric: Metric, dataset: str) -> tuple[float, float | None, int]:
    """(value, standard error, n seeds) as the paper reports it: the mean over seeds when seed runs exist."""
    if metric.n_seeds > 1 and dataset in metric.seed_mean:
        return metric.seed_mean[dataset], metric.std_err.get(dataset), metric.n_seeds
    return metric.values[dataset], metric.std_err.get(dataset), 1


def reported_nodes(journal: Journal) -> list[Node]:
    """The nodes the paper reports: each stage's best (1-3) and the stage-4 ablations."""
    out: list[Node] = []
    for s in (1, 2, 3):
        best = journal.best_node(s)
        if best is not None and best not in out:
            out.append(best)
    out += [n for n in journal.good_nodes(4) if n.kind != "seed" and n not in out]
    return out


def _code_constants(code: str) -> list[str]:
    """The numeric constants of a program as written (its settings: sizes, epochs, learning rates...)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return list(_SETTING.findall(code))
    return [
        repr(n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, int | float) and not isinstance(n.value, bool)
    ]


def _settings(node: Node) -> list[tuple[float, str, int]]:
    """(value, source, resolution as recorded): "0.1" is recorded with one decimal, so "0.10" does not state it."""
    found: list[tuple[float, str, int]] = []
    for raw in _SETTING.findall(f"{node.plan} {node.tag}"):
        found.append((float(raw), f"setting {raw} in the plan of node {node.id}", _resolution(raw)))
    for raw in sorted(set(_code_constants(node.code)), key=float):
        found.append((abs(float(raw)), f"setting {raw} in the code of node {node.id}", _resolution(raw)))
    return found


def _resolution(raw: str) -> int:
    decimals, exponent = _decimals(raw)
    if decimals == 1 and raw.rstrip("%").lower().split("e")[0].endswith(".0"):
        decimals = 0  # Python writes the integer-valued float 200.0; the program's author wrote 200
    return decimals - exponent


def collect(journal: Journal, extra_counts: dict[str, int] | None = None) -> list[Fact]:
    """Every fact of the run's reported nodes, plus counts (``extra_counts``: what -> value)."""
    facts: list[Fact] = []

    def add(value: float, kind: FactKind, source: str, **kw: object) -> None:
        facts.append(Fact.model_validate({"value": value, "kind": kind, "source": source, **kw}))

    groups: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for node in reported_nodes(journal):
        for m in node.metric.metrics:
            for ds in m.values:
                value, se, n = reported(m, ds)
                what = f"node {node.id}: {m.name} on {ds}"
                tags = {"node_id": node.id, "metric": m.name, "seeds": n}
                add(value, "metric", f"{what} ({f'mean over {n} seeds' if n > 1 else 'single run'})", **tags)
                groups.setdefault((m.name, ds), []).append((value, node.id))
                if se is not None:
                    add(se, "std_err", f"{what}, standard error over {n} seeds", **tags)
                if n > 1:
                    add(m.values[ds], "seed_value", f"{what}, the configuration's own run", **tags)
        for seed in journal.seed_runs(node.id):
            if seed.seed is not None and seed.is_good:
                add(float(seed.seed), "setting", f"seed {seed.seed} of node {node.id}", node_id=seed.id, resolution=0)
            for m in seed.metric.metrics if seed.is_good else []:
                for ds, v in m.values.items():
                    add(v, "seed_value", f"node {seed.id}: {m.name} on {ds}, seed {seed.seed} of node {node.id}",
                        node_id=seed.id, metric=m.name)  # fmt: skip
        for value, where, res in _settings(node):
            add(value, "setting", where, node_id=node.id, resolution=res)
    for metric, ds, (a, ia), (b, ib) in _compared_pairs(journal, groups):
        add(abs(b - a), "difference", f"difference of {metric} on {ds}, nodes {ia} and {ib}", metric=metric)
        if a != 0:  # relative to the reference row (the earlier stage, or the full method for an ablation)
            rel = f"relative difference of {metric} on {ds}, node {ib} against node {ia}"
            add(abs(b - a) / abs(a), "relative", rel, metric=metric)
    for what, count in (extra_counts or {}).items():
        add(float(count), "count", what, resolution=0)
    return [f for f in facts if math.isfinite(f.value)]


def _compared_pairs(
    journal: Journal, groups: dict[tuple[str, str], list[tuple[float, str]]]
) -> list[tuple[str, str, tuple[float, str], tuple[float, str]]]:
    """The comparisons the tables invite: the main table's rows pairwise, each ablation against the full method."""
    main = [n.id for n in (journal.best_node(s) for s in (1, 2, 3)) if n is not None]
    full = main[-1] if main else None
    out = []
    for (metric, ds), vals in groups.items():
        by_id = {i: v for v, i in vals}
        rows = [i for i in main if i in by_id]
        pairs = [(a, b) for k, a in enumerate(rows) for b in rows[k + 1 :]]
        pairs += [(full, i) for i in by_id if i not in main and full in by_id]
        out += [(metric, ds, (by_id[a], a), (by_id[b], b)) for a, b in pairs if a is not None]
    return out


def counts(journal: Journal) -> dict[str, int]:
    """The counts a paper may state: seeds, runs per stage, datasets, stages."""
    out: dict[str, int] = {"runs of a configuration without seed re-runs": 1}
    for node in reported_nodes(journal):
        p = node.metric.primary
        if p is not None and p.n_seeds > 1:
            out[f"seeds of node {node.id}"] = p.n_seeds
    for s in sorted({n.stage for n in journal.nodes}):
        nodes = journal.stage_nodes(s)
        out[f"runs in stage {s}"] = len(nodes)
        out[f"successful runs in stage {s}"] = sum(n.is_good for n in nodes)
        out[f"failed runs in stage {s}"] = sum(n.is_buggy for n in nodes)
    out["runs in the search"] = len(journal.nodes)
    datasets = {ds for n in journal.good_nodes() for m in n.metric.metrics for ds in m.values}
    out["datasets"] = len(datasets)
    out["stages of the search"] = len({n.stage for n in journal.nodes})
    for s in sorted({n.stage for n in journal.nodes}):
        out.setdefault(f"stage number {s}", s)
    return out


def _decimals(raw: str) -> tuple[int, int]:
    """(decimals printed, exponent) of a number as written."""
    body = raw.rstrip("%")
    mant, _, exp = body.lower().partition("e")
    return (len(mant.split(".")[1]) if "." in mant else 0), int(exp or 0)


def _canonical_decimals(value: float) -> int:
    """Decimals ``floats.fmt`` prints for ``value`` (significant digits below 1e-3)."""
    a = abs(value)
    if a == 0:
        return 0
    if a < 1e-3:
        return max(0, 1 - math.floor(math.log10(a)))
    return 3 if a < 10 else 2 if a < 100 else 1 if a < 1000 else 0


def _equal_at(raw_value: float, fact: float, decimals: int, exponent: int) -> bool:
    unit = 10.0 ** (exponent - decimals)
    return abs(abs(raw_value) - abs(fact)) <= 0.5 * unit + 1e-12 * max(1.0, abs(fact))


def match(raw: str, value: float, facts: list[Fact], *, integer: bool) -> Fact | None:
    """The fact a number as printed states, or None."""
    pct = raw.endswith("%")
    decimals, exponent = _decimals(raw)
    for f in sorted(facts, key=lambda x: _PREFERENCE[x.kind]):  # the most specific source first
        if pct:
            measured = f.kind == "relative" or (
                f.kind in ("metric", "difference") and _RATE.search(f.metric) is not None
            )
            if decimals >= 1 and measured and _equal_at(value / 100.0, f.value, decimals + 2, exponent):
                return f
            if f.kind in ("setting", "count") and _as_recorded(raw, value, f):
                return f
            continue
        if f.kind in ("setting", "count"):
            if _as_recorded(raw, value, f):
                return f
            continue
        if f.kind == "relative" or integer:
            continue
        if decimals - exponent >= _canonical_decimals(f.value) and _equal_at(value, f.value, decimals, exponent):
            return f
    return None


def _as_recorded(raw: str, value: float, fact: Fact) -> bool:
    """A setting or count, equal and written at the resolution it was recorded with."""
    same = math.isclose(abs(value), fact.value, rel_tol=1e-9, abs_tol=1e-12)
    return same and (fact.resolution is None or _resolution(raw) == fact.resolution)
