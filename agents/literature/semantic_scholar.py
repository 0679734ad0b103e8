"""Semantic Scholar through the ``semanticscholar`` client, made safe for unattended runs.

Choices written down here:

- The client's own retry loop is off (it waits up to ten times 5-60 s on a 429); ours is bounded by
  ``literature.max_retries`` with exponential backoff from ``literature.backoff_base_s`` capped at
  ``literature.backoff_max_s``, on 429, 5xx, timeouts and connection errors only. Each request has the
  ``literature.timeout_s`` timeout, so one call takes at most (retries + 1) x (timeout + backoff).
- Requests are spaced by ``literature.min_interval_s`` (the public API allows about one request a second).
- When the retries are spent, or the API refuses access (403), ``LiteratureUnavailable`` is raised and the backend
  stays *down* for the rest of the process: later calls fail at once instead of waiting again. The factory's
  fallback chain turns that into "continue on the local library".
- A 404 on a lookup is ``None``; an empty search is ``[]``; a 400 (a query the API rejects) is ``[]`` with a log
  line, since the model wrote the query.
- Answers are cached on disk (``<cache_dir>/semantic_scholar``) for ``literature.cache_ttl_days``.
- The API key is read from the environment variable named by ``literature.api_key_env`` (``S2_API_KEY``) when set.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from semanticscholar import SemanticScholar
from semanticscholar.SemanticScholarException import (
    BadQueryParametersException,
    ObjectNotFoundException,
    ServerErrorException,
)
from tenacity import RetryError

from agents.literature.base import LiteratureUnavailable, Paper
from agents.literature.cache import MISS, JSONCache
from agents.settings import LiteratureSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

FIELDS: list[str] = [
    "paperId",
    "title",
    "authors",
    "year",
    "venue",
    "abstract",
    "citationCount",
    "url",
    "externalIds",
    "citationStyles",
]
_RETRYABLE: tuple[type[BaseException], ...] = (
    ConnectionRefusedError,  # how the client reports HTTP 429
    ServerErrorException,
    httpx.TimeoutException,
    httpx.TransportError,
    json.JSONDecodeError,  # a 200 whose body is not JSON (a proxy's error page)
)
_QUERY_UNSAFE = re.compile(r"[&#=?+%]")
_PAPER_ID = re.compile(r"[\w.:/()\-]{1,200}")


def paper_from_s2(data: dict[str, Any]) -> Paper | None:
    """A ``Paper`` from one Semantic Scholar paper object (None when it has no id or title)."""
    if not isinstance(data, dict) or not data.get("paperId") or not data.get("title"):
        return None
    authors = [a.get("name", "") for a in data.get("authors") or [] if isinstance(a, dict) and a.get("name")]
    styles = data.get("citationStyles") or {}
    return Paper(
        paper_id=str(data["paperId"]),
        title=str(data["title"]).strip(),
        authors=authors,
        year=data.get("year") if isinstance(data.get("year"), int) else None,
        venue=data.get("venue") or None,
        abstract=data.get("abstract") or None,
        citation_count=data.get("citationCount") if isinstance(data.get("citationCount"), int) else None,
        url=data.get("url") or None,
        bibtex=styles.get("bibtex") if isinstance(styles, dict) else None,
        source="semantic_scholar",
    )


class SemanticScholarBackend:
    """``LiteratureBackend`` on the Semantic Scholar Graph API."""

    name = "semantic_scholar"

    def __init__(self, settings: LiteratureSettings, cache_dir: Path, *, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.api_key = os.environ.get(settings.api_key_env) or None
        kwargs: dict[str, Any] = {"timeout": settings.timeout_s, "retry": False}
        if settings.api_url:
            kwargs["api_url"] = settings.api_url.rstrip("/")
        if self.api_key:
            kwargs["api_key"] = self.api_key
        self._client = SemanticScholar(**kwargs)
        self.cache = JSONCache(cache_dir / "semantic_scholar", settings.cache_ttl_days * 86400)
        self._sleep = sleep
        self._lock = threading.Lock()
        self._last_request = 0.0
        self.down_reason: str | None = None
        self.requests_sent = 0

    # -- LiteratureBackend -------------------------------------------------------------------------------------

    def search(self, query: str, limit: int = 10) -> list[Paper]:
        query = " ".join(_QUERY_UNSAFE.sub(" ", query).split())
        if not query:
            return []
        limit = max(1, min(100, limit))
        key = f"search|{query.lower()}|{limit}"
        cached = self.cache.get(key)
        if cached is not MISS:
            return [Paper.model_validate(p) for p in cached]
        try:
            results = self._call(
                f"search {query!r}", lambda: self._client.search_paper(query, fields=FIELDS, limit=limit)
            )
            raw = list(results.items)[:limit]  # .items is the first page only; iterating would fetch more pages
        except BadQueryParametersException as exc:
            log.info("Semantic Scholar rejected the query %r: %s", query, exc)
            return []
        except ObjectNotFoundException:
            raw = []
        papers = [p for p in (paper_from_s2(item.raw_data) for item in raw) if p is not None]
        self.cache.put(key, [p.model_dump(mode="json") for p in papers])
        return papers

    def get(self, paper_id: str) -> Paper | None:
        paper_id = paper_id.strip()
        if not _PAPER_ID.fullmatch(paper_id):  # the model wrote something that is not an id
            return None
        key = f"paper|{paper_id}"
        cached = self.cache.get(key)
        if cached is not MISS:
            return Paper.model_validate(cached) if cached else None
        try:
            data = self._call(f"paper {paper_id}", lambda: self._client.get_paper(paper_id, fields=FIELDS))
            paper = paper_from_s2(data.raw_data)
        except (ObjectNotFoundException, BadQueryParametersException):
            paper = None
        self.cache.put(key, paper.model_dump(mode="json") if paper else None)
        return paper

    # -- internals ---------------------------------------------------------------------------------------------

    def _throttle(self) -> None:
        with self._lock:
            wait = self._last_request + self.settings.min_interval_s - time.monotonic()
            if wait > 0:
                self._sleep(wait)
            self._last_request = time.monotonic()

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        if self.down_reason is not None:
            raise LiteratureUnavailable(f"Semantic Scholar is unavailable ({self.down_reason})")
        attempts = self.settings.max_retries + 1
        last = ""
        for attempt in range(1, attempts + 1):
            self._throttle()
            self.requests_sent += 1
            try:
                return _unwrapped(fn)
            except PermissionError:
                hint = f"check ${self.settings.api_key_env}" if self.api_key else "the API refused access"
                self._mark_down(f"HTTP 403 Forbidden; {hint}")
                raise LiteratureUnavailable(f"Semantic Scholar refused {what}: HTTP 403 ({hint})") from None
            except _RETRYABLE as exc:
                last = _describe(exc)
                if attempt == attempts:
                    break
                delay = min(self.settings.backoff_max_s, self.settings.backoff_base_s * 2 ** (attempt - 1))
                log.info("Semantic Scholar %s: %s; retry %d/%d in %.1fs", what, last, attempt, attempts - 1, delay)
                self._sleep(delay)
        self._mark_down(last)
        raise LiteratureUnavailable(f"Semantic Scholar {what} failed after {attempts} attempt(s): {last}")

    def _mark_down(self, reason: str) -> None:
        self.down_reason = reason


def _unwrapped(fn: Callable[[], T]) -> T:
    """Call ``fn``; the client wraps errors in tenacity's RetryError when its retry is off: re-raise the cause."""
    try:
        return fn()
    except RetryError as exc:
        cause = exc.last_attempt.exception()
        if cause is None:  # pragma: no cover - RetryError always carries a failed attempt
            raise
        raise cause from None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "rate limited (HTTP 429)"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, json.JSONDecodeError):
        return "answer is not JSON"
    if isinstance(exc, httpx.TransportError):
        return f"unreachable ({type(exc).__name__})"
    return f"server error ({type(exc).__name__}: {exc})"
