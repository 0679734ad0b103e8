"""How many model calls may be in flight at once, per endpoint: one bounded semaphore per base URL.

Parallel experiment workers (and anything else calling from several threads) overlap their model calls up to
``llm.max_concurrency`` per endpoint; more wait here, in order, instead of piling onto the server. Every LLM
instance in the process shares the same semaphores, so two stages calling one endpoint share its limit. The
embedded model's server can take that many request slots (``embedded.parallel = 0``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_SLOTS: dict[str, tuple[int, threading.BoundedSemaphore]] = {}
_GUARD = threading.Lock()


def endpoint_slots(base_url: str, limit: int) -> threading.BoundedSemaphore:
    """The semaphore of ``base_url`` (made with ``limit`` on first use; a changed limit makes a new one)."""
    key = base_url.rstrip("/")
    with _GUARD:
        got = _SLOTS.get(key)
        if got is None or got[0] != limit:
            got = _SLOTS[key] = (limit, threading.BoundedSemaphore(limit))
        return got[1]


@contextmanager
def call_slot(base_url: str, limit: int) -> Iterator[None]:
    """Hold one of ``base_url``'s ``limit`` slots for the duration of one request."""
    sem = endpoint_slots(base_url, limit)
    with sem:
        yield
