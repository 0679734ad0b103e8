"""The coder's running memory: a compact "what worked / what failed" summary of the search so far.

A pure function of the journal: the best few good nodes (their plan and primary metric) and the most recent
failures (their plan and bug reason), one short line each, so prompts stay small for the embedded model.
"""

from __future__ import annotations

from agents.experiments.journal import Journal, Node
from agents.experiments.journal_index import index_of


def _metric_text(node: Node) -> str:
    p = node.metric.primary
    if p is None or not p.values:
        return "no metric"
    return f"{p.name}={p.mean:.4g}"


def _what(node: Node) -> str:
    label = node.tag or node.plan or node.kind
    return " ".join(label.split())[:90]


def memory_lines(journal: Journal, limit: int) -> tuple[list[str], list[str]]:
    """(worked, failed): at most ``limit`` lines in all, roughly half each, best and most recent first."""
    if limit <= 0:
        return [], []
    ix = index_of(journal)  # good nodes kept ranked by (score, journal order); failures in journal order
    n_ranked, n_failed = len(ix.ranked), len(ix.failed)
    n_good = min(n_ranked, max(limit - min(n_failed, limit // 2), limit // 2))
    n_bad = min(n_failed, limit - n_good)
    worked = [f"{n.kind} {_what(n)}: {_metric_text(n)}" for n in ix.top_good(n_good)]
    failed = [f"{n.kind} {_what(n)}: {' '.join(n.bug_reason.split())[:120]}" for n in ix.recent_failed(n_bad)]
    return worked, failed
