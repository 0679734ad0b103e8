"""Directories as bytes, for running a node on a machine that does not share our filesystem.

``pack`` makes an uncompressed tar of a directory's regular files and folders (links and special files are
left out); ``unpack`` extracts one with the ``data`` filter, which refuses absolute paths, ``..`` and links
pointing outside: the outputs come from generated code and are untrusted.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path


def pack(root: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in sorted(root.rglob("*")):
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                continue
            tar.add(path, arcname=str(path.relative_to(root)), recursive=False)
    return buf.getvalue()


def unpack(data: bytes, root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        tar.extractall(root, filter="data")
