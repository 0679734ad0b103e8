"""Benchmark the figures stage: model calls per final figure, and lint time per figure.

    .venv/bin/python bench/bench_figures.py [--model scripted|embedded] [--repeat 5] [--json]

A small real journal is built first: seven real numpy experiment runs in the local sandbox (the test fixture
``tests/figures_support.py``). Then:

- ``--model scripted`` (default): three aggregation scenarios against the scripted OpenAI-compatible server, each
  through the real client, sandbox, probe, lint and critic: ``clean`` (the first script is clean), ``one_fix``
  (the first script has a lint warning, one fix round), ``fallback`` (the model never writes a working script:
  the deterministic figures). Calls are counted from the run's ledger (requests actually sent).
- ``--model embedded``: one aggregation and one per-node plot with the real embedded model (slow: minutes).
- lint time: ``lint_figures`` over every final PNG, ``--repeat`` times; reported per figure (pixels + probe
  metadata + hash), with the probe's own cost (script run with and without the probe) for context.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the real-journal fixture lives with the tests

from figures_support import build_journal, local_sandbox, node_from_dir  # noqa: E402

from agents.figures.aggregate import aggregate_figures  # noqa: E402
from agents.figures.lint import lint_figures  # noqa: E402
from agents.figures.node_plots import plot_node  # noqa: E402
from agents.figures.runner import install_helpers  # noqa: E402
from agents.llm import LLM, Ledger, read_ledger  # noqa: E402
from agents.rundir import RunDir, create_run  # noqa: E402
from agents.settings import ROLES, Settings, load_settings  # noqa: E402
from agents.testing import (  # noqa: E402
    ScriptedServer,
    json_reply,
    text,
)

PLAN = {
    "figures": [
        {
            "name": "fig_learning_curves",
            "description": "validation loss per epoch",
            "nodes": ["draft1", "tune1", "improve1"],
            "caption": "Validation loss during training.",
        },
        {
            "name": "fig_accuracy",
            "description": "final validation accuracy with seed error bars",
            "nodes": ["draft1", "tune1", "improve1", "ablate1"],
            "caption": "Final validation accuracy.",
        },
    ]
}
SCRIPT = """```python
import json
import matplotlib.pyplot as plt
from shoal_figstyle import PALETTE, apply_style, load_metrics, load_results, save_figure
apply_style()
NODES = json.load(open("data/nodes.json"))
LABEL = {n["id"]: n["label"] for n in NODES}
fig, ax = plt.subplots()
for nid in ["draft1", "tune1", "improve1"]:
    c = load_results("data/" + nid)["learning_curve"]
    ax.plot(c["epoch"], c["val_loss"], label=LABEL[nid])
ax.set_xlabel("epoch"); ax.set_ylabel("validation loss"); ax.set_title("Learning curves"); ax.legend(loc="upper right")
save_figure(fig, "fig_learning_curves", pdf=True)
fig, ax = plt.subplots()
ids = ["draft1", "tune1", "improve1", "ablate1"]
m = [load_metrics("data/" + i)[0] for i in ids]
ax.bar(range(4), [x["values"]["blobs"] for x in m], yerr=[x.get("std_err", {}).get("blobs", 0) for x in m])
ax.set_xticks(range(4), [LABEL[i] for i in ids], rotation=20, ha="right")
ax.set_xlabel("experiment"); YLABEL ax.set_title("Validation accuracy")
save_figure(fig, "fig_accuracy", pdf=True)
```"""
VALID = {"valid_for_claim": True, "readability": 4, "issues": [], "suggested_fix": ""}


def sent_calls(run: RunDir) -> int:
    return sum(r.outcome != "invalid" for r in read_ledger(run.ledger_path))


def scripted_scenario(name: str, template: Path, root: Path) -> dict[str, Any]:
    with ScriptedServer() as server:
        overrides = [f"models.{r}.base_url={server.base_url}" for r in ROLES] + ["llm.backoff_base_s=0"]
        settings = load_settings(None, overrides, workspace=root / "ws", cache_dir=root / "cache")
        run = RunDir(Path(shutil.copytree(template, root / name)))
        server.script("figures/aggregate_plan", json_reply(PLAN))
        good = text(SCRIPT.replace("YLABEL", 'ax.set_ylabel("accuracy");'))
        if name == "clean":
            server.script("figures/aggregate_script", good)
        elif name == "one_fix":
            server.script("figures/aggregate_script", text(SCRIPT.replace("YLABEL", "")))
            server.script("figures/fix_plot", good)
        else:
            server.script("figures/aggregate_script", text("```python\nraise SystemExit(1)\n```"))
            server.always("figures/fix_plot", text("no code"))
        server.always("figures/critic_text", json_reply(VALID))
        start = time.monotonic()
        captions = aggregate_figures(run, LLM(settings, Ledger(run.ledger_path)), local_sandbox(), settings)
        wall = time.monotonic() - start
        server.check()
    n = len(captions.figures)
    calls = sent_calls(run)
    return {
        "scenario": name,
        "figures": n,
        "calls": calls,
        "calls_per_figure": calls / n if n else None,
        "wall_s": round(wall, 2),
        "run": run,
    }


def embedded_scenario(template: Path, root: Path) -> list[dict[str, Any]]:
    settings: Settings = load_settings(
        None, ["figures.aggregate_rounds=2", "figures.max_final_figures=3"], workspace=root / "ws"
    )
    run = RunDir(Path(shutil.copytree(template, root / "embedded")))
    llm = LLM(settings, Ledger(run.ledger_path))
    start = time.monotonic()
    captions = aggregate_figures(run, llm, local_sandbox(), settings)
    wall = time.monotonic() - start
    n = len(captions.figures)
    calls = sent_calls(run)
    rows = [
        {
            "scenario": "embedded_aggregate",
            "figures": n,
            "calls": calls,
            "calls_per_figure": calls / n if n else None,
            "wall_s": round(wall, 1),
            "run": run,
            "fallback": all("deterministic" in f.critique for f in captions.figures),
        }
    ]
    node_dir = run.path / "nodes" / "tune1"
    node = node_from_dir(node_dir, plan="logistic regression by gradient descent, learning rate 0.3")
    before = sent_calls(run)
    start = time.monotonic()
    out = plot_node(node, node_dir, llm, local_sandbox(), settings)
    rows.append(
        {
            "scenario": "embedded_node_plot",
            "figures": len(out.plots),
            "calls": sent_calls(run) - before,
            "calls_per_figure": (sent_calls(run) - before) / len(out.plots) if out.plots else None,
            "wall_s": round(time.monotonic() - start, 1),
            "status": out.status,
            "attempts": out.attempts,
        }
    )
    return rows


def lint_timing(run: RunDir, repeat: int) -> dict[str, Any]:
    work = run.path / "figures" / "work"
    pngs = sorted(p.name for p in work.glob("fig_*.png"))
    settings = load_settings(None, [])
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        lint_figures(work, pngs, settings.figures, allowed_reads=("data/*",))
        times.append((time.perf_counter() - t0) / max(1, len(pngs)))
    script = "aggregate.py" if (work / "aggregate.py").is_file() else "fallback.py"
    install_helpers(work)
    sandbox = local_sandbox()
    plain = [sandbox.run(work, ["python", script], timeout_s=120).duration_s for _ in range(2)]
    probed = [sandbox.run(work, ["python", "_shoal_figprobe.py", script], timeout_s=120).duration_s for _ in range(2)]
    return {
        "figures": len(pngs),
        "lint_ms_per_figure_median": round(1000 * statistics.median(times), 1),
        "lint_ms_per_figure_max": round(1000 * max(times), 1),
        "script_s_plain": round(min(plain), 2),
        "script_s_probed": round(min(probed), 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["scripted", "embedded"], default="scripted")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-figures-") as tmp:
        root = Path(tmp)
        t0 = time.monotonic()
        run = create_run(load_settings(None, [], workspace=root / "ws"), "bench figures")
        build_journal(run.path, local_sandbox())
        (run.path / "idea.md").write_text("# Learning-rate sensitivity of logistic regression\n")
        journal_s = time.monotonic() - t0
        if args.model == "scripted":
            rows = [scripted_scenario(s, run.path, root) for s in ("clean", "one_fix", "fallback")]
        else:
            rows = embedded_scenario(run.path, root)
        lint = lint_timing(rows[0]["run"], args.repeat)
    for r in rows:
        r.pop("run", None)
    result = {"journal_build_s": round(journal_s, 1), "scenarios": rows, "lint": lint}
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"real journal (7 sandboxed experiment runs): {journal_s:.1f} s")
    print(f"{'scenario':<22}{'figures':>8}{'calls':>7}{'calls/figure':>14}{'wall s':>8}")
    for r in rows:
        cpf = f"{r['calls_per_figure']:.2f}" if r["calls_per_figure"] is not None else "-"
        print(f"{r['scenario']:<22}{r['figures']:>8}{r['calls']:>7}{cpf:>14}{r['wall_s']:>8}")
    print(
        f"lint: {lint['lint_ms_per_figure_median']} ms per figure (median of {args.repeat}, max "
        f"{lint['lint_ms_per_figure_max']} ms) over {lint['figures']} figures; plotting script "
        f"{lint['script_s_plain']} s plain vs {lint['script_s_probed']} s under the probe"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
