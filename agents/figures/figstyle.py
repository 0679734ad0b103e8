"""Plot helpers that generated plotting scripts import as ``shoal_figstyle`` (copied into their working dir).

Dependency-free apart from matplotlib and numpy, so it runs in a bare sandbox. It gives every figure the same
publication style (fonts readable at print size, a colour-blind-safe palette, light grid) and reads the saved
results of a node, so scripts stay short and never need to invent data::

    from shoal_figstyle import apply_style, load_results, load_metrics, save_figure
    apply_style()
    res = load_results(".")            # {"learning_curve": {"epoch": [...], "val_loss": [...]}, ...}
    fig, ax = plt.subplots()
    ...
    save_figure(fig, "plot_learning_curve")   # writes plot_learning_curve.png (and .pdf with pdf=True)
"""

from __future__ import annotations

import json
import os

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def apply_style() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from cycler import cycler

    matplotlib.rcParams.update(
        {
            "figure.figsize": (5.0, 3.4),
            "figure.dpi": 100,
            "savefig.dpi": 200,
            "font.size": 10,
            "axes.titlesize": 11,
            "axes.labelsize": 10,
            "legend.fontsize": 9,
            "xtick.labelsize": 9,
            "ytick.labelsize": 9,
            "axes.grid": True,
            "axes.axisbelow": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.prop_cycle": cycler(color=PALETTE),
            "lines.linewidth": 1.8,
            "legend.frameon": False,
        }
    )


def load_results(node_dir: str = ".") -> dict:
    """Every ``results/*.json`` of a node dir: {name: {key: list | number | str}}."""
    out: dict = {}
    folder = os.path.join(node_dir, "results")
    if not os.path.isdir(folder):
        return out
    for name in sorted(os.listdir(folder)):
        if name.endswith(".json"):
            with open(os.path.join(folder, name), encoding="utf-8") as fh:
                out[name[: -len(".json")]] = json.load(fh)
    return out


def load_metrics(node_dir: str = ".") -> list:
    """The node's metrics: [{"name", "direction", "values": {dataset: v}, "std_err": {dataset: se}}]."""
    path = os.path.join(node_dir, "metrics.json")
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as fh:
        return list(json.load(fh).get("metrics", []))


def save_figure(fig, name: str, pdf: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Save ``name.png`` (and ``name.pdf``) with a tight layout, then close the figure (an Axes is accepted too)."""
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes

    if isinstance(fig, Axes):
        fig = fig.figure
    name = name[: -len(".png")] if name.endswith(".png") else name
    fig.tight_layout()
    fig.savefig(f"{name}.png", bbox_inches="tight")
    if pdf:
        fig.savefig(f"{name}.pdf", bbox_inches="tight")
    plt.close(fig)
