"""The bubblewrap command line of one run: a fresh root with only the OS, the experiment environment, the
read-only inputs and the node directory (the one writable place), in new PID/IPC/UTS/network namespaces.

As root, bwrap builds the namespaces with root's own view of the host (so a workspace under a 0700 directory
still binds), keeps only CAP_SETUID/SETGID/SETPCAP, and the program is started through ``setpriv`` as the
unprivileged sandbox uid with an empty bounding set and ``no_new_privs``: never uid 0, no capability. As an
ordinary user, bwrap runs unprivileged inside a new user namespace (which it cannot leave: ``--disable-userns``).
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from agents.sandbox.base import ReadOnlyMount

NODE = "/sandbox"  # where the node directory appears inside
INSIDE_UID = 1000
_OS_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# the few files under /etc programs need (dynamic linker cache, alternatives symlinks, time zone, fonts)
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "timezone", "fonts", "mime.types")
_ETC_NET = ("resolv.conf", "hosts", "nsswitch.conf", "ssl", "ca-certificates", "ca-certificates.conf")
# the CPU topology, read-only (nothing else of /sys): lscpu, and through it joblib's count of physical cores,
# which without it warned with a traceback in the output of every HistGradientBoosting or LightGBM fit
SYS_CPU = "/sys/devices/system/cpu"
INSIDE_ENV = "/opt/shoal-env"
MPL_CACHE = "mplconfig"  # in the experiment environment
MPL_INSIDE = "/tmp/matplotlib"
_RESERVED = ("/", "/proc", "/dev", "/tmp", "/etc", "/sys", INSIDE_ENV, NODE, *_OS_DIRS)


def check_mounts(mounts: Sequence[ReadOnlyMount]) -> None:
    """Our callers' bugs raise: a relative, reserved or missing mount is never silently skipped."""
    for m in mounts:
        target = os.path.normpath(m.target)
        inside_reserved = target.startswith(("/proc/", "/dev/", "/sys/", NODE + "/"))
        if not target.startswith("/") or target in _RESERVED or inside_reserved:
            raise ValueError(f"read-only mount target {m.target!r} must be an absolute path outside {_RESERVED}")
        if not Path(m.source).exists():
            raise FileNotFoundError(f"read-only mount source {m.source} does not exist")


def os_args(network: bool) -> list[str]:
    return list(_os_args(network))


@functools.lru_cache(maxsize=2)
def _os_args(network: bool) -> tuple[str, ...]:
    """Looked up once per process: the host's OS directories do not change under a running Shoal."""
    args: list[str] = []
    for d in _OS_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    args += ["--perms", "0755", "--dir", "/etc"]  # bwrap makes missing directories 0700
    for name in (*_ETC, *(_ETC_NET if network else ())):
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    if os.path.isdir(SYS_CPU):
        args += [*_dirs_for(SYS_CPU), "--ro-bind", SYS_CPU, SYS_CPU]
    return tuple(args)


def _dirs_for(target: str) -> list[str]:
    """``--perms 0755 --dir`` for each missing parent of a mount point (bwrap would make them 0700)."""
    out: list[str] = []
    for parent in reversed(PurePosixPath(target).parents):
        if str(parent) not in ("/", "/tmp", MPL_INSIDE):
            out += ["--perms", "0755", "--dir", str(parent)]
    return out


@functools.lru_cache(maxsize=8)
def _which(name: str) -> str | None:
    return shutil.which(name)


def setpriv_prefix(ids: tuple[int, int]) -> list[str]:
    setpriv = _which("setpriv") or "/usr/bin/setpriv"
    uid, gid = ids
    return [
        setpriv,
        f"--reuid={uid}",
        f"--regid={gid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]


def namespace_flags(ids: tuple[int, int] | None, network: bool) -> list[str]:
    flags = ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    flags += [] if network else ["--unshare-net"]
    flags += ["--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if ids is not None:  # root: setpriv inside needs these three, and drops them (and everything else) itself
        flags += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    else:
        flags += ["--unshare-user", "--disable-userns", "--uid", str(INSIDE_UID), "--gid", str(INSIDE_UID)]
    return flags


def setup_args(
    *,
    ids: tuple[int, int] | None,
    workdir: Path,
    env_dir: Path | None,
    env_base: Path | None,
    mounts: Sequence[ReadOnlyMount],
    network: bool,
    tmp_bytes: int,
    seccomp_fd: int | None = None,
    devices: Sequence[str] = (),
) -> list[str]:
    """bubblewrap's options for one run (everything before ``--``): namespaces, the fresh root and its mounts,
    the seccomp filter (``seccomp_fd``: see agents/sandbox/seccomp.py), the working directory."""
    args = [
        *namespace_flags(ids, network),
        "--hostname",
        "sandbox",
        *os_args(network),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--perms",
        "1777",
        "--size",
        str(tmp_bytes),
        "--tmpfs",
        "/tmp",
        "--perms",
        "1777",
        "--size",
        str(tmp_bytes),
        "--tmpfs",
        "/dev/shm",
    ]
    binds: list[tuple[str, str, str]] = []
    if env_dir is not None:
        binds.append(("--ro-bind", str(env_dir), INSIDE_ENV))
        if env_base is not None and not str(env_base).startswith("/usr"):
            binds.append(("--ro-bind", str(env_base), str(env_base)))
        # matplotlib's font list, built once by setup: a private MPLCONFIGDIR need not rebuild it (about 0.5 s)
        for cache in sorted((env_dir / MPL_CACHE).glob("fontlist-*.json")):
            binds.append(("--ro-bind", str(cache), f"{MPL_INSIDE}/{cache.name}"))
    binds += [("--ro-bind", str(m.source), os.path.normpath(m.target)) for m in mounts]
    binds.append(("--bind", str(workdir), NODE))
    args += ["--perms", "1777", "--dir", MPL_INSIDE]
    for flag, source, target in binds:
        args += [*_dirs_for(target), flag, source, target]
    for dev in devices:  # GPUs on request (sandbox.gpus): the device nodes only
        args += ["--dev-bind-try", dev, dev]
    if seccomp_fd is not None:
        args += ["--add-seccomp-fd", str(seccomp_fd)]
    return [*args, "--chdir", NODE, "--remount-ro", "/"]


def inner_prefix(ids: tuple[int, int] | None, nproc: int | None) -> list[str]:
    """What runs inside before the program: ``setpriv`` down to the sandbox uid (as root) and, with ``nproc``,
    a hard cap on the tasks (processes and threads) of the run for the user-namespace mode where no cgroup is
    ours to set: ``prlimit`` sets RLIMIT_NPROC *inside* the namespaces, where the kernel counts only the run's
    own tasks (the count is per user namespace), so a fork loop stops at the cap between two looks of the
    watcher instead of filling the machine's process table."""
    return [*(setpriv_prefix(ids) if ids is not None else []), *(nproc_prefix(nproc) if nproc is not None else [])]


def nproc_prefix(nproc: int) -> list[str]:
    """``prlimit --nproc=N --`` (util-linux, on every machine that has setpriv); nothing when it is missing."""
    prlimit = _which("prlimit")
    return [prlimit, f"--nproc={nproc}", "--"] if prlimit else []


def gpu_devices() -> list[str]:
    """NVIDIA device nodes and /dev/dri, when present (bound only when ``sandbox.gpus`` asks for GPUs)."""
    import glob

    return sorted(glob.glob("/dev/nvidia*")) + (["/dev/dri"] if os.path.isdir("/dev/dri") else [])
