"""The writeup stage: LaTeX paper from templates, verified citations, integrity checks, compile-repair loop.

``write_paper(run, llm, settings, literature) -> Path`` (see ``agents.writeup.writer``) is what the pipeline and
``shoal write RUN`` call.
"""

from agents.writeup.writer import WriteupReport, write_paper

__all__ = ["WriteupReport", "write_paper"]
