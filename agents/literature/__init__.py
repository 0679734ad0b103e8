"""Literature backends behind one interface: Semantic Scholar and an offline local library."""

from agents.literature.base import LiteratureBackend, Paper

__all__ = ["LiteratureBackend", "Paper"]
