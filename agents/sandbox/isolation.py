"""Which kernel isolation this machine allows: network and PID namespaces through ``unshare``, probed once."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess

from pydantic import BaseModel

log = logging.getLogger(__name__)

_PID_FLAGS = ["--fork", "--pid", "--mount-proc", "--kill-child"]


class Isolation(BaseModel):
    """A command prefix and what it gives: its own network namespace, its own PID namespace."""

    prefix: list[str]
    network_isolated: bool
    pid_namespace: bool

    @property
    def describe(self) -> str:
        parts = ["network namespace" if self.network_isolated else "host network"]
        parts.append("PID namespace" if self.pid_namespace else "subreaper (no PID namespace)")
        return ", ".join(parts)


def _works(prefix: list[str]) -> bool:
    try:
        proc = subprocess.run([*prefix, "true"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


def _candidates(unshare: str, want_net: bool) -> list[tuple[list[str], bool, bool]]:
    root = os.geteuid() == 0
    users: list[list[str]] = [[]] if root else []
    users.append(["-r"])  # a user namespace lets an unprivileged user create the others
    net = ["-n"] if want_net else []
    out = [([unshare, *u, *net, *_PID_FLAGS], want_net, True) for u in users]
    if want_net:
        out += [([unshare, *u, "-n"], True, False) for u in users]
    return out


@functools.lru_cache(maxsize=4)
def probe_isolation(network: bool) -> Isolation:
    """The strongest isolation that works here; warns once when generated code would keep network access."""
    want_net = not network
    unshare = shutil.which("unshare")
    if unshare:
        for prefix, net_iso, pid_ns in _candidates(unshare, want_net):
            if _works(prefix):
                iso = Isolation(prefix=prefix, network_isolated=net_iso, pid_namespace=pid_ns)
                log.debug("sandbox isolation: %s via %s", iso.describe, " ".join(prefix))
                return iso
    if want_net:
        log.warning(
            "sandbox: neither `unshare -n` nor `unshare -rn` works here, so generated code can use the network; "
            "allow user namespaces (sysctl kernel.unprivileged_userns_clone=1) or use the docker backend"
        )
    return Isolation(prefix=[], network_isolated=False, pid_namespace=False)
