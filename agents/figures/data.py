"""What a node saved, summarised for prompts: metrics and the shape of every ``results/*.json`` file.

The plotting model never sees a raw data dump: it sees names, lengths and ranges, and its script reads the files.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_FILES = 8
MAX_JSON_BYTES = 64 << 20
MAX_KEYS = 12


def load_json(path: Path) -> Any:
    """A node's JSON file, or None when it is unreadable, not JSON, or over MAX_JSON_BYTES (loaded with Shoal's
    memory; the program that wrote it is untrusted)."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            log.warning("%s is over %d MiB; not read", path, MAX_JSON_BYTES >> 20)
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def result_files(node_dir: Path) -> list[Path]:
    folder = node_dir / "results"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def has_plot_data(node_dir: Path) -> bool:
    return bool(result_files(node_dir)) or (node_dir / "metrics.json").is_file()


def _describe(value: Any) -> str:
    if isinstance(value, list):
        nums = [v for v in value if isinstance(v, int | float) and not isinstance(v, bool)]
        if nums and len(nums) == len(value):
            finite = [v for v in nums if math.isfinite(v)]
            rng = f", range {min(finite):.4g}..{max(finite):.4g}" if finite else ", no finite values"
            bad = len(nums) - len(finite)
            return f"list of {len(value)} numbers{rng}" + (f", {bad} NaN/inf" if bad else "")
        if value and all(isinstance(v, list) for v in value):
            return f"list of {len(value)} lists (e.g. length {len(value[0])})"
        return f"list of {len(value)} values, e.g. {json.dumps(value[:3])[:60]}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"number {value:.4g}"
    if isinstance(value, str):
        return f"text {value[:40]!r}"
    return type(value).__name__


def summarize_results(node_dir: Path, var: str = "results", folder: str = "results/") -> list[str]:
    """Each results file with the exact expression that reaches each key (weak models guess the nesting wrong)."""
    lines: list[str] = []
    for path in result_files(node_dir)[:MAX_FILES]:
        data = load_json(path)
        name = path.name[: -len(".json")]
        lines.append(f"{var}[{name!r}]  (the file {folder}{path.name}):")
        if not isinstance(data, dict):
            lines.append("  (not a JSON object)")
            continue
        for key, value in list(data.items())[:MAX_KEYS]:
            lines.append(f"  {var}[{name!r}][{key!r}]: {_describe(value)}")
    return lines


def summarize_metrics(node_dir: Path) -> list[str]:
    data = load_json(node_dir / "metrics.json")
    if not isinstance(data, dict):
        return []
    lines = []
    for i, m in enumerate(data.get("metrics", [])[:MAX_KEYS]):
        if not isinstance(m, dict):
            continue
        vals = {d: round(v, 4) for d, v in (m.get("values") or {}).items() if isinstance(v, int | float)}
        se = {d: round(v, 4) for d, v in (m.get("std_err") or {}).items() if isinstance(v, int | float)}
        line = f"  [{i}] name={m.get('name')!r} direction={m.get('direction', 'maximize')!r} values={vals}"
        lines.append(line + (f" std_err={se}" if se else ""))
    return lines


def summarize_node_data(node_dir: Path, folder: str = "") -> str:
    """A short text: metrics.json and each results file's keys with their lengths and ranges. ``folder`` is where
    the script finds the node's files ("" for its own dir, "data/<id>/" in the aggregation's working dir)."""
    lines: list[str] = []
    metrics = summarize_metrics(node_dir)
    if metrics:
        lines.append(f"load_metrics({(folder.rstrip('/') or '.')!r})  (the file {folder}metrics.json):")
        lines.extend(metrics)
    var = "results" if not folder else f"load_results({folder.rstrip('/')!r})"
    lines.extend(summarize_results(node_dir, var=var, folder=f"{folder}results/"))
    return "\n".join(lines) if lines else "(the node saved no results)"


X_KEYS = ("epoch", "epochs", "step", "steps", "iteration", "iter", "round", "x")


def example_series(node_dir: Path) -> dict[str, str] | None:
    """A real (file, x key, y key) of the node's results, to make the prompt's example concrete: a weak model
    copies an example's placeholders literally, so the example names data that exists."""
    for path in result_files(node_dir):
        data = load_json(path)
        if not isinstance(data, dict):
            continue
        lists = {k: v for k, v in data.items() if _numeric_list(v)}
        if len(lists) < 2:
            continue
        x = next((k for k in lists if k.lower() in X_KEYS), next(iter(lists)))
        ys = [k for k in lists if k != x and len(lists[k]) == len(lists[x])]
        if ys:
            return {"file": path.name[: -len(".json")], "x": x, "y": ys[0]}
    return None


def _numeric_list(v: Any) -> bool:
    return isinstance(v, list) and len(v) > 1 and all(isinstance(a, int | float) and not isinstance(a, bool) for a in v)
