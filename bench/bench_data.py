"""Benchmark: the experiment search on a real tabular data set, scored on held-out rows by Shoal, against a plain
baseline the bench fits itself.

    python bench/bench_data.py [--dataset diabetes|wine|digits] [--stages 1-2] [--holdout 0.2] [--scripted] [--json]
                               [--workspace DIR] [--set search.num_drafts=2 ...]

The data set ships inside scikit-learn (no download) and is written to CSV. The search runs as
``shoal experiments --data DIR --goal ... --metric M --target target --holdout 0.2`` would: the goal and the data
card make the idea, the nodes see only the training rows, Shoal scores their predictions. Printed:

- valid-program rate: coder-written nodes (seed re-runs excluded) whose program ran and was scored / all of them;
- the best node's held-out metric (Shoal's own score);
- the baseline's held-out metric: linear regression (diabetes, RMSE) or logistic regression (wine, digits: accuracy),
  fitted by this bench on the same training rows and scored by the same scorer;
- whether the search beat the baseline.

Models come from the usual settings (the embedded model by default); ``--scripted`` uses the test suite's
scripted coder instead (a check that the bench works, not a measurement of a model).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import data_support as D  # noqa: E402
import exp_support as S  # noqa: E402

from agents.data.idea import idea_from_goal  # noqa: E402
from agents.data.metrics import score  # noqa: E402
from agents.data.session import DataSession, check_data, save_data  # noqa: E402
from agents.data.task import make_task  # noqa: E402
from agents.experiments.inputs import parse_stages  # noqa: E402
from agents.experiments.journal import Journal  # noqa: E402
from agents.experiments.manager import run_experiments  # noqa: E402
from agents.llm import LLM, Ledger, read_ledger  # noqa: E402
from agents.rundir import RunDir, create_run, open_run  # noqa: E402
from agents.sandbox import make_sandbox  # noqa: E402
from agents.settings import ROLES, Settings, load_settings  # noqa: E402
from agents.testing import ScriptedServer  # noqa: E402

GOALS = {
    "diabetes": "predict disease progression one year after baseline",
    "wine": "predict the wine cultivar",
    "digits": "recognise the handwritten digit (0-9) from its 8x8 pixel intensities",
}


def baseline(session: DataSession, dataset: str) -> float:
    """Linear regression (diabetes) or logistic regression on scaled features (wine, digits) on the training rows,
    scored like a node."""
    import numpy as np
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    assert session.split is not None and session.task.metric is not None
    with session.split.train_file.open(newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    ti = header.index("target")
    X = np.array([[float(v) for i, v in enumerate(r) if i != ti] for r in body])
    y = [r[ti] for r in body]
    with session.split.features.open(newline="") as fh:
        X_test = np.array([[float(v) for v in r] for r in list(csv.reader(fh))[1:]])
    if D.DATASETS[dataset][1] == "accuracy":
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        preds = [str(p) for p in model.fit(X, y).predict(X_test)]
    else:
        preds = [repr(float(p)) for p in LinearRegression().fit(X, [float(v) for v in y]).predict(X_test)]
    return score(session.task.metric, session.split.read_labels(), preds)


def run_bench(settings: Settings, dataset: str, stages: tuple[int, int], holdout: float, work: Path) -> dict[str, Any]:
    target, metric, _ = D.DATASETS[dataset]
    data_dir = work / "data" / dataset
    D.write_dataset(dataset, data_dir)
    task = make_task(data=data_dir, goal=GOALS[dataset], metric=metric, target=target, holdout=holdout)
    session = check_data(task, settings)
    assert session is not None
    run = create_run(settings, f"bench data {dataset}")
    save_data(run, session)
    llm = LLM(settings, Ledger(run.ledger_path))
    t0 = time.monotonic()
    outcome = run_experiments(
        run, settings, llm, make_sandbox(settings.sandbox), idea_from_goal(session).model_dump(mode="json"),
        stages=stages,
    )  # fmt: skip
    return {
        **summarize(run, settings, dataset),
        "search_status": outcome.status,
        "wall_s": round(time.monotonic() - t0, 1),
    }


def summarize(run: RunDir, settings: Settings, dataset: str) -> dict[str, Any]:
    """The figures from a run's journal (also for a run that was stopped early: ``--from-run``)."""
    _, metric, higher = D.DATASETS[dataset]
    session = DataSession.for_run(run, settings)
    assert session is not None and session.split is not None
    journal = Journal.load(run.file("journal.json"))
    written = [n for n in journal.nodes if n.kind != "seed" and n.model != "user" and n.status == "done"]
    valid = [n for n in written if not n.is_buggy]
    best = journal.best_node()
    best_value = best.metric.primary.values.get("held-out") if best and best.metric.primary else None
    base = baseline(session, dataset)
    beat = best_value is not None and (best_value > base if higher else best_value < base)
    return {
        "dataset": dataset,
        "metric": metric,
        "higher_is_better": higher,
        "held_out_rows": session.split.rows,
        "search_status": "stopped",
        "nodes_written": len(written),
        "valid_programs": len(valid),
        "valid_program_rate": round(len(valid) / len(written), 3) if written else 0.0,
        "bug_reasons": [n.bug_reason[:120] for n in written if n.is_buggy],
        "best_held_out": best_value,
        "best_node": best.id if best else None,
        "baseline_held_out": round(base, 6),
        "search_beats_baseline": beat,
        "llm_calls": sum(1 for _ in read_ledger(run.ledger_path)),
        "wall_s": None,
        "run_dir": str(run.path),
    }


def _scripted_settings(server: ScriptedServer, workspace: Path, cache: Path, dataset: str) -> Settings:
    kind = "classification" if D.DATASETS[dataset][1] == "accuracy" else "regression"
    D.DataCoder(kind).install(server)
    server.always("feedback/review", S.review_ok)
    server.always("experiments/tie_break", S.tie_last)
    server.always("experiments/proposals", S.proposals)
    ov = [f"models.{r}.base_url={server.base_url}" for r in ROLES] + [f'models.{r}.model="m"' for r in ROLES]
    ov += ["search.num_drafts=1", "search.num_seeds=1", "search.stage_iters=[3,2,1,1]", "search.debug_prob=1.0"]
    return load_settings(None, ov, workspace=workspace, cache_dir=cache)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", choices=sorted(D.DATASETS), default="diabetes")
    ap.add_argument("--stages", default="1-2")
    ap.add_argument("--holdout", type=float, default=0.2)
    ap.add_argument("--scripted", action="store_true", help="the scripted coder (checks the bench, measures nothing)")
    ap.add_argument("--set", action="append", default=[], help="settings overrides, e.g. search.num_drafts=2")
    ap.add_argument("--workspace", type=Path, help="keep the data and the run here (default: a temporary dir)")
    ap.add_argument("--from-run", type=Path, help="only summarize this run (e.g. one stopped by a timeout)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    stages = parse_stages(args.stages)
    if args.from_run is not None:
        run = open_run(args.from_run)
        result = summarize(run, load_settings(run.config_path, []), args.dataset)
        _print(result, args.json)
        return result
    with tempfile.TemporaryDirectory(prefix="shoal-bench-data-") as tmp:
        work = args.workspace.resolve() if args.workspace else Path(tmp)  # data, split cache and runs
        if args.scripted:
            with ScriptedServer() as server:
                settings = _scripted_settings(server, work / "ws", work / "cache", args.dataset)
                result = run_bench(settings, args.dataset, stages, args.holdout, work)
        else:
            from agents.localmodel.server import stop_shared_servers

            settings = load_settings(None, args.set, workspace=work / "ws")  # the usual cache: the model file
            try:
                result = run_bench(settings, args.dataset, stages, args.holdout, work)
            finally:
                stop_shared_servers()  # the embedded model's server, when one was started
    _print(result, args.json)
    return result


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=1))
    else:
        better = "higher" if result["higher_is_better"] else "lower"
        print(f"data set: {result['dataset']} ({result['held_out_rows']} held-out rows), metric {result['metric']}")
        print(
            f"valid-program rate: {result['valid_programs']}/{result['nodes_written']} = {result['valid_program_rate']}"
        )
        print(f"best held-out {result['metric']}: {result['best_held_out']} (node {result['best_node']})")
        print(f"plain baseline {result['metric']}: {result['baseline_held_out']} ({better} is better)")
        print(f"search beats the baseline: {result['search_beats_baseline']}")
        print(f"model calls: {result['llm_calls']}, wall: {result['wall_s']} s, search: {result['search_status']}")
        for why in result["bug_reasons"]:
            print(f"  buggy: {why}")


if __name__ == "__main__":
    main()
