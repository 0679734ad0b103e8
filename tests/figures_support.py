"""Test-only helpers for the figures tests: the real local sandbox, and real node directories made by running small
numpy experiments that write their artefacts per the contract (a stand-in for ``agents/experiments/shoal_helper.py``
until the experiments branch lands)."""

from __future__ import annotations

from pathlib import Path

from agents.sandbox import Sandbox, make_sandbox
from agents.settings import SandboxSettings


def local_sandbox() -> Sandbox:
    """The real local sandbox backend (rlimits, scrubbed env, no network where the kernel allows)."""
    return make_sandbox(SandboxSettings(backend="local"))


# -- real node directories ---------------------------------------------------------------------------------------

# A contract-compatible stand-in for agents/experiments/shoal_helper.py (metrics.json and results/<name>.json).
SHOAL_HELPER = """
import json, os

def log_metric(name, value, dataset="default", direction="maximize", std_err=None):
    path = "metrics.json"
    data = json.load(open(path)) if os.path.exists(path) else {"metrics": []}
    for m in data["metrics"]:
        if m["name"] == name:
            break
    else:
        m = {"name": name, "direction": direction, "values": {}, "std_err": {}}
        data["metrics"].append(m)
    m["values"][dataset] = float(value)
    if std_err is not None:
        m["std_err"][dataset] = float(std_err)
    json.dump(data, open(path, "w"), indent=1)

def save_results(name, data):
    os.makedirs("results", exist_ok=True)
    json.dump(data, open(os.path.join("results", name + ".json"), "w"), indent=1)
"""

# A small real experiment: logistic regression by gradient descent on two noisy Gaussian blobs.
EXPERIMENT = """
import numpy as np
from shoal_helper import log_metric, save_results

LR, SEED, USE_BIAS, EPOCHS = {lr}, {seed}, {use_bias}, 30
rng = np.random.default_rng(SEED)
n = 400
X = np.vstack([rng.normal(-0.6, 1.0, (n // 2, 5)), rng.normal(0.6, 1.0, (n // 2, 5))]) + 1.5
y = np.r_[np.zeros(n // 2), np.ones(n // 2)]
idx = rng.permutation(n)
X, y = X[idx], y[idx]
Xtr, ytr, Xva, yva = X[:300], y[:300], X[300:], y[300:]
w, b = np.zeros(5), 0.0

def loss(X, y):
    p = 1 / (1 + np.exp(-(X @ w + b)))
    return float(-np.mean(y * np.log(p + 1e-9) + (1 - y) * np.log(1 - p + 1e-9))), p

curve = {{"epoch": [], "train_loss": [], "val_loss": [], "val_accuracy": []}}
for epoch in range(1, EPOCHS + 1):
    tr, p = loss(Xtr, ytr)
    w -= LR * Xtr.T @ (p - ytr) / len(ytr)
    if USE_BIAS:
        b -= LR * float(np.mean(p - ytr))
    va, pv = loss(Xva, yva)
    curve["epoch"].append(epoch)
    curve["train_loss"].append(tr)
    curve["val_loss"].append(va)
    curve["val_accuracy"].append(float(np.mean((pv > 0.5) == yva)))
save_results("learning_curve", curve)
log_metric("val_accuracy", curve["val_accuracy"][-1], dataset="blobs", direction="maximize")
log_metric("val_loss", curve["val_loss"][-1], dataset="blobs", direction="minimize")
print("final val accuracy", curve["val_accuracy"][-1])
"""


def node_from_dir(node_dir: Path, **fields: object):  # type: ignore[no-untyped-def]
    """A finished, good ``Node`` whose metrics are read from the node dir's metrics.json."""
    import json

    from agents.experiments.journal import ExecResult, Metric, MetricValue, Node

    metrics = json.loads((node_dir / "metrics.json").read_text())["metrics"]
    base: dict[str, object] = {"id": node_dir.name, "stage": 1, "kind": "draft", "status": "done"}
    return Node(
        **{**base, **fields},
        exec=ExecResult(exit_code=0),
        metric=MetricValue(metrics=[Metric(**m) for m in metrics]),
        code=(node_dir / "code.py").read_text(),
    )


def run_node(run_dir: Path, runner: Sandbox, node_id: str, **params: object) -> Path:
    """Write and really run one experiment node in ``nodes/<id>/``; returns the node dir."""
    node_dir = run_dir / "nodes" / node_id
    node_dir.mkdir(parents=True)
    (node_dir / "shoal_helper.py").write_text(SHOAL_HELPER)
    code = EXPERIMENT.format(**{"lr": 0.1, "seed": 0, "use_bias": True, **params})
    (node_dir / "code.py").write_text(code)
    res = runner.run(node_dir, ["python", "code.py"], timeout_s=60)
    (node_dir / "stdout.txt").write_text(res.stdout)
    (node_dir / "stderr.txt").write_text(res.stderr)
    assert res.ok, res.stderr
    return node_dir


def build_journal(run_dir: Path, runner: Sandbox):  # type: ignore[no-untyped-def]
    """A small real journal: a draft, a tuned node, a creative node, an ablation and three seed re-runs of the
    best node (whose std_err is filled from them), every one produced by really running its program."""
    import json
    import statistics

    from agents.experiments.journal import ExecResult, Journal, Metric, MetricValue, Node

    journal = Journal()
    specs = [
        ("draft1", None, 1, "draft", "logistic regression, lr 0.01", {"lr": 0.01}),
        ("tune1", "draft1", 2, "tune", "tuned learning rate 0.3", {"lr": 0.3}),
        ("improve1", "tune1", 3, "improve", "learning rate 1.0", {"lr": 1.0}),
        ("ablate1", "improve1", 4, "ablate", "ablation: no bias term", {"lr": 1.0, "use_bias": False}),
    ]
    for node_id, parent, stage, kind, plan, params in specs:
        node_dir = run_node(run_dir, runner, node_id, **params)
        metrics = json.loads((node_dir / "metrics.json").read_text())["metrics"]
        journal.add(
            Node(
                id=node_id,
                parent=parent,
                stage=stage,
                kind=kind,
                plan=plan,
                code=(node_dir / "code.py").read_text(),
                status="done",
                exec=ExecResult(exit_code=0),
                metric=MetricValue(metrics=[Metric(**m) for m in metrics]),
                tag=plan,
            )
        )
    best = journal.best_node()
    assert best is not None
    seed_vals: dict[str, list[float]] = {}
    for seed in (1, 2, 3):
        node_id = f"seed{seed}"
        params = {**next(spec[5] for spec in specs if spec[0] == best.id), "seed": seed}
        node_dir = run_node(run_dir, runner, node_id, **params)
        metrics = json.loads((node_dir / "metrics.json").read_text())["metrics"]
        for m in metrics:
            seed_vals.setdefault(m["name"], []).append(m["values"]["blobs"])
        journal.add(
            Node(
                id=node_id,
                parent=best.id,
                stage=4,
                kind="seed",
                plan=f"seed {seed} of {best.id}",
                status="done",
                exec=ExecResult(exit_code=0),
                metric=MetricValue(metrics=[Metric(**m) for m in metrics]),
                seed=seed,
            )
        )
    for m in best.metric.metrics:
        vals = seed_vals[m.name]
        m.std_err = {"blobs": statistics.stdev(vals) / len(vals) ** 0.5}
    journal.save(run_dir / "journal.json")
    return journal
