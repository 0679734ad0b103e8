"""Literature backends behind one interface: Semantic Scholar and an offline local library.

``make_literature(settings, cache_dir)`` gives the fallback chain every stage uses (see ``factory``).
"""

from agents.literature.base import LiteratureBackend, LiteratureUnavailable, Paper
from agents.literature.factory import FallbackLiterature, NoLiterature, make_literature

__all__ = [
    "FallbackLiterature",
    "LiteratureBackend",
    "LiteratureUnavailable",
    "NoLiterature",
    "Paper",
    "make_literature",
]
