"""Deterministic aggregation script: used when the model's script gives no usable figure in its bounded rounds.

Copied into ``figures/work/`` as ``fallback.py`` and run in the sandbox like a model's script, under the probe and
the lint. It reads only ``data/nodes.json`` and ``data/<id>/{metrics.json,results/*.json}`` and makes:

- ``fig_metric_comparison``: the primary metric of every experiment (mean over datasets), with std_err bars;
- ``fig_learning_curves``: the results file most experiments share, its validation-like series against its
  first series (epoch/step), one line per experiment.

It writes ``fallback_captions.json`` with a caption per figure it made.
"""

from __future__ import annotations

import json
import os
from collections import Counter

import matplotlib.pyplot as plt
from shoal_figstyle import PALETTE, apply_style, load_metrics, load_results, save_figure

X_KEYS = ("epoch", "epochs", "step", "steps", "iteration", "iter", "round", "x")


def _numeric_list(v: object) -> bool:
    return isinstance(v, list) and len(v) > 1 and all(isinstance(a, int | float) for a in v)


def _seed_band(seeds: list, name: str, xkey: str, ykey: str):  # type: ignore[no-untyped-def]
    """Mean ± standard error of ``ykey`` over the seed re-runs, per ``xkey`` value (None without 2+ seeds)."""
    runs = []
    for s in seeds:
        data = load_results(os.path.join("data", s["id"])).get(name) or {}
        if _numeric_list(data.get(xkey)) and _numeric_list(data.get(ykey)) and len(data[xkey]) == len(data[ykey]):
            runs.append((data[xkey], data[ykey]))
    if len(runs) < 2 or any(r[0] != runs[0][0] for r in runs):
        return None
    k = len(runs)
    mean = [sum(r[1][i] for r in runs) / k for i in range(len(runs[0][0]))]
    se = [(sum((r[1][i] - mean[i]) ** 2 for r in runs) / (k - 1)) ** 0.5 / k**0.5 for i in range(len(mean))]
    return runs[0][0], [m - e for m, e in zip(mean, se, strict=True)], [m + e for m, e in zip(mean, se, strict=True)]


def main() -> None:
    apply_style()
    with open("data/nodes.json", encoding="utf-8") as fh:
        everything = json.load(fh)
    nodes = [n for n in everything if n.get("kind") != "seed"]
    seeds = [n for n in everything if n.get("kind") == "seed"]
    color = {n["id"]: PALETTE[i % len(PALETTE)] for i, n in enumerate(nodes)}
    captions: dict[str, str] = {}

    rows = []
    for n in nodes:
        metrics = load_metrics(os.path.join("data", n["id"]))
        if metrics and metrics[0].get("values"):
            m = metrics[0]
            vals = list(m["values"].values())
            ses = list((m.get("std_err") or {}).values())
            rows.append((n, m["name"].replace("_", " "), sum(vals) / len(vals), (sum(ses) / len(ses)) if ses else 0.0))
    if rows:
        fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(rows) + 1.5), 3.4))
        xs = range(len(rows))
        ax.bar(xs, [r[2] for r in rows], yerr=[r[3] for r in rows], capsize=4, color=[color[r[0]["id"]] for r in rows])
        ax.set_xticks(list(xs), [r[0]["label"] for r in rows], rotation=20, ha="right")
        ax.set_xlabel("experiment")
        ax.set_ylabel(rows[0][1])
        ax.set_title(f"{rows[0][1]} by experiment")
        save_figure(fig, "fig_metric_comparison", pdf=True)
        has_se = any(r[3] for r in rows)
        captions["fig_metric_comparison"] = f"{rows[0][1].capitalize()} of each experiment (mean over datasets)" + (
            "; error bars show the standard error over seed re-runs where available." if has_se else "."
        )

    results = {n["id"]: load_results(os.path.join("data", n["id"])) for n in nodes}
    common = Counter(name for r in results.values() for name in r)
    for name, _count in common.most_common():
        series = {}
        for n in nodes:
            data = results[n["id"]].get(name) or {}
            lists = {k: v for k, v in data.items() if _numeric_list(v)}
            if len(lists) < 2:
                continue
            xkey = next((k for k in lists if k.lower() in X_KEYS), next(iter(lists)))
            ykeys = [k for k in lists if k != xkey and len(lists[k]) == len(lists[xkey])]
            ykey = next((k for k in ykeys if "val" in k.lower()), ykeys[0] if ykeys else None)
            if ykey:
                series[n["id"]] = (xkey, ykey, lists[xkey], lists[ykey])
        if not series:
            continue
        fig, ax = plt.subplots(figsize=(7.0, 3.4))  # room for the legend outside the axes
        for node_id, (_, _, xs_, ys_) in series.items():
            label = next(n["label"] for n in nodes if n["id"] == node_id)
            ax.plot(xs_, ys_, label=label, color=color[node_id])
        xkey, ykey = next(iter(series.values()))[:2]
        best = next((n["id"] for n in nodes if n.get("is_best") and n["id"] in series), None)
        band = _seed_band(seeds, name, xkey, ykey)
        if best is not None and band is not None:
            xs_, lo, hi = band
            ax.fill_between(xs_, lo, hi, color=color[best], alpha=0.2, label=f"{len(seeds)} seeds: mean ± s.e.")
        ax.set_xlabel(xkey.replace("_", " "))
        ax.set_ylabel(ykey.replace("_", " "))
        ax.set_title(f"{ykey.replace('_', ' ')} ({name.replace('_', ' ')})")
        if len(series) > 1 or band is not None:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside the axes: never over the data
        save_figure(fig, "fig_learning_curves", pdf=True)
        captions["fig_learning_curves"] = (
            f"{ykey.replace('_', ' ')} against {xkey.replace('_', ' ')} per experiment"
            + (
                f"; the band shows the mean ± standard error over {len(seeds)} seeds of the best experiment."
                if band
                else "."
            )
        )
        break
    with open("fallback_captions.json", "w", encoding="utf-8") as fh:
        json.dump(captions, fh, indent=1)


if __name__ == "__main__":
    main()
