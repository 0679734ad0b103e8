"""What a sandboxed program may leave in its directory: regular files and folders, nothing else.

The node directory is the one place generated code can write, and Shoal reads and writes it afterwards with its
own privileges (root in CI): it writes ``stdout.txt``, reads ``metrics.json`` and the plots, embeds images in the
report. A symbolic link left there (``stdout.txt -> /etc/cron.d/job``, ``metrics.json -> /root/.ssh/id_rsa``)
would make Shoal write or read a host file the program could never reach; a FIFO would make it block; a hard link
to a file outside the directory would be chowned with the tree; a set-uid bit would outlive the run.

``scrub`` runs after every sandboxed run, once every process of it is dead (and before the next hands the
directory over): it walks the tree without following links (iteratively, ``agents.sandbox.tree``) and removes
symbolic links, FIFOs, sockets and device files, regular files with a link outside the tree, and folders nested
too deep to walk safely; it clears set-uid, set-gid and sticky bits. It returns one line per removal for the
run's stderr, so the model learns why a file it made is gone.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agents.errors import UserInputError
from agents.sandbox import privileges
from agents.sandbox.base import SandboxResult
from agents.sandbox.tree import MAX_DEPTH, Walk, remove_tree

log = logging.getLogger(__name__)

MAX_METRICS_BYTES = 16 << 20  # the largest metrics.json Shoal loads (with its own memory) from a run's directory

_KINDS = {
    stat.S_IFLNK: "symbolic link",
    stat.S_IFIFO: "FIFO",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
}
_SPECIAL_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX


def _describe(path: str, root: str, st: os.stat_result) -> str:
    rel = os.path.relpath(path, root)
    kind = _KINDS.get(stat.S_IFMT(st.st_mode), "special file")
    if stat.S_ISLNK(st.st_mode):
        try:
            return f"{rel} ({kind} to {os.readlink(path)})"
        except OSError:
            pass
    return f"{rel} ({kind})"


def scrub(root: Path) -> list[str]:
    """Remove from ``root`` what is not a regular file or a folder (see the module doc), and folders nested too
    deep to walk (``agents.sandbox.tree``); one line per removal."""
    top = str(root)
    removed: list[str] = []
    files: list[tuple[str, os.stat_result]] = []
    mode = stat.S_IMODE(os.lstat(top).st_mode)
    if mode & 0o700 != 0o700:
        os.chmod(top, mode | 0o700)
    walk = Walk(top)
    for entry in walk:
        path, st = entry.path, entry.st
        if entry.too_deep:
            removed.append(f"{os.path.relpath(path, top)[:80]}... (folders nested over {MAX_DEPTH} deep or too long)")
            remove_tree(path)
        elif stat.S_ISDIR(st.st_mode):
            if st.st_mode & _SPECIAL_BITS or st.st_mode & 0o700 != 0o700:  # a folder it locked is walked too
                os.chmod(path, (stat.S_IMODE(st.st_mode) & ~_SPECIAL_BITS) | 0o700)  # a folder: lstat said so
        elif stat.S_ISREG(st.st_mode):
            files.append((path, st))
        else:
            removed.append(_describe(path, top, st))
            os.unlink(path)
    for folder in walk.hidden:  # unreadable even to us: nothing in it is kept
        if os.path.isdir(folder) and not os.path.islink(folder) and folder != top:
            removed.append(f"{os.path.relpath(folder, top)[:80]} (a folder Shoal could not read)")
            remove_tree(folder)
    inside = Counter((st.st_dev, st.st_ino) for _, st in files)
    for path, st in files:
        if st.st_nlink > inside[(st.st_dev, st.st_ino)]:
            removed.append(f"{os.path.relpath(path, top)} (hard link to a file outside the directory)")
            os.unlink(path)
        elif st.st_mode & _SPECIAL_BITS:
            os.chmod(path, stat.S_IMODE(st.st_mode) & ~_SPECIAL_BITS, follow_symlinks=False)
    if removed:
        log.warning("removed from %s what a sandboxed program left there: %s", root, "; ".join(removed[:10]))
    return removed


def scrub_nodes(nodes: Path) -> None:
    """Scrub every node folder of a run when it is opened: each sandboxed run is scrubbed when it ends, but a run
    made before that, or copied from someone else, may hold a link a node planted (``stdout.txt -> /etc/...``). A
    link or special file where a node folder belongs is removed; a ``nodes`` folder that is itself a link is refused."""
    if nodes.is_symlink():
        raise UserInputError(f"{nodes} is a link, not the run's own folder of nodes; Shoal will not follow it")
    if not nodes.is_dir():
        return
    for node in sorted(nodes.iterdir()):
        if node.is_dir() and not node.is_symlink():
            removed = scrub(node)
        elif node.is_symlink() or not node.is_file():
            removed = [f"{node.name} (a link or special file, not a node folder)"]
            node.unlink()
        else:
            continue
        if removed:
            log.warning("%s: removed what a node left that Shoal must not follow: %s", node, "; ".join(removed[:5]))


def note(removed: list[str], limit: int = 10) -> str:
    """The stderr line that tells the program's author what was removed ("" when nothing was)."""
    if not removed:
        return ""
    more = f" and {len(removed) - limit} more" if len(removed) > limit else ""
    return (
        "\n[shoal] removed what the program left that is not a regular file or a folder (links, FIFOs, sockets, "
        f"devices are not kept): {'; '.join(removed[:limit])}{more}\n"
    )


@contextmanager
def handed_over(workdir: Path, ids: tuple[int, int] | None) -> Iterator[list[str]]:
    """The node directory for one run, as every backend hands it over: scrubbed (an earlier run's links never reach
    the chown), given to the sandbox uid, and after the run (every process of it dead) scrubbed again and taken
    back. Yields the list the second scrub's removals are added to (for ``reported``)."""
    scrub(workdir)
    mode = privileges.hand_over(workdir, ids)
    removed: list[str] = []
    try:
        yield removed
    finally:
        removed += scrub(workdir)
        privileges.take_back(workdir, ids, mode)


def reported(result: SandboxResult, removed: list[str]) -> SandboxResult:
    """``result`` with the removals noted at the end of its stderr."""
    return result.model_copy(update={"stderr": result.stderr + note(removed)}) if removed else result


def write_own(path: Path, text: str) -> None:
    """Write one of Shoal's own files into a directory a sandboxed program has written: whatever the program left
    under that name (a folder; links are gone after ``scrub``) is replaced, never written through."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    path.write_text(text, encoding="utf-8")
