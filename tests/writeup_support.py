"""A small, real run directory for the writeup tests, and the scripted writer that answers its prompts.

The run's metrics come from actually running tiny numpy programs (logistic regression with and without input-noise
injection on two synthetic datasets) as subprocesses; the figures are real matplotlib PNG/PDF files made from the
programs' saved results; the literature backend is a local stub over a few real papers.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from agents.experiments.journal import ExecResult, Journal, MetricValue, Node
from agents.experiments.stages import aggregate_seeds
from agents.ideation.schema import Idea, Resources, Score
from agents.literature.base import Paper
from agents.rundir import RunDir
from agents.testing import RecordedRequest, Reply, ScriptedServer, json_reply, text

PROGRAM = """\
import json
from pathlib import Path
import numpy as np

SEED, LR, L2, NOISE, EPOCHS = {seed}, {lr}, {l2}, {noise}, 80
rng = np.random.default_rng(SEED)


def make(name, n):
    d = 10 if name == "gauss" else 20
    w = np.zeros(d)
    w[:3] = [1.5, -1.0, 0.8]
    x = rng.normal(size=(n, d))
    p = 1 / (1 + np.exp(-(x @ w)))
    return x, (rng.random(n) < p).astype(float)


metrics = {{"val_accuracy": {{}}, "val_loss": {{}}}}
curves = {{"epoch": list(range(1, EPOCHS + 1))}}
for name in ("gauss", "sparse"):
    xtr, ytr = make(name, 40)
    xva, yva = make(name, 2000)
    w = np.zeros(xtr.shape[1])
    losses = []
    for _ in range(EPOCHS):
        xn = xtr + NOISE * rng.normal(size=xtr.shape)
        p = 1 / (1 + np.exp(-(xn @ w)))
        w -= LR * (xn.T @ (p - ytr) / len(ytr) + L2 * w)
        pv = np.clip(1 / (1 + np.exp(-(xva @ w))), 1e-7, 1 - 1e-7)
        losses.append(float(-np.mean(yva * np.log(pv) + (1 - yva) * np.log(1 - pv))))
    metrics["val_accuracy"][name] = float(np.mean((pv > 0.5) == yva))
    metrics["val_loss"][name] = losses[-1]
    curves[name + "_val_loss"] = losses
{bug}
Path("results").mkdir(exist_ok=True)
Path("results/learning_curve.json").write_text(json.dumps(curves))
Path("metrics.json").write_text(json.dumps({{"metrics": [
    {{"name": "val_accuracy", "direction": "maximize", "values": metrics["val_accuracy"]}},
    {{"name": "val_loss", "direction": "minimize", "values": metrics["val_loss"]}},
]}}))
"""

IDEA = Idea(
    name="noise_injection_logreg",
    title="Input Noise Injection Regularizes Logistic Regression on Tiny Tabular Datasets",
    hypothesis="Adding Gaussian noise to the inputs during training improves validation accuracy of logistic "
    "regression trained on 40 examples more than tuned L2 weight decay alone.",
    related_work="Training with noise is equivalent to Tikhonov regularization (Bishop, 1995); dropout; weight decay.",
    abstract="We test whether Gaussian input noise is a better regularizer than weight decay for logistic regression "
    "on very small tabular datasets, using two synthetic datasets with few informative features.",
    experiments=[
        "Train plain logistic regression with gradient descent on 40 examples.",
        "Tune the L2 penalty and learning rate of the baseline.",
        "Add Gaussian input noise during training and tune its scale.",
        "Ablate the noise and the weight decay separately.",
    ],
    risks=["Synthetic data may not reflect real tabular data.", "Only 40 training examples per dataset."],
    resources=Resources(device="cpu", datasets=["gauss", "sparse"], minutes=2),
    interestingness=Score(value=6, why="a classic question with a cheap, clean test"),
    feasibility=Score(value=9, why="numpy only, seconds per run"),
    novelty=Score(value=4, why="known equivalence, little-tested in the tiny-data regime"),
)

# (stage, kind, plan, tag, params, parent index or None, bug)
PLAN: list[tuple[int, str, str, str, dict[str, float], int | None, str]] = [
    (1, "draft", "Logistic regression by full-batch gradient descent.", "", {"lr": 0.5, "l2": 0.0, "noise": 0.0}, None,
     "raise ValueError('shapes do not match: (40, 10) vs (20,)')"),
    (1, "draft", "Logistic regression by full-batch gradient descent, no regularization.", "",
     {"lr": 0.1, "l2": 0.0, "noise": 0.0}, None, ""),
    (2, "tune", "Tune weight decay of the baseline.", "l2=0.05", {"lr": 0.1, "l2": 0.05, "noise": 0.0}, 1, ""),
    (2, "tune", "Tune weight decay of the baseline.", "l2=0.2", {"lr": 0.1, "l2": 0.2, "noise": 0.0}, 1, ""),
    (3, "improve", "Add Gaussian input noise (scale 0.5) during training, with weight decay 0.05.", "noise=0.5",
     {"lr": 0.1, "l2": 0.05, "noise": 0.5}, 2, ""),
    (3, "improve", "Add Gaussian input noise (scale 1.0) during training, with weight decay 0.05.", "noise=1.0",
     {"lr": 0.1, "l2": 0.05, "noise": 1.0}, 2, ""),
    (4, "ablate", "Remove weight decay, keep input noise.", "no weight decay", {"lr": 0.1, "l2": 0.0, "noise": 1.0},
     5, ""),
]  # fmt: skip

PAPERS = [
    Paper(
        paper_id="s2:bishop1995",
        title="Training with Noise is Equivalent to Tikhonov Regularization",
        authors=["Chris M. Bishop"],
        year=1995,
        venue="Neural Computation",
        abstract="It is well known that the addition of noise to the input data of a neural network during training "
        "can lead to significant improvements in generalization performance.",
        source="semantic_scholar",
        bibtex="@Article{Bishop1995TrainingWN,\n author = {Chris M. Bishop},\n journal = {Neural Computation},\n"
        " pages = {108-116},\n title = {Training with Noise is Equivalent to Tikhonov Regularization},\n"
        " volume = {7},\n year = {1995}\n}",
    ),
    Paper(
        paper_id="s2:srivastava2014",
        title="Dropout: a simple way to prevent neural networks from overfitting",
        authors=["Nitish Srivastava", "Geoffrey Hinton", "Alex Krizhevsky", "Ilya Sutskever", "Ruslan Salakhutdinov"],
        year=2014,
        venue="Journal of Machine Learning Research",
        abstract="Deep neural nets with a large number of parameters are very powerful machine learning systems. "
        "However, overfitting is a serious problem in such networks.",
        source="semantic_scholar",
    ),
    Paper(
        paper_id="s2:krogh1991",
        title="A Simple Weight Decay Can Improve Generalization",
        authors=["Anders Krogh", "John A. Hertz"],
        year=1991,
        venue="Neural Information Processing Systems",
        abstract="It has been observed in numerical simulations that a weight decay can improve generalization in a "
        "feed-forward neural network.",
        source="semantic_scholar",
    ),
    Paper(
        paper_id="s2:loshchilov2019",
        title="Decoupled Weight Decay Regularization",
        authors=["Ilya Loshchilov", "Frank Hutter"],
        year=2019,
        venue="International Conference on Learning Representations",
        source="semantic_scholar",
    ),
    Paper(
        paper_id="local:vincent2008",
        title="Extracting and composing robust features with denoising autoencoders",
        authors=["Pascal Vincent", "Hugo Larochelle", "Yoshua Bengio", "Pierre-Antoine Manzagol"],
        year=2008,
        venue="International Conference on Machine Learning",
        source="local",
    ),
]


class StubLiterature:
    """A local literature backend over PAPERS: word-overlap search (implements ``LiteratureBackend``)."""

    name = "stub"

    def __init__(self, papers: list[Paper] | None = None) -> None:
        self.papers = papers if papers is not None else PAPERS
        self.queries: list[str] = []

    def search(self, query: str, limit: int = 10) -> list[Paper]:
        self.queries.append(query)
        words = set(re.findall(r"[a-z]+", query.lower())) - {"a", "the", "of", "for", "and", "with", "on"}
        scored = []
        for p in self.papers:
            hay = set(re.findall(r"[a-z]+", f"{p.title} {p.abstract or ''}".lower()))
            score = len(words & hay)
            if score:
                scored.append((-score, p.paper_id, p))
        return [p for _, _, p in sorted(scored)][:limit]

    def get(self, paper_id: str) -> Paper | None:
        return next((p for p in self.papers if p.paper_id == paper_id), None)


def _run_node(node_dir: Path, params: dict[str, float], seed: int, bug: str) -> tuple[ExecResult, MetricValue]:
    node_dir.mkdir(parents=True)
    code = PROGRAM.format(seed=seed, bug=bug, **params)
    (node_dir / "code.py").write_text(code)
    res = subprocess.run([sys.executable, "code.py"], cwd=node_dir, capture_output=True, text=True, timeout=120)
    (node_dir / "stdout.txt").write_text(res.stdout)
    (node_dir / "stderr.txt").write_text(res.stderr)
    ex = ExecResult(exit_code=res.returncode, stdout_tail=res.stdout[-500:], error=res.stderr[-800:])
    metrics = node_dir / "metrics.json"
    mv = MetricValue.model_validate(json.loads(metrics.read_text())) if metrics.is_file() else MetricValue()
    return ex, mv


def build_run(run_path: Path) -> Journal:
    """Fill ``run_path`` (an existing run dir) with ideas.json, idea.md, journal.json, nodes/ and figures/."""
    run = RunDir(run_path)
    run.write_ideas({"ideas": [IDEA.model_dump(mode="json")]})
    run.choose_idea(IDEA.name)
    journal = Journal()
    nodes: list[Node] = []
    for stage, kind, plan, tag, params, parent, bug in PLAN:
        node = Node(stage=stage, kind=kind, plan=plan, tag=tag, parent=nodes[parent].id if parent is not None else None)
        ex, mv = _run_node(run_path / "nodes" / node.id, params, 0, bug)
        node.exec, node.metric, node.status = ex, mv, "done"
        node.code = (run_path / "nodes" / node.id / "code.py").read_text()
        node.is_buggy = ex.exit_code != 0
        node.bug_reason = ex.error.strip().splitlines()[-1] if node.is_buggy else ""
        nodes.append(journal.add(node))
    best = journal.best_node(3)
    assert best is not None
    params = next(p for (s, _, _, t, p, _, _) in PLAN if s == 3 and t == best.tag)
    seed_metrics = []
    for seed in (1, 2, 3):
        node = Node(stage=3, kind="seed", plan=best.plan, tag=best.tag, parent=best.id, seed=seed)
        ex, mv = _run_node(run_path / "nodes" / node.id, params, seed, "")
        node.exec, node.metric, node.status = ex, mv, "done"
        journal.add(node)
        seed_metrics.append(mv)
    aggregate_seeds(journal, best)  # mean +- standard error over the seed runs and the node's own run
    journal.notes.append("stage 2 complete: weight decay tuned; best l2 chosen by validation accuracy")
    journal.save(run_path / "journal.json")
    _make_figures(run_path, journal)
    return journal


def _make_figures(run_path: Path, journal: Journal) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = run_path / "figures"
    figs.mkdir()
    base, prop = journal.best_node(2), journal.best_node(3)
    assert base is not None and prop is not None
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 2.6))
    for ax, ds in zip(axes, ("gauss", "sparse"), strict=True):
        for node, label in ((base, "tuned baseline"), (prop, "input noise")):
            curves = json.loads((run_path / "nodes" / node.id / "results" / "learning_curve.json").read_text())
            ax.plot(curves["epoch"], curves[f"{ds}_val_loss"], label=label)
        ax.set_title(ds)
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation loss")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(figs / "fig_learning_curves.png", dpi=120)
    fig.savefig(figs / "fig_learning_curves.pdf")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4, 2.6))
    rows = [(s, journal.best_node(s)) for s in (1, 2, 3)]
    for i, ds in enumerate(("gauss", "sparse")):
        vals = [n.metric.metrics[0].values[ds] for _, n in rows if n]
        ax.bar([x + 0.4 * i for x in range(len(vals))], vals, width=0.4, label=ds)
    ax.set_xticks([0.2, 1.2, 2.2], ["initial", "tuned", "noise"])
    ax.set_ylabel("validation accuracy")
    ax.legend()
    fig.tight_layout()
    fig.savefig(figs / "fig_accuracy.png", dpi=120)
    plt.close(fig)
    captions = {
        "figures": [
            {
                "name": "fig_learning_curves",
                "png": "fig_learning_curves.png",
                "pdf": "fig_learning_curves.pdf",
                "caption": "Validation loss per epoch of the tuned baseline and of input-noise training on both "
                "datasets.",
                "label": "fig:learning_curves",
                "nodes": [base.id, prop.id],
                "lint": [],
                "critique": "",
            },
            {
                "name": "fig_accuracy",
                "png": "fig_accuracy.png",
                "caption": "Validation accuracy of the best run of each stage (initial, tuned baseline, input noise).",
                "label": "fig:accuracy",
                "nodes": [n.id for _, n in rows if n],
                "lint": [],
                "critique": "",
            },
        ]
    }
    (figs / "captions.json").write_text(json.dumps(captions, indent=1))


# -- the scripted writer ---------------------------------------------------------------------------------------


def user_text(req: RecordedRequest) -> str:
    return "\n".join(str(m.get("content", "")) for m in req.messages if m.get("role") == "user")


def key_numbers(req: RecordedRequest) -> dict[str, str]:
    """The first value quoted for each row of 'Key results' in a prompt, as written there."""
    out = {}
    for line in user_text(req).splitlines():
        m = re.match(r"- (Tuned baseline|Proposed method|Initial implementation): \S+ on \S+ = ([0-9.]+)", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def cite_keys_in(req: RecordedRequest) -> list[str]:
    return re.findall(r"^\s+(\w+): .* \((?:\d{4}|n\.d\.)\)$", user_text(req), re.M)


def results_reply(req: RecordedRequest) -> Reply:
    k = key_numbers(req)
    return text(
        "Table~\\ref{tab:results} summarizes the search. On the gauss dataset, the tuned baseline reaches a "
        f"validation accuracy of {k['Tuned baseline']}, while training with input noise reaches "
        f"{k['Proposed method']}. Figure~\\ref{{fig:learning_curves}} shows the validation loss during training, "
        "and Figure~\\ref{fig:accuracy} compares the best run of each stage. The ablation in "
        "Table~\\ref{tab:ablations} removes weight decay."
    )


def intro_reply(req: RecordedRequest) -> Reply:
    keys = cite_keys_in(req)
    cite = f" \\citep{{{keys[0]}}}" if keys else ""
    return text(
        "Small tabular datasets are common in practice, and simple models trained on them overfit easily. "
        f"Adding noise to the inputs is a classic regularizer{cite}. We ask whether it helps logistic regression "
        "trained on only a few dozen examples.\n\n\\begin{itemize}\n\\item We compare input noise with tuned "
        "weight decay.\n\\item We report an ablation.\n\\end{itemize}"
    )


def related_reply(req: RecordedRequest) -> Reply:
    keys = cite_keys_in(req)
    cites = ", ".join(f"\\citet{{{k}}}" for k in keys) or "Prior work"
    return text(f"Regularization by noise and by weight decay has a long history: {cites}. We study the tiny-data "
                "regime with a controlled automated search.")  # fmt: skip


PLAIN = {
    "writeup/method": "We train logistic regression by full-batch gradient descent on the cross-entropy loss "
    "$\\mathcal{L}(w) = -\\frac{1}{n}\\sum_i y_i \\log \\sigma(w^\\top x_i) + (1-y_i)\\log(1-\\sigma(w^\\top x_i))$. "
    "At every step each input is perturbed with Gaussian noise, $\\tilde{x}_i = x_i + \\epsilon_i$, "
    "$\\epsilon_i \\sim \\mathcal{N}(0, s^2 I)$, and weight decay is added to the gradient.",
    "writeup/experimental_setup": "We use two synthetic datasets, gauss and sparse, with 40 training and 2000 "
    "validation examples each. The metric is validation accuracy; validation loss is also recorded. An automated "
    "tree search ran four stages: initial implementation, baseline tuning, creative research, and ablations.",
    "writeup/discussion": "Input noise acts as a data-dependent regularizer. Our datasets are synthetic and small, "
    "and the search was automated, so the findings need confirmation on real data with more seeds.",
    "writeup/conclusion": "Input noise is a cheap regularizer worth trying on tiny tabular datasets. Future work "
    "should test real datasets.",
    "writeup/appendix": "All runs use full-batch gradient descent for 80 epochs. Table~\\ref{tab:search} lists the "
    "runs of the automated search per stage.",
}


def abstract_reply(req: RecordedRequest) -> Reply:
    k = key_numbers(req)
    return text(
        "Logistic regression trained on a few dozen examples overfits. We test Gaussian input noise as a "
        "regularizer against tuned weight decay on two synthetic datasets, using an automated experiment search. "
        f"Input noise reaches a validation accuracy of {k['Proposed method']} against {k['Tuned baseline']} for the "
        "tuned baseline on the gauss dataset."
    )


def script_writer(server: ScriptedServer, *, skip: tuple[str, ...] = ()) -> None:
    """Answer every drafting prompt with a well-formed section (``skip`` leaves some for the test to script)."""
    replies = {
        "writeup/cite_queries": json_reply({"queries": ["training with noise regularization", "weight decay"],
                                            "done": True}),
        "writeup/cite_pick": json_reply({"picks": [1, 2]}),
        "writeup/abstract": abstract_reply,
        "writeup/introduction": intro_reply,
        "writeup/related_work": related_reply,
        "writeup/results": results_reply,
        **{name: text(body) for name, body in PLAIN.items()},
    }  # fmt: skip
    for name, reply in replies.items():
        if name not in skip:
            server.always(name, reply)
