"""`Sandbox`: runs programs, `workers` at a time, each sample in a fresh sandboxed process (warm
forked workers under bubblewrap, a new sandbox per sample otherwise), and returns verdicts."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import starforge.sandbox.isolation as isolation
import starforge.sandbox.protocol as protocol
import starforge.sandbox.verdicts as verdicts
from starforge.sandbox.checks import SplitTest, split_test
from starforge.sandbox.config import Command, ExecResult, Program, SandboxConfig
from starforge.sandbox.processes import kill_tree, kill_uid, remove_shm_of, spawner
from starforge.sandbox.seccomp import ipc_filter

log = logging.getLogger(__name__)

RUNNER_SOURCE = (Path(__file__).with_name("runner.py")).read_text(encoding="utf-8")
_SYNTAX = (SyntaxError, ValueError, MemoryError, RecursionError, OverflowError)


@dataclass
class _Job:
    """One sample as the runner gets it, and how its record becomes a verdict."""

    message: dict[str, Any]
    budget: float
    """Wall seconds the sample may take in all."""
    split: SplitTest | None = None

    def result(self, record: str | None, timed_out: bool, returncode: int | None, seconds: float) -> ExecResult:
        if record is None:
            return verdicts.from_exit(timed_out, returncode, seconds)
        text = verdicts.decide(self.split, record) if self.split is not None else record
        return ExecResult(text == "passed", text, seconds)


class Sandbox:
    """Runs programs (`Program`, `Command`, or Python code chunks run in one namespace) and
    returns verdicts."""

    def __init__(self, cfg: SandboxConfig | None = None):
        self.cfg = cfg or SandboxConfig()
        self.isolation = isolation.detect_isolation(self.cfg.isolation)
        # Outside bubblewrap the dropped uid must read the stdlib where it lies on the host.
        self.drop_uid = os.geteuid() == 0 and (self.isolation == "bwrap" or isolation.others_can_read(sys.base_prefix))
        self.python = isolation.interpreter()
        self._seccomp = ipc_filter() if self.isolation == "bwrap" else None
        self.warm = self.cfg.warm and self.isolation == "bwrap" and self._seccomp is not None
        if self.isolation == "none":
            log.warning("sandbox: neither bubblewrap nor unshare namespaces are available; samples run "
                        "with rlimits%s only and can reach the network and host files "
                        "(install bubblewrap for full isolation)",
                        " and an unprivileged uid" if self.drop_uid else "")
        elif self.isolation == "unshare":
            log.warning("sandbox: bubblewrap not found; using unshare (no network, own PID namespace) - "
                        "samples see the host filesystem with the sandbox user's permissions")
        else:
            log.info("sandbox: bubblewrap (no network, own PID/IPC/UTS namespaces, no System V IPC, read-only "
                     "Python, tmpfs cwd)")
            if self.cfg.warm and not self.warm:
                log.warning("sandbox: no seccomp filter for this machine (%s): each sample gets a fresh sandbox "
                            "(warm workers would share System V IPC)", os.uname().machine)
        if not self.drop_uid:
            why = ("we are not root" if os.geteuid() else
                   f"other users cannot read the Python installation at {sys.base_prefix}")
            log.warning("sandbox: samples keep our uid (%s): file permissions do not protect the host and "
                        "RLIMIT_NPROC %s", why, "applies to our uid" if os.geteuid() else "is not enforced for root")
        self._slots: list[int] = list(range(self.cfg.workers))
        self._slot_lock = threading.Lock()
        self._zygotes: dict[int, subprocess.Popen] = {}
        self._binds: tuple[str, ...] = isolation.default_binds()
        self._zygote_binds: dict[int, tuple[str, ...]] = {}

    def close(self) -> None:
        """Stop the warm workers (also done at garbage collection and interpreter exit)."""
        for proc in self._zygotes.values():
            kill_tree(proc)
        self._zygotes.clear()

    def __del__(self) -> None:
        self.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, program: Program | Command | Sequence[str]) -> ExecResult:
        """One program: a `Program`, a `Command`, or Python code chunks run in one namespace."""
        with self._slot_lock:
            slot = self._slots.pop()
        try:
            job = self._job(program, slot)
            if isinstance(job, ExecResult):
                return job
            if self.warm:
                return self._run_warm(job, slot)
            return self._run_cold(job, slot)
        finally:
            with self._slot_lock:
                self._slots.append(slot)

    def run_many(self, programs: Sequence[Program | Command | Sequence[str]],
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

    def _job(self, program: Program | Command | Sequence[str], slot: int) -> _Job | ExecResult:
        cfg = self.cfg
        uid = cfg.sandbox_uid + slot if self.drop_uid else None
        if isinstance(program, Command):
            self._add_binds(program.binds)
            steps = []
            for step in program.steps:
                seconds = cfg.compile_timeout if step.kind == "compile" else cfg.timeout
                steps.append({"argv": list(step.argv), "kind": step.kind, "timeout": seconds,
                              "fail_on_output": step.fail_on_output,
                              "rlimits": protocol.rlimits(cfg, seconds, self.drop_uid, step)})
            message = {"uid": uid, "gid": uid, "files": program.files,
                       "env": {**isolation.clean_env(), **(program.env or {})},  # the runner adds HOME, TMPDIR
                       "steps": steps}
            if verdict := protocol.oversize(message):
                return ExecResult(False, verdict, 0.0)
            return _Job(message, sum(s["timeout"] for s in steps) + 1.0 * len(steps))
        timeout = cfg.timeout
        split = None
        if isinstance(program, Program):
            timeout = program.timeout or cfg.timeout
            split = split_test(program.test)
            if split is not None:
                try:  # the harness's syntax check, here: the test (with its expected values) stays out
                    compile(program.source, "<string>", "exec")
                except _SYNTAX as exc:
                    return ExecResult(False, f"failed: {exc}", 0.0)
                try:
                    compile(program.code, "<string>", "exec")
                except _SYNTAX:  # the sample's code runs on into the test: judge the whole in-process
                    split = None
            chunks = [program.code, program.test] if split is None else [program.code, "\n" + split.preamble]
        else:
            chunks = list(program)
        message = {"timeout": timeout, "chunks": chunks, "uid": uid, "gid": uid,
                   "rlimits": protocol.rlimits(cfg, timeout, self.drop_uid)}
        if split is not None:
            message.update(calls=list(split.calls), setup=split.setup)
        if verdict := protocol.oversize(message):  # before any runner reads it (protocol.MESSAGE_LIMIT)
            return ExecResult(False, verdict, 0.0)
        return _Job(message, timeout, split)

    def _add_binds(self, paths: Sequence[str]) -> None:
        new = [p for p in paths if p not in self._binds]
        if new:
            with self._slot_lock:
                self._binds = tuple(sorted(set(self._binds) | set(new)))

    def _run_cold(self, job: _Job, slot: int) -> ExecResult:
        cfg = self.cfg
        start = time.monotonic()
        nonce = protocol.new_nonce()
        read_fd, write_fd = protocol.verdict_pipe()
        workdir = None
        seccomp_fd = -1
        try:
            if self.isolation != "bwrap":
                workdir = tempfile.mkdtemp(prefix="starforge-sample-")
                if self.drop_uid:
                    os.chown(workdir, cfg.sandbox_uid + slot, cfg.sandbox_uid + slot)
                os.chmod(workdir, 0o700)
            seccomp_fd = self._seccomp_fd()
            argv = self._argv(zygote=False, seccomp_fd=seccomp_fd)
            message = {**job.message, "nonce": nonce, "fd": write_fd}
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, pass_fds=tuple(f for f in (write_fd, seccomp_fd)
                                                                              if f >= 0),
                                    cwd=workdir or "/", env=isolation.clean_env(), start_new_session=True)
            os.close(write_fd)
            write_fd = -1
            timed_out = False
            try:
                try:
                    proc.stdin.write(json.dumps(message).encode())  # type: ignore[union-attr]
                    proc.stdin.close()  # type: ignore[union-attr]
                except BrokenPipeError:
                    pass
                proc.wait(timeout=job.budget + 2.0)  # + start-up; SIGALRM inside fires first
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                kill_tree(proc)
            record = protocol.parse_record(protocol.drain(read_fd), nonce)
        finally:
            for fd in (read_fd, write_fd, seccomp_fd):
                if fd >= 0:
                    os.close(fd)
            if workdir:
                shutil.rmtree(workdir, ignore_errors=True)
            if self.drop_uid and self.isolation != "bwrap":
                kill_uid(cfg.sandbox_uid + slot)
                remove_shm_of(cfg.sandbox_uid + slot)
        return job.result(record, timed_out, proc.returncode, time.monotonic() - start)

    def _zygote(self, slot: int) -> subprocess.Popen:
        proc = self._zygotes.get(slot)
        if proc is not None and self._zygote_binds.get(slot) != self._binds:  # a toolchain was added
            kill_tree(proc)
            proc = None
        if proc is None or proc.poll() is not None:
            self._zygote_binds[slot] = self._binds

            def start() -> subprocess.Popen:
                seccomp_fd = self._seccomp_fd()
                try:
                    return subprocess.Popen(self._argv(zygote=True, seccomp_fd=seccomp_fd), stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd="/",
                                            pass_fds=(seccomp_fd,) if seccomp_fd >= 0 else (),
                                            env=isolation.clean_env(), start_new_session=True)
                finally:
                    if seccomp_fd >= 0:
                        os.close(seccomp_fd)

            # bwrap's --die-with-parent follows the *thread* that started it: spawn from one that lives on
            proc = spawner().call(start)
            self._zygotes[slot] = proc
        return proc

    def _run_warm(self, job: _Job, slot: int) -> ExecResult:
        start = time.monotonic()
        nonce = protocol.new_nonce()
        data = protocol.frame({**job.message, "nonce": nonce})
        proc = self._zygote(slot)
        reply = None
        try:
            proc.stdin.write(data)  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
            reply = protocol.read_reply(proc.stdout.fileno(), job.budget + 10.0)  # type: ignore[union-attr]
        except (BrokenPipeError, OSError, ValueError):
            reply = None
        seconds = time.monotonic() - start
        if reply is None:  # the warm worker died or hung: replace it, count the sample as failed
            kill_tree(proc)
            self._zygotes.pop(slot, None)
            return ExecResult(False, "timed out" if seconds >= job.budget else "failed: sandbox worker lost", seconds)
        record = protocol.parse_record(reply.get("record", "").encode(), nonce)
        return job.result(record, bool(reply.get("timed_out")), reply.get("status"), seconds)

    def _seccomp_fd(self) -> int:
        """A pipe holding the filter, for bwrap's --seccomp (-1: none)."""
        if self._seccomp is None:
            return -1
        read_fd, write_fd = os.pipe()
        os.write(write_fd, self._seccomp)
        os.close(write_fd)
        return read_fd

    def _argv(self, zygote: bool, seccomp_fd: int) -> list[str]:
        py = [self.python, "-I", "-S", "-c", RUNNER_SOURCE] + (["zygote", "/sandbox/run"] if zygote else [])
        return isolation.sandbox_argv(self.isolation, py, binds=self._binds, tmpfs_mb=self.cfg.tmpfs_mb,
                                      drop_uid=self.drop_uid, zygote=zygote,
                                      seccomp_fd=seccomp_fd if seccomp_fd >= 0 else None)
