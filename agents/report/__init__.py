"""One static, offline ``report.html`` per run: idea, search tree, figures, paper, review, costs."""

from agents.report.html import write_report

__all__ = ["write_report"]
