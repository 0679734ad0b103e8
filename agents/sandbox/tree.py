"""Walking a directory a sandboxed program has written: iterative, never following links, bounded in depth.

A program can nest folders thousands of levels deep (``mkdir d; cd d`` in a loop) and make paths longer than the
kernel's PATH_MAX. ``os.walk`` recurses (RecursionError at about 1,000 levels on Python 3.11) and full-path calls
fail past PATH_MAX: a walk that crashed took Shoal down with it, and a walk that skipped what it could not reach
hid bytes from the disk watcher. ``Walk`` walks with an explicit stack and does not enter a folder deeper than
``MAX_DEPTH`` levels, with a path longer than ``MAX_PATH`` characters, or that it cannot read: it lists it in
``hidden`` (the sandbox counts that against the run), and ``remove_tree`` removes such a folder however deep, with
directory file descriptors and no full paths.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

MAX_DEPTH = 32  # levels below the node directory a run may nest folders
MAX_PATH = 3000  # characters of a path under it (PATH_MAX is 4096)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


@dataclass(frozen=True)
class Entry:
    path: str
    st: os.stat_result
    too_deep: bool = False  # a folder that is not entered (see MAX_DEPTH, MAX_PATH)


class Walk:
    """Every entry under ``root`` (preorder: a folder before what it holds), links not followed, iteratively;
    stops after ``max_entries`` entries when given. Folders it does not enter are listed in ``hidden``: too deep
    or too long (also yielded, with ``too_deep``), or unreadable. Entries that vanish while walking are skipped."""

    def __init__(self, root: str | os.PathLike[str], *, max_entries: int | None = None) -> None:
        self.root = os.fspath(root)
        self.max_entries = max_entries
        self.entries = 0
        self.hidden: list[str] = []

    def __iter__(self) -> Iterator[Entry]:
        stack: list[tuple[str, int]] = [(self.root, 0)]
        while stack:
            folder, depth = stack.pop()
            try:
                it = os.scandir(folder)
            except FileNotFoundError:
                continue
            except OSError:
                self.hidden.append(folder)
                continue
            with it:
                for entry in it:
                    self.entries += 1
                    if self.max_entries is not None and self.entries > self.max_entries:
                        return
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISDIR(st.st_mode):
                        deep = depth + 1 > MAX_DEPTH or len(entry.path) > MAX_PATH
                        if deep:
                            self.hidden.append(entry.path)
                        yield Entry(entry.path, st, deep)
                        if not deep:
                            stack.append((entry.path, depth + 1))
                    else:
                        yield Entry(entry.path, st)


def remove_tree(path: str) -> None:
    """Remove the folder ``path`` and everything in it, however deep: descend with directory descriptors, delete
    what is not a folder, climb back by ``..`` (nothing else writes the tree while Shoal walks it)."""
    parent = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
    names = [os.path.basename(path)]
    try:
        fd = _enter(names[0], parent)
    finally:
        os.close(parent)
    while True:
        sub = None
        with os.scandir(fd) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    sub = entry.name
                    break
                os.unlink(entry.name, dir_fd=fd)
        if sub is not None:
            child = _enter(sub, fd)
            os.close(fd)
            fd = child
            names.append(sub)
            continue
        up = os.open("..", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        os.rmdir(names.pop(), dir_fd=up)
        if not names:
            os.close(up)
            return
        fd = up


def _enter(name: str, dir_fd: int) -> int:
    """A descriptor of the folder ``name`` in ``dir_fd``, made readable first (a folder the run locked)."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except PermissionError:
        os.chmod(name, 0o700, dir_fd=dir_fd)  # a folder (checked by O_DIRECTORY | O_NOFOLLOW failing only on perms)
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
