"""Which kernel isolation this machine offers, and the command line that starts a sandboxed
interpreter under it (bubblewrap, util-linux `unshare`, or nothing)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def detect_isolation(requested: str = "auto") -> str:
    """The isolation mode that will be used; `auto` probes bwrap, then unshare."""
    if requested != "auto":
        return requested
    if shutil.which("bwrap") and _probe(["bwrap", "--unshare-net", "--ro-bind", "/", "/", "true"]):
        return "bwrap"
    if shutil.which("unshare") and _probe(["unshare", "--net", "--pid", "--fork", "true"]):
        return "unshare"
    return "none"


def _probe(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=10, env={"PATH": "/usr/bin:/bin"}).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def interpreter() -> str:
    """The base interpreter behind the venv: `-I -S` ignores the venv anyway, and under
    bubblewrap only the base installation is mounted."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return os.path.realpath(base)


def others_can_read(path: str) -> bool:
    """Every ancestor searchable by others, the directory itself readable."""
    current = Path(path)
    try:
        if not os.stat(current).st_mode & 0o005 == 0o005:
            return False
        return all(os.stat(parent).st_mode & 0o001 for parent in current.parents)
    except OSError:
        return False


def default_binds() -> tuple[str, ...]:
    """The loader's cache, so programs linked against libraries outside the default paths start."""
    return tuple(p for p in ("/etc/ld.so.cache",) if os.path.exists(p))


def clean_env() -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


def sandbox_argv(isolation: str, python_argv: list[str], *, binds: tuple[str, ...], tmpfs_mb: int,
                 drop_uid: bool, zygote: bool, seccomp_fd: int | None = None) -> list[str]:
    """`python_argv` wrapped in the isolation: under bubblewrap new namespaces, read-only mounts of
    `/usr`, the Python installation and `binds`, size-capped tmpfs at /sandbox and /dev/shm, the
    capabilities the runner needs before it drops its uid, and the seccomp filter read from
    `seccomp_fd` (seccomp.py: no System V IPC)."""
    if isolation == "bwrap":
        prefix = sys.base_prefix
        argv = ["bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try", "--die-with-parent", "--new-session",
                "--ro-bind", "/usr", "/usr"]
        for link in ("lib", "lib64", "bin", "sbin"):
            target = os.path.join("/", link)
            if os.path.islink(target):
                argv += ["--symlink", os.readlink(target), target]
            elif os.path.isdir(target):
                argv += ["--ro-bind", target, target]
        if not prefix.startswith("/usr/"):
            # bwrap makes missing parents 0700; the dropped uid must traverse them
            for parent in [str(p) for p in reversed(Path(prefix).parents) if str(p) != "/"]:
                argv += ["--perms", "0755", "--dir", parent]
            argv += ["--ro-bind", prefix, prefix]
        made = {"/", "/usr", *(str(p) for p in Path(prefix).parents)}
        for path in binds:
            if path.startswith("/usr/") or not os.path.exists(path):
                continue
            for parent in [str(p) for p in reversed(Path(path).parents) if str(p) not in made]:
                argv += ["--perms", "0755", "--dir", parent]
                made.add(parent)
            argv += ["--ro-bind", path, path]
        size = str(tmpfs_mb << 20)
        # --dev makes /dev/shm a directory of an uncapped tmpfs: POSIX shared memory gets its own cap
        argv += ["--dev", "/dev", "--perms", "1777", "--size", size, "--tmpfs", "/dev/shm",
                 "--perms", "1777", "--size", size, "--tmpfs", "/sandbox", "--chdir", "/sandbox", "--clearenv"]
        for key, value in clean_env().items():
            argv += ["--setenv", key, value]
        if seccomp_fd is not None:
            argv += ["--seccomp", str(seccomp_fd)]
        if drop_uid:  # the runner drops these with its uid before any sample code runs
            caps = ["CAP_SETUID", "CAP_SETGID", "CAP_CHOWN"]  # chown: a Command's files
            if zygote:  # to kill leftovers and wipe the sample's files between samples
                caps += ["CAP_KILL", "CAP_DAC_OVERRIDE", "CAP_FOWNER"]
            argv += ["--cap-drop", "ALL"] + [x for cap in caps for x in ("--cap-add", cap)]
        return argv + python_argv
    if isolation == "unshare":  # a fresh IPC namespace per sample: every sample is its own unshare
        return ["unshare", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child", "--mount-proc", "--"] + python_argv
    return python_argv
