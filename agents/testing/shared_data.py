"""Where the project's shared test material lives (real PDFs, recorded Semantic Scholar answers, ICLR 2022 texts).

Looked up in order: ``$SHOAL_SHARED_DATA``, ``shared/data`` inside the checkout, ``../shared/data`` beside it.
Tests and benchmarks take it from here, so a checkout laid out either way finds it, and a machine without it
skips the tests that need it (they say which path they looked for).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "SHOAL_SHARED_DATA"
_REPO = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path:
    """The first candidate folder that exists; the last candidate when none does (so messages name a path)."""
    candidates = [_REPO / "shared" / "data", _REPO.parent / "shared" / "data"]
    if os.environ.get(ENV_VAR):
        candidates.insert(0, Path(os.environ[ENV_VAR]).expanduser())
    for path in candidates:
        if path.is_dir():
            return path
    return candidates[-1]
