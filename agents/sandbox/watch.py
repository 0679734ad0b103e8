"""What the supervisor polls during a run: bytes in the node directory, and (without cgroups) the process tree."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import NamedTuple

from agents.sandbox._launcher import descendants  # one /proc walk for the launcher and the host
from agents.sandbox.tree import Walk


def dir_bytes(root: Path) -> int:
    """Allocated bytes under ``root`` (hard links once, symlinks not followed), every entry counted."""
    return dir_usage(root).bytes


class Usage(NamedTuple):
    bytes: int  # allocated bytes of the files (hard links once); a lower bound when ``hidden`` or truncated
    entries: int  # files and folders seen
    hidden: int  # folders not entered: nested too deep, paths too long, unreadable (agents.sandbox.tree)


def dir_usage(root: Path, max_entries: int | None = None) -> Usage:
    """What is under ``root``; with ``max_entries`` the walk stops once it has seen more than that many, and the
    entry count says so."""
    total = 0
    seen: set[tuple[int, int]] = set()
    walk = Walk(root, max_entries=max_entries)
    for entry in walk:
        st = entry.st
        if stat.S_ISDIR(st.st_mode):
            continue
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
        total += max(st.st_blocks * 512, 0)
    return Usage(total, walk.entries, len(walk.hidden))


class DiskWatch:
    """Bytes a run added to its directory, sampled no more often than keeps the walk under ~10% of a core.

    A watcher overshoots by what the run writes between two looks: every 20 ms for a small directory, so tens
    of MiB at page-cache speed; RLIMIT_FSIZE bounds any single file exactly."""

    def __init__(self, root: Path, max_files: int = 100_000, min_interval_s: float = 0.02) -> None:
        self.root = root
        self.max_files = max_files
        self.min_interval_s = min_interval_s
        t0 = time.monotonic()
        start = dir_usage(root)
        self.baseline, self.baseline_entries = start.bytes, start.entries
        self._cost = time.monotonic() - t0
        self._next = 0.0
        self.too_many = False  # past max_files, or folders it cannot look into: its byte count is incomplete

    def added(self) -> int | None:
        """Bytes added since the start, or None when it is not time to look again. A walk stops past the file
        limit (``too_many``), so a directory of millions of empty files can neither hide bytes nor slow the look."""
        now = time.monotonic()
        if now < self._next:
            return None
        found = dir_usage(self.root, self.baseline_entries + self.max_files)
        self.too_many = found.entries > self.baseline_entries + self.max_files or found.hidden > 0
        self._cost = time.monotonic() - now
        self._next = now + max(self.min_interval_s, 10 * self._cost)
        return found.bytes - self.baseline


def trim_entries(root: Path, since: float, excess: int) -> int:
    """Remove files and then empty folders the run made (modified at or after ``since``), deepest first, until
    ``excess`` entries are gone; returns how many were removed. Links are never followed."""
    removed = 0
    for entry in reversed(list(Walk(root))):  # preorder reversed: what a folder holds before the folder
        if removed >= excess:
            break
        if entry.st.st_mtime < since or entry.too_deep:  # too deep: agents.sandbox.leftovers removes it
            continue
        try:
            if stat.S_ISDIR(entry.st.st_mode):
                os.rmdir(entry.path)  # only when empty: a folder with older files inside stays
            else:
                os.unlink(entry.path)
        except OSError:
            continue
        removed += 1
    return removed


def trim_written(root: Path, since: float, excess: int) -> tuple[int, int]:
    """Remove files the run wrote (modified at or after ``since``), largest first, until ``excess`` bytes are
    gone: what a watcher that looked too late let through never stays in the node directory. Returns (files,
    bytes) removed; symlinks are never followed."""
    written = [
        (e.st.st_blocks * 512, e.path) for e in Walk(root) if not stat.S_ISDIR(e.st.st_mode) and e.st.st_mtime >= since
    ]
    removed = freed = 0
    for size, path in sorted(written, reverse=True):
        if freed >= excess:
            break
        try:
            os.unlink(path)
        except OSError:
            continue
        removed, freed = removed + 1, freed + size
    return removed, freed


class TreeWatch:
    """Processes and memory (resident sets, private tmpfs) of a run without cgroups, paced like DiskWatch (at
    most every 0.1 s)."""

    def __init__(self, root: int, min_interval_s: float = 0.1) -> None:
        self.root = root
        self.min_interval_s = min_interval_s
        self._next = 0.0

    def usage(self) -> tuple[int, int] | None:
        now = time.monotonic()
        if now < self._next:
            return None
        found = tree_usage(self.root)
        self._next = now + max(self.min_interval_s, 10 * (time.monotonic() - now))
        return found


def children(parent: int) -> list[int]:
    """The direct children of ``parent`` (from /proc/<pid>/task/*/children when the kernel has it)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{parent}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{parent}/task/{tid}/children", "rb") as fh:
                out += [int(p) for p in fh.read().split()]
        except (OSError, ValueError):
            return [p for p in descendants(parent) if _ppid(p) == parent]
    return out


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return -1
    return int(data[data.rfind(b")") + 2 :].split()[1])


# the run's own tmpfs mounts (agents/sandbox/bwrap.py): files there are memory that no resident set shows
PRIVATE_TMPFS = ("tmp", "dev/shm")


def _mount_ns(pid: int | str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


_OWN_MOUNT_NS = _mount_ns("self")  # Shoal's own: a process in it has no private tmpfs of a run


def tmpfs_bytes(pids: list[int]) -> int:
    """Bytes held in the private ``/tmp`` and ``/dev/shm`` of the mount namespaces ``pids`` run in, when that is
    not ours (bubblewrap's); each mount counted once. Seen through ``/proc/<pid>/root``, which the uid that made
    a user namespace may read (and root always)."""
    namespaces: set[str] = set()
    devices: set[int] = set()
    total = 0
    for pid in pids:
        ns = _mount_ns(pid)
        if ns is None or ns == _OWN_MOUNT_NS or ns in namespaces:
            continue
        namespaces.add(ns)
        for inside in PRIVATE_TMPFS:
            path = f"/proc/{pid}/root/{inside}"
            try:
                device = os.stat(path).st_dev
                if device in devices:
                    continue
                fs = os.statvfs(path)
            except OSError:
                continue
            devices.add(device)
            total += (fs.f_blocks - fs.f_bfree) * fs.f_frsize
    return total


def tree_usage(root: int) -> tuple[int, int]:
    """(tasks, memory bytes) of ``root`` and its descendants: tasks are processes and their threads, as the
    kernel's process limits count them; memory is their resident sets plus what their private /tmp and /dev/shm
    hold (a memory cgroup charges both)."""
    pids = [root, *descendants(root)]
    rss = tasks = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                rss += int(fh.read().split()[1]) * page
            with open(f"/proc/{pid}/stat", "rb") as fh:
                data = fh.read()
            tasks += int(data[data.rfind(b")") + 2 :].split()[17])  # field 20, num_threads
        except (OSError, IndexError, ValueError):
            continue
    return max(tasks, len(pids)), rss + tmpfs_bytes(pids)
