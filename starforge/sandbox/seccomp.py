"""A seccomp filter that takes System V IPC away from everything in the sandbox.

Why: a bwrap sandbox has its own IPC namespace, but a warm worker keeps one sandbox for many
samples, so a shared-memory segment, message queue or semaphore set left by one sample would be
there for the next, and a segment's pages are shmem that neither RLIMIT_AS (once detached) nor
the tmpfs caps count. Programs of the HumanEval family never need System V IPC (Python's
standard library has no binding for it; POSIX shared memory lives in /dev/shm, a capped tmpfs
wiped between samples), so the calls fail with EPERM instead: nothing to leak, nothing to count.
A fresh IPC namespace per warm sample would need CAP_SYS_ADMIN in the warm worker, or ctypes in
the process the sample is forked from; this needs neither.

The filter is classic BPF as seccomp(2) reads it (`struct sock_filter`, linux/filter.h), handed
to bubblewrap's `--seccomp FD`, which loads it (with no_new_privs) for the whole sandbox. Other
architectures than the native one are killed (no i386 `ipc(2)` multiplexer through int 0x80);
on x86-64 the x32 ABI is refused too. Machines other than x86-64 and aarch64 get no filter: the
sandbox then runs every sample in a fresh bwrap (pool.py), which is a fresh IPC namespace.
"""

from __future__ import annotations

import errno
import platform
import struct

# Architecture (linux/audit.h) and System V IPC syscall numbers of each supported machine.
_ARCHES = {
    "x86_64": (0xC000003E, {"shmget": 29, "shmat": 30, "shmctl": 31, "semget": 64, "semop": 65, "semctl": 66,
                            "shmdt": 67, "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71,
                            "semtimedop": 220}),
    "aarch64": (0xC00000B7, {"msgget": 186, "msgctl": 187, "msgrcv": 188, "msgsnd": 189, "semget": 190,
                             "semctl": 191, "semtimedop": 192, "semop": 193, "shmget": 194, "shmctl": 195,
                             "shmat": 196, "shmdt": 197}),
}
_X32_BIT = 0x40000000
_LD_ABS_W, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06  # BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, ...
_RET_KILL_PROCESS, _RET_ERRNO, _RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
_NR, _ARCH = 0, 4  # offsets in struct seccomp_data


def ipc_filter(machine: str | None = None) -> bytes | None:
    """The compiled filter for `machine` (this one by default), or None where it has none."""
    entry = _ARCHES.get(machine or platform.machine())
    if entry is None:
        return None
    arch, calls = entry
    denied = sorted(calls.values())
    checks: list[int] = ([_X32_BIT] if arch == _ARCHES["x86_64"][0] else []) + denied
    # 0 load arch; 1 native? skip the kill; 2 kill; 3 load nr; then one jump per check; allow; deny
    n = 4 + len(checks)
    deny_at = n + 1
    prog = [(_LD_ABS_W, 0, 0, _ARCH), (_JEQ_K, 1, 0, arch), (_RET_K, 0, 0, _RET_KILL_PROCESS), (_LD_ABS_W, 0, 0, _NR)]
    for i, k in enumerate(checks):
        at = 4 + i
        op = _JGE_K if k == _X32_BIT else _JEQ_K
        prog.append((op, deny_at - (at + 1), 0, k))
    prog += [(_RET_K, 0, 0, _RET_ALLOW), (_RET_K, 0, 0, _RET_ERRNO | errno.EPERM)]
    return b"".join(struct.pack("=HBBI", *ins) for ins in prog)
