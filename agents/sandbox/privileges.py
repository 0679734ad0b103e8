"""Who generated code runs as: never uid 0, never with a capability on the host.

As root, the child drops to a dedicated unprivileged uid/gid (the ``shoal-sandbox`` system user that setup.sh
creates, else a fixed high uid with no passwd entry) *before* it executes bubblewrap: an empty capability
bounding set, no supplementary groups, ``no_new_privs``. Bubblewrap then builds its namespaces from that
unprivileged uid inside a user namespace, so a mount-namespace escape still lands as a nobody. As an ordinary
user nothing is dropped here (the user namespace does the work).
"""

from __future__ import annotations

import ctypes
import os
import pwd
from collections.abc import Callable, Sequence
from pathlib import Path

from agents.sandbox.tree import Walk

SANDBOX_USER = "shoal-sandbox"
FALLBACK_UID = 2_147_400_000  # far above any real account; no passwd entry needed
_PR_SET_PDEATHSIG = 1
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_LIBC = ctypes.CDLL(None, use_errno=True)


def is_root() -> bool:
    return os.geteuid() == 0


def sandbox_ids(configured_uid: int = 0) -> tuple[int, int] | None:
    """The host uid/gid to drop to, or None when Shoal is not root (nothing to drop)."""
    if not is_root():
        return None
    if configured_uid:
        return configured_uid, configured_uid
    try:
        entry = pwd.getpwnam(SANDBOX_USER)
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        return FALLBACK_UID, FALLBACK_UID


def _last_cap() -> int:
    try:
        return int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        return 63


LAST_CAP = _last_cap()


def preexec(
    *,
    ids: tuple[int, int] | None,
    cgroup_fds: Sequence[int],
    limits: Sequence[tuple[int, tuple[int, int]]],
    death_signal: int,
) -> Callable[[], None]:
    """What the forked child does before exec: join the run's cgroups, set rlimits, drop to ``ids``.

    Plain system calls only (no locks, no logging): it runs between fork and exec. Order matters: the cgroup
    files and the bounding set need root; the parent-death signal is cleared by a uid change, so it comes last.
    """
    import resource

    parent = os.getpid()

    def apply() -> None:
        for fd in cgroup_fds:
            os.write(fd, b"0")  # "0": the writing process itself
        for res, lim in limits:
            resource.setrlimit(res, lim)
        if ids is not None:
            uid, gid = ids
            for cap in range(LAST_CAP + 1):
                if _LIBC.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), f"cannot drop capability {cap} from the bounding set")
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            if os.getuid() != uid or os.geteuid() != uid:
                raise OSError("the sandbox uid did not stick")
        if _LIBC.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "cannot set no_new_privs")
        # if Shoal itself dies (even by kill -9) the run goes with it instead of living on unattended
        _LIBC.prctl(_PR_SET_PDEATHSIG, death_signal, 0, 0, 0)
        if os.getppid() != parent:  # Shoal died before the line above: no signal will ever come
            os.kill(os.getpid(), death_signal)

    return apply


def hand_over(workdir: Path, ids: tuple[int, int] | None) -> int:
    """Make the node directory the sandbox uid's for the run; returns its mode to restore afterwards.

    The top directory also gets o+x: bwrap enters it as root *without* CAP_DAC_OVERRIDE before setpriv drops to
    the sandbox uid (pytest and mkdtemp make 0700 directories).
    """
    mode = os.stat(workdir).st_mode & 0o7777
    if ids is not None:
        _chown_tree(workdir, *ids)
        os.chmod(workdir, mode | 0o711)
    return mode


def take_back(workdir: Path, ids: tuple[int, int] | None, mode: int) -> None:
    """After the run (every sandboxed process is dead): the tree belongs to Shoal again; links are not followed."""
    if ids is not None:
        _chown_tree(workdir, os.getuid(), os.getgid())
        os.chmod(workdir, mode)


def _chown_tree(root: Path, uid: int, gid: int, limit: int = 200_000) -> None:
    os.chown(root, uid, gid, follow_symlinks=False)
    for entry in Walk(root, max_entries=limit):  # iterative, links not followed, depth bounded (scrubbed before)
        try:
            os.chown(entry.path, uid, gid, follow_symlinks=False)
        except FileNotFoundError:
            continue


def unreachable_parent(path: Path) -> Path | None:
    """The first ancestor of ``path`` another uid cannot pass through (no o+x), or None."""
    for parent in reversed(path.resolve().parents):
        if not os.stat(parent).st_mode & 0o001:
            return parent
    return None
