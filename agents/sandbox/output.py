"""Bounded capture of a child's output (head + tail) and cleaning of sandbox paths from it."""

from __future__ import annotations

import functools
import sysconfig
from pathlib import Path


class HeadTail:
    """Keeps the first and last ``limit // 2`` bytes of a stream; memory stays bounded whatever the child writes."""

    def __init__(self, limit: int) -> None:
        self.half = max(1, limit // 2)
        self.limit = limit
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.limit - len(self.head) if not self.tail else 0
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > self.half:
                del self.tail[: len(self.tail) - self.half]

    def text(self) -> str:
        if self.total <= self.limit:
            return (bytes(self.head) + bytes(self.tail)).decode("utf-8", errors="replace")
        head = bytes(self.head[: self.half])
        tail = (bytes(self.head[self.half :]) + bytes(self.tail))[-self.half :]
        omitted = self.total - len(head) - len(tail)
        return (
            f"{head.decode('utf-8', errors='replace')}\n[... {omitted} bytes of output omitted ...]\n"
            f"{tail.decode('utf-8', errors='replace')}"
        )


class PathCleaner:
    """Rewrites absolute paths the model should not see: the run directory becomes relative, libraries short."""

    def __init__(
        self, workdir: Path | str, *, sandbox_paths: tuple[str, ...] = (), labels: dict[str, str] | None = None
    ) -> None:
        raw = [str(workdir)]
        if isinstance(workdir, Path):
            raw.append(str(workdir.resolve()))
        raw += list(sandbox_paths)
        subs: list[tuple[str, str]] = []
        for p in {r.rstrip("/") for r in raw if r and r != "/"}:
            subs += [(p + "/", ""), (p, ".")]
        paths = _own_paths()
        for key, label in (("purelib", "<site-packages>"), ("platlib", "<site-packages>"), ("stdlib", "<stdlib>")):
            if paths.get(key):
                subs.append((paths[key].rstrip("/"), label))
        subs += [(path.rstrip("/"), label) for path, label in (labels or {}).items()]
        # longest first, so a nested path is replaced before its prefix
        self._subs = sorted(set(subs), key=lambda s: len(s[0]), reverse=True)

    def __call__(self, text: str) -> str:
        for old, new in self._subs:
            if old in text:
                text = text.replace(old, new)
        return text


@functools.lru_cache(maxsize=1)
def _own_paths() -> dict[str, str]:
    """Shoal's interpreter's library paths (fixed for the life of the process)."""
    return sysconfig.get_paths()
