"""The recorded values a number in the paper may state, each with where it came from (the provenance).

A *fact* is a value the run recorded and the writer was shown: a reported configuration's metric (the mean over
its seeds when it was re-run with seeds, else its single run), its standard error, each seed's own value, the
difference between two reported rows of the same metric and dataset, a setting (a number in a reported node's
plan, tag or an assignment in its code: learning rates, sizes, epochs), and counts (seeds, runs per stage,
datasets). Only reported nodes (each stage's best, the ablations, their seed runs) give facts: the writer never
sees the other nodes' values, so it cannot legitimately quote them.

Matching (``match``): a number printed with decimals must equal a fact at the precision the tables print
(``floats.fmt``) or finer, so a metric is quoted as in the key results, not rounded to a coarser value that many
numbers would hit; a setting or count matches exactly as recorded, and only where the quoting sentence names it
(``agents.writeup.fact_context``: "a learning rate of 0.05" states ``LR = 0.05``, a bare 0.05 does not); a
percentage (one decimal at least) matches a fact read as a fraction (``24.5\\%`` for 0.245) or a relative
difference of two reported rows, and a setting written as a percentage (``20\\%`` for ``test_size=0.2``).
"""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import BaseModel, Field

from agents.experiments.journal import Journal, Metric, Node
from agents.writeup.fact_context import code_constant_names, mentions, sentence_words, words_for, words_near

FactKind = Literal["metric", "std_err", "seed_value", "seed_id", "difference", "relative", "setting", "count"]

_RATE = re.compile(r"acc|err|rate|f1|auc|prec|recall|score|pct|percent|fraction", re.I)  # a percentage makes sense
_SETTING = re.compile(r"(?<![\w.])(\d+\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\d+)(?![\w.])")


_PREFERENCE: dict[str, int] = {
    "metric": 0, "std_err": 1, "difference": 2, "relative": 3, "count": 4, "seed_value": 5, "setting": 6,
    "seed_id": 7,
}  # fmt: skip


class Fact(BaseModel):
    value: float
    kind: FactKind
    source: str
    node_id: str | None = None
    metric: str = ""
    seeds: int = 0
    resolution: int | None = Field(default=None, description="decimals as recorded (settings, counts)")
    context: list[str] = Field(
        default_factory=list, description="words naming a setting or count; the quoting sentence must use one"
    )


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


def _code_constants(code: str) -> list[tuple[str, list[str]]]:
    """The numeric constants of a program as written (its settings: sizes, epochs, learning rates...), each with
    the words naming it (its variable, keyword or key; see ``fact_context.code_constant_names``)."""
    found = code_constant_names(code)
    if not found and code.strip():
        try:
            compile(code, "<program>", "exec")
        except (SyntaxError, ValueError):
            return [(raw, []) for raw in _SETTING.findall(code)]  # unparsable: the numbers as text, unnamed
    names: dict[str, list[str]] = {}
    for raw, given in found:
        names.setdefault(raw, []).extend(given)
    return [(raw, words_for(given)) for raw, given in names.items()]


def _settings(node: Node) -> list[tuple[float, str, int, list[str]]]:
    """(value, source, resolution as recorded, naming words): "0.1" is recorded with one decimal, so "0.10" does
    not state it."""
    found: list[tuple[float, str, int, list[str]]] = []
    for text in (node.plan, node.tag.replace("=", " ")):
        for m in _SETTING.finditer(text):
            raw = m.group(1)
            where = f"setting {raw} in the plan of node {node.id}"
            found.append((float(raw), where, _resolution(raw), words_near(text, m.start(), m.end())))
    for raw, words in sorted(_code_constants(node.code), key=lambda c: float(c[0])):
        found.append((abs(float(raw)), f"setting {raw} in the code of node {node.id}", _resolution(raw), words))
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
                add(float(seed.seed), "seed_id", f"seed {seed.seed} of node {node.id}", node_id=seed.id, resolution=0,
                    context=["seed"])  # fmt: skip
            for m in seed.metric.metrics if seed.is_good else []:
                for ds, v in m.values.items():
                    add(v, "seed_value", f"node {seed.id}: {m.name} on {ds}, seed {seed.seed} of node {node.id}",
                        node_id=seed.id, metric=m.name)  # fmt: skip
        for value, where, res, words in _settings(node):
            add(value, "setting", where, node_id=node.id, resolution=res, context=words)
    for metric, ds, (a, ia), (b, ib) in _compared_pairs(journal, groups):
        add(abs(b - a), "difference", f"difference of {metric} on {ds}, nodes {ia} and {ib}", metric=metric)
        if a != 0:  # relative to the reference row (the earlier stage, or the full method for an ablation)
            rel = f"relative difference of {metric} on {ds}, node {ib} against node {ia}"
            add(abs(b - a) / abs(a), "relative", rel, metric=metric)
    for what, count in (extra_counts or {}).items():
        add(float(count), "count", what, resolution=0, context=_count_words(what))
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


def _count_words(what: str) -> list[str]:
    """The words of a count's description, less node ids ("runs in stage 4" -> runs, ran, experiment, ..., stage)."""
    return words_for(re.sub(r"\bnode [0-9a-f]+\b", " ", what).split())


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


def match(raw: str, value: float, facts: list[Fact], *, integer: bool, context: str) -> Fact | None:
    """The fact a number as printed states, or None. ``context``: the sentence (or the whole table or caption)
    that quotes the number; a setting or count must be named there."""
    pct = raw.endswith("%")
    decimals, exponent = _decimals(raw)
    words: set[str] | None = None
    for f in sorted(facts, key=lambda x: _PREFERENCE[x.kind]):  # the most specific source first
        if f.kind in ("setting", "count", "seed_id"):
            if pct:
                # "20%" for test_size=0.2, or a setting recorded as a percentage (PCT = 20)
                stated = _equal_at(value / 100.0, f.value, decimals + 2, exponent) or _as_recorded(raw, value, f)
            else:
                stated = _as_recorded(raw, value, f)
            if stated:
                words = sentence_words(context) if words is None else words
                if mentions(words, f.context):
                    return f
            continue
        if pct:
            measured = f.kind == "relative" or (
                f.kind in ("metric", "difference") and _RATE.search(f.metric) is not None
            )
            if decimals >= 1 and measured and _equal_at(value / 100.0, f.value, decimals + 2, exponent):
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
