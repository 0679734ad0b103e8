"""Shoal: an autonomous AI-Scientist pipeline.

The import name ``agents`` is also used by the unrelated ``openai-agents`` distribution; Shoal never depends on
it, and ``tests/test_package.py`` checks that ``agents`` resolves to this repository.
"""

__version__ = "0.1.0"
