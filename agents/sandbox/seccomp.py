"""A small seccomp filter for every bubblewrap run: no new user namespaces, no kernel keyrings.

User namespaces: as an ordinary user bubblewrap's ``--disable-userns`` refuses them; as root bwrap builds no user
namespace of its own, so the program (already an unprivileged uid with no capability) could still create one and,
inside it, reach more of the kernel. The filter refuses ``unshare``/``clone`` with CLONE_NEWUSER (EPERM), answers
``clone3`` with ENOSYS (its flags live in memory a filter cannot read; libc falls back to ``clone``) and refuses
the x32 ABI.

Keyrings: the kernel keeps a user keyring per uid (and user namespace), and it outlives a run. As root every run
is the same ``shoal-sandbox`` uid in the initial namespace, so one run's ``add_key`` was readable by every later
run (of any user's experiment). As an ordinary user the run has a user namespace of its own, whose keyring the
host's keys are not in (checked: a key of the user's was not found from inside); the filter applies there too,
as Docker's default profile refuses ``add_key``, ``request_key`` and ``keyctl`` everywhere (EPERM).

x86-64 only; elsewhere no filter is added and ``Isolation.pieces`` does not claim it.
"""

from __future__ import annotations

import os
import platform
import struct

_AUDIT_ARCH_X86_64 = 0xC000003E
_NR = {"clone": 56, "unshare": 272, "clone3": 435, "add_key": 248, "request_key": 249, "keyctl": 250}
_X32_BIT = 0x40000000
_CLONE_NEWUSER = 0x10000000
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000
_EPERM, _ENOSYS = 1, 38
# BPF opcodes: ld word abs, jeq k, jge k, jset k, ret k
_LD, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def program() -> bytes | None:
    """The BPF program (struct sock_filter[]), or None where it is not written for this machine."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    insns = [
        _insn(_LD, 0, 0, 4),  # 0: arch
        _insn(_JEQ, 1, 0, _AUDIT_ARCH_X86_64),  # 1: x86-64 -> 3
        _insn(_RET, 0, 0, _ALLOW),  # 2: another arch's syscalls: not ours to judge
        _insn(_LD, 0, 0, 0),  # 3: syscall number
        _insn(_JGE, 9, 0, _X32_BIT),  # 4: x32 ABI -> 14 (EPERM)
        _insn(_JEQ, 6, 0, _NR["unshare"]),  # 5: -> 12
        _insn(_JEQ, 5, 0, _NR["clone"]),  # 6: -> 12
        _insn(_JEQ, 8, 0, _NR["clone3"]),  # 7: -> 16 (ENOSYS)
        _insn(_JEQ, 5, 0, _NR["add_key"]),  # 8: -> 14 (EPERM)
        _insn(_JEQ, 4, 0, _NR["request_key"]),  # 9: -> 14
        _insn(_JEQ, 3, 0, _NR["keyctl"]),  # 10: -> 14
        _insn(_RET, 0, 0, _ALLOW),  # 11
        _insn(_LD, 0, 0, 16),  # 12: low word of the first argument (the flags)
        _insn(_JSET, 0, 1, _CLONE_NEWUSER),  # 13: NEWUSER -> 14, else -> 15
        _insn(_RET, 0, 0, _ERRNO | _EPERM),  # 14
        _insn(_RET, 0, 0, _ALLOW),  # 15
        _insn(_RET, 0, 0, _ERRNO | _ENOSYS),  # 16
    ]
    return b"".join(insns)


def filter_fd() -> int | None:
    """A pipe's read end holding the program, for ``bwrap --add-seccomp-fd``; the caller closes it."""
    data = program()
    if data is None:
        return None
    r, w = os.pipe()
    try:
        os.write(w, data)
    finally:
        os.close(w)
    return r
