"""Figures: per-node plots, deterministic figure lint, the figure critic, and the paper's final figures.

- ``node_plots.plot_node``: the coder model writes a matplotlib script over a node's saved results; sandboxed run,
  bounded fixes, lint, one critic call; the node always ends with a defined ``plots_status``.
- ``lint.lint_figures``: pixel and figure-object checks (``probe`` records the figure objects at ``savefig``).
- ``critic.critique_figures``: structured critique; images go to a vision model when ``models.vlm`` accepts them.
- ``aggregate.aggregate_figures``: the paper's figures (``figures/*.png``, ``*.pdf``, ``captions.json``).
"""

from agents.figures.aggregate import Captions, FinalFigure, aggregate_figures, load_captions
from agents.figures.critic import CritiqueResult, FigureCritique, critique_figures
from agents.figures.lint import Finding, lint_figures
from agents.figures.node_plots import PlotOutcome, plot_feedback, plot_node

__all__ = [
    "Captions",
    "CritiqueResult",
    "FigureCritique",
    "FinalFigure",
    "Finding",
    "PlotOutcome",
    "aggregate_figures",
    "critique_figures",
    "lint_figures",
    "load_captions",
    "plot_feedback",
    "plot_node",
]
