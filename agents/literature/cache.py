"""A small on-disk JSON cache for literature answers: one file per key, reused for ``ttl_s`` seconds.

Writes are atomic (temp file + rename), so concurrent runs sharing a cache never read a torn file; a file that
cannot be read is treated as a miss.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_MISS = object()


class JSONCache:
    """``get``/``put`` JSON values by string key under ``root``; ``ttl_s <= 0`` disables the cache."""

    def __init__(self, root: Path, ttl_s: float) -> None:
        self.root = root
        self.ttl_s = ttl_s

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return self.root / digest[:2] / f"{digest}.json"

    def get(self, key: str) -> Any:
        """The cached value, or ``MISS`` when absent, expired or unreadable."""
        if not self.enabled:
            return _MISS
        path = self._path(key)
        try:
            if time.time() - path.stat().st_mtime > self.ttl_s:
                return _MISS
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return _MISS
        if not isinstance(entry, dict) or entry.get("key") != key:
            return _MISS
        return entry.get("value")

    def put(self, key: str, value: Any) -> None:
        if not self.enabled:
            return
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"key": key, "value": value}, fh)
            os.replace(tmp, path)
        except OSError as exc:  # a cache that cannot be written only costs speed
            log.debug("literature cache: cannot write %s: %s", path, exc)


MISS = _MISS
