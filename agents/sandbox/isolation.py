"""What this machine lets the local sandbox isolate, probed once, and the honest per-piece account of it.

Three modes, strongest first: ``bwrap`` (bubblewrap: user, mount, PID, IPC, UTS and network namespaces with a
read-only root), ``unshare`` (network and PID namespaces only) and ``subreaper`` (no namespaces). Separately:
cgroups (v2, else v1 as root) for memory, processes and CPU of a run as a whole, else a watcher; as root, a
drop to an unprivileged uid before anything runs.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import BaseModel

from agents.errors import ConfigError
from agents.sandbox import cgroups, privileges, seccomp
from agents.sandbox.bwrap import inner_prefix, namespace_flags, os_args

log = logging.getLogger(__name__)

_PID_FLAGS = ["--fork", "--pid", "--mount-proc", "--kill-child"]
PIECES = ("user", "filesystem", "network", "pids", "memory", "disk")
_BWRAP_FIX = "install bubblewrap (apt-get install bubblewrap; scripts/setup.sh does it)"
_USERNS_FIX = "allow user namespaces (sysctl user.max_user_namespaces=10000; kernel.unprivileged_userns_clone=1)"


class Piece(BaseModel):
    """One isolated thing: whether it holds, by which mechanism, and how to get it when it does not."""

    name: str
    ok: bool
    how: str
    fix: str = ""


class Isolation(BaseModel):
    """How runs are started here. ``prefix`` is the unshare command line in ``unshare`` mode."""

    prefix: list[str]
    network_isolated: bool
    pid_namespace: bool
    bwrap: str | None = None
    cgroup: Literal["v2", "v1"] | None = None
    ids: tuple[int, int] | None = None  # host uid/gid generated code runs as (root only)

    @property
    def mode(self) -> str:
        if self.bwrap:
            return "bwrap"
        return "unshare" if self.pid_namespace else "subreaper"

    @property
    def describe(self) -> str:
        if self.bwrap:
            return "bubblewrap (user, mount, PID, network namespaces)" + (
                "" if self.network_isolated else ", host network"
            )
        parts = ["network namespace" if self.network_isolated else "host network"]
        parts.append("PID namespace" if self.pid_namespace else "subreaper (no PID namespace)")
        return ", ".join(parts)

    def pieces(self, *, network_requested: bool = False) -> list[Piece]:
        """user, filesystem, network, pids, memory, disk: what holds and how."""
        who = f"host uid {self.ids[0]}, no capabilities, no_new_privs" if self.ids else f"your uid {os.getuid()}"
        if self.bwrap and seccomp.program() is not None:
            who += ", no new user namespaces or keyrings (seccomp)" if self.ids else ", no keyrings (seccomp)"
        # as root bwrap sets up as root and setpriv drops to the sandbox uid: no user namespace there
        userns = (self.bwrap is not None and self.ids is None) or "-r" in self.prefix
        user_ok = self.ids is not None or (os.geteuid() != 0 and userns)
        user = Piece(
            name="user",
            ok=user_ok,
            how=who + (", in a user namespace" if userns else ""),
            fix="" if user_ok else _BWRAP_FIX,
        )
        fs = Piece(
            name="filesystem",
            ok=self.bwrap is not None,
            how="read-only OS and experiment env; the node directory is the only writable place; private /tmp"
            if self.bwrap
            else "the host filesystem, as the run's uid sees it",
            fix="" if self.bwrap else _BWRAP_FIX,
        )
        if self.network_isolated:
            net = Piece(name="network", ok=True, how="own network namespace (no interfaces but loopback)")
        elif network_requested:
            net = Piece(name="network", ok=True, how="host network (sandbox.network = true)")
        else:
            net = Piece(name="network", ok=False, how="host network", fix=_BWRAP_FIX + ", or " + _USERNS_FIX)
        cg = f"cgroup {self.cgroup}" if self.cgroup else ""
        tree = "PID namespace" if self.pid_namespace or self.bwrap else "subreaper"
        pids = Piece(
            name="pids",
            ok=True,
            how=f"{cg} pids limit, {tree}" if cg else f"watcher (process count polled), {tree}",
        )
        memory = Piece(
            name="memory",
            ok=True,
            how=f"{cg} memory limit of the whole run" if cg else "watcher (resident memory of the tree polled)",
        )
        disk = Piece(
            name="disk", ok=True, how="watcher (bytes and entries in the node directory polled) + RLIMIT_FSIZE per file"
        )
        return [user, fs, net, pids, memory, disk]

    def missing(self, required: Sequence[str], *, network_requested: bool) -> list[Piece]:
        return [p for p in self.pieces(network_requested=network_requested) if p.name in required and not p.ok]


def enforce(iso: Isolation, required: Sequence[str], *, network_requested: bool, allow_weak: bool) -> str | None:
    """Raise ConfigError when a required piece is missing (unless ``allow_weak``); returns the warning if any."""
    missing = iso.missing(required, network_requested=network_requested)
    if not missing:
        return None
    what = "; ".join(f"{p.name}: {p.how} (fix: {p.fix})" for p in missing)
    if not allow_weak:
        raise ConfigError(
            f"the sandbox cannot isolate generated code here as sandbox.min_isolation requires — {what}. "
            "Fix that, or set sandbox.allow_weak = true to run it anyway (the report will say so)"
        )
    warning = f"sandbox below sandbox.min_isolation (allow_weak = true): {what}"
    log.warning(warning)
    return warning


def _works(prefix: list[str], preexec: Callable[[], None] | None = None) -> bool:
    try:
        proc = subprocess.run(
            [*prefix, "/bin/true"],
            capture_output=True,
            timeout=10,
            check=False,
            preexec_fn=preexec,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    if proc.returncode != 0:
        log.debug("sandbox probe %s failed: %s", prefix, proc.stderr.decode(errors="replace")[-300:])
    return proc.returncode == 0


def _bwrap_works(bwrap: str, ids: tuple[int, int] | None, want_net: bool) -> bool:
    flags = [*namespace_flags(ids, not want_net), *os_args(False), "--proc", "/proc", "--dev", "/dev"]
    tail = ["--", *inner_prefix(ids, None)]
    return _works([bwrap, *flags, "--perms", "1777", "--tmpfs", "/tmp", *tail])


def _unshare_candidates(unshare: str, want_net: bool) -> list[tuple[list[str], bool, bool]]:
    users = [["-r"]]  # after the drop to an unprivileged uid a user namespace is needed, root or not
    net = ["-n"] if want_net else []
    out = [([unshare, *u, *net, *_PID_FLAGS], want_net, True) for u in users]
    if want_net:
        out += [([unshare, *u, "-n"], True, False) for u in users]
    return out


@functools.lru_cache(maxsize=8)
def probe_isolation(network: bool, uid: int = 0) -> Isolation:
    """The strongest isolation that works here (bwrap, else unshare, else none); probed once per setting."""
    want_net = not network
    ids = privileges.sandbox_ids(uid)
    avail = cgroups.available()
    cgroup = avail[0] if avail else None
    bwrap = shutil.which("bwrap")
    if bwrap and _bwrap_works(bwrap, ids, want_net):
        return Isolation(prefix=[], network_isolated=want_net, pid_namespace=True, bwrap=bwrap, cgroup=cgroup, ids=ids)
    log.debug("sandbox: bubblewrap %s", "does not work here" if bwrap else "is not installed")
    unshare = shutil.which("unshare")
    drop = privileges.preexec(ids=ids, cgroup_fds=(), limits=(), death_signal=9)
    if unshare:
        for prefix, net_iso, pid_ns in _unshare_candidates(unshare, want_net):
            if _works(prefix, drop):
                return Isolation(prefix=prefix, network_isolated=net_iso, pid_namespace=pid_ns, cgroup=cgroup, ids=ids)
    return Isolation(prefix=[], network_isolated=False, pid_namespace=False, cgroup=cgroup, ids=ids)
