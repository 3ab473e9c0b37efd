"""Starting and ending the sandbox's processes from the host side."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
from collections.abc import Callable


class _Spawner:
    """A daemon thread that starts the warm workers. PR_SET_PDEATHSIG (bwrap --die-with-parent)
    fires when the starting thread exits, so pool threads must not start them."""

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._loop, name="sandbox-spawner", daemon=True).start()

    def _loop(self) -> None:
        while True:
            fn, box, done = self._queue.get()
            try:
                box.append(fn())
            except BaseException as exc:  # handed back to the caller
                box.append(exc)
            done.set()

    def call(self, fn: Callable[[], subprocess.Popen]) -> subprocess.Popen:
        box: list = []
        done = threading.Event()
        self._queue.put((fn, box, done))
        done.wait()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]


_SPAWNER_LOCK = threading.Lock()
_SPAWNER_INSTANCE: list[_Spawner] = []


def spawner() -> _Spawner:
    with _SPAWNER_LOCK:
        if not _SPAWNER_INSTANCE:
            _SPAWNER_INSTANCE.append(_Spawner())
        return _SPAWNER_INSTANCE[0]


def kill_tree(proc: subprocess.Popen) -> None:
    """Kill the session's process group; a namespace init takes the rest with it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def kill_uid(uid: int) -> None:
    """Without a PID namespace, a sample that called setsid() escaped our process group; the
    sandbox uid is ours alone, so every process it still owns is a leftover."""
    for _ in range(3):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    os.kill(int(entry), signal.SIGKILL)
                    found = True
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
        if not found:
            return


def remove_shm_of(uid: int, root: str = "/dev/shm") -> None:
    """Outside bubblewrap /dev/shm is the host's: POSIX shared memory a sample left there (owned by
    its uid, ours alone) would be there for the next sample of that uid."""
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.stat(follow_symlinks=False).st_uid == uid and not entry.is_dir(follow_symlinks=False):
                os.unlink(entry.path)
        except OSError:
            continue
