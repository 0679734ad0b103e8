"""A small seccomp filter for the root mode: no new user namespaces inside the sandbox.

As an ordinary user bubblewrap's ``--disable-userns`` does this; as root bwrap builds no user namespace of its
own, so the program (already an unprivileged uid with no capability) could still create one and, inside it,
reach more of the kernel. The filter refuses ``unshare``/``clone`` with CLONE_NEWUSER (EPERM), answers ``clone3``
with ENOSYS (its flags live in memory a filter cannot read; libc falls back to ``clone``) and refuses the x32
ABI. x86-64 only; elsewhere no filter is added and ``Isolation.pieces`` does not claim it.
"""

from __future__ import annotations

import os
import platform
import struct

_AUDIT_ARCH_X86_64 = 0xC000003E
_NR = {"clone": 56, "unshare": 272, "clone3": 435}
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
        _insn(_JGE, 6, 0, _X32_BIT),  # 4: x32 ABI -> 11 (EPERM)
        _insn(_JEQ, 3, 0, _NR["unshare"]),  # 5: -> 9
        _insn(_JEQ, 2, 0, _NR["clone"]),  # 6: -> 9
        _insn(_JEQ, 5, 0, _NR["clone3"]),  # 7: -> 13 (ENOSYS)
        _insn(_RET, 0, 0, _ALLOW),  # 8
        _insn(_LD, 0, 0, 16),  # 9: low word of the first argument (the flags)
        _insn(_JSET, 0, 1, _CLONE_NEWUSER),  # 10: NEWUSER -> 11, else -> 12
        _insn(_RET, 0, 0, _ERRNO | _EPERM),  # 11
        _insn(_RET, 0, 0, _ALLOW),  # 12
        _insn(_RET, 0, 0, _ERRNO | _ENOSYS),  # 13
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
