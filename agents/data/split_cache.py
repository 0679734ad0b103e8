"""A held-out split's directory in the cache, written once: into ``<root>.tmp``, then renamed, so a split that
failed or was interrupted halfway is never taken for a finished one (``split`` and ``folder_split`` both)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

COUNTS = "counts.json"  # written last by every split: a directory without it is incomplete


def build_once(root: Path, write: Callable[[Path], None]) -> Path:
    """``root``, written by ``write(tmp)`` unless it is complete already; whatever ``write`` raises leaves nothing."""
    if (root / COUNTS).is_file():
        return root
    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    return root
