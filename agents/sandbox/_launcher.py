"""Supervisor of one local sandbox run when no PID namespace is available (a standalone script).

    python -I -S _launcher.py STATUS_FD -- PROGRAM [ARGS...]

It becomes a child subreaper, so orphans of PROGRAM (even ones that called setsid to leave its process group) are
re-parented to it instead of init; it forks PROGRAM, waits for it, writes ``exit N`` or ``signal N`` to STATUS_FD
and kills every descendant still alive before it exits. On SIGTERM (the executor's timeout, or Shoal's death via
PDEATHSIG) it kills all descendants and exits. Standard library only; nothing from Shoal is imported here.
"""

import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def _become_subreaper() -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def descendants(root: int) -> list[int]:
    """Every process below ``root`` (from /proc; a snapshot). Also used by the host side (agents.sandbox.watch)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        ppid = int(data[data.rfind(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(name))
    out: list[int] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            out.append(child)
            stack.append(child)
    return out


def _reap_nohang() -> bool:
    """Reap finished children; False once no child is left."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def _kill_descendants() -> None:
    me = os.getpid()
    for _ in range(400):  # bounded: about 2 s even against a fork loop
        pids = descendants(me)
        for pid in pids:
            try:  # noqa: SIM105  (contextlib is not imported: launcher start-up time)
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if not _reap_nohang() and not pids:
            return
        time.sleep(0.005)


def main() -> int:
    status_fd = int(sys.argv[1])
    argv = sys.argv[3:]
    os.set_inheritable(status_fd, False)
    _become_subreaper()

    def _terminate(signum: int, frame: object) -> None:
        _kill_descendants()
        os.write(status_fd, b"terminated 0\n")
        os._exit(137)

    signal.signal(signal.SIGTERM, _terminate)
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            os.execvp(argv[0], argv)
        except OSError as exc:
            os.write(2, f"sandbox: cannot run {argv[0]!r}: {exc.strerror}\n".encode())
        os._exit(127)
    _, status, _ = os.wait4(pid, 0)
    if os.WIFSIGNALED(status):
        kind, value, code = "signal", os.WTERMSIG(status), 128 + os.WTERMSIG(status)
    else:
        kind, value = "exit", os.WEXITSTATUS(status)
        code = value
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _kill_descendants()
    os.write(status_fd, f"{kind} {value}\n".encode())
    return code


if __name__ == "__main__":
    sys.exit(main())
