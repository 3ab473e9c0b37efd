"""MultiPL-E: HumanEval (and MBPP) translated to 18+ languages by small compilers of the prompts,
docstrings and tests. Cassano et al., "MultiPL-E: A Scalable and Polyglot Approach to
Benchmarking Neural Code Generation", IEEE TSE 49(7), 2023 (arXiv 2208.08227).
https://nuprl.github.io/MultiPL-E/

One task per language whose runtime is installed here: `multiple-js` (node), `multiple-java`
(javac + java), `multiple-cpp` (g++), `multiple-rs` (rustc), `multiple-pl` (perl), `multiple-sh`
(bash). As bigcode-evaluation-harness's `bigcode_eval/tasks/multiple.py`: records of
`nuprl/MultiPL-E` config `humaneval-<lang>` (split `test`; `name`, `language`, `prompt`,
`tests`, `stop_tokens`), the prompt stripped, stop words the first record's `stop_tokens` plus
`<file_sep>`, the generation cut after the prompt, and the program `generation + "\\n" + tests`.
A sample passes when every step exits 0, as `multiple_metrics` counts status "OK" with exit code
0; the commands are those of its `eval_<lang>.py` (`javac -encoding UTF8` then `java -ea`,
`g++ -std=c++17`, `rustc` with the default edition, Perl failing on "ERROR" in its output).
pass@k is the unbiased estimator over problems.

Execution differs in where, not what: in our sandbox (bubblewrap, own uid, rlimits), with the
compile step under `sandbox.compile_timeout` (15 s, MultiPL-E's compiler limit) and the run step
under `sandbox.timeout` (MultiPL-E allows 5 s for node and 15 s otherwise: raise `sandbox.timeout`
to match it exactly). JVMs run with a 256 MiB heap and serial GC so they fit the address-space
limit; the JDK and rustc find their libraries through `$ORIGIN`, which glibc resolves with
`/proc` (the sandbox has none), so their library directories are given in `LD_LIBRARY_PATH`.
Mounted read-only besides `/usr`: `/etc/java-*` (the JDK's conf/), rustup's sysroot, `/etc/perl`
and `/etc/ld.so.cache`. MultiPL-E's Java prompts import `org.javatuples`, so they need
`javatuples-1.2.jar`: it is put on the class path (and mounted) when found at
`/usr/multiple/javatuples-1.2.jar` (where the harness's Docker image has it) or in `~/.m2`
(`mvn dependency:get -Dartifact=org.javatuples:javatuples:1.2`); without it a warning says so
before generation.

No package ships the data: `--load_data_path` takes a snapshot of nuprl/MultiPL-E (a directory
with `humaneval-<lang>/` sub-directories, so one path serves `--tasks multiple-*`), a
`humaneval-<lang>.jsonl` file, or a `save_to_disk` directory; without it, the hub at the
revision the harness pins.
"""

from __future__ import annotations

import functools
import glob
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass

from eval.tasks import Problem, Task, register_task
from starforge.errors import EvalError
from starforge.sandbox import Command, Step

log = logging.getLogger(__name__)

REVISION = "28441b6024e71d4a1c1c0f6bf171c935cd5a43f2"  # the harness's DATASET_REVISION
REQUIRED = {"name", "prompt", "tests", "stop_tokens"}
JAVATUPLES = ("/usr/multiple/javatuples-1.2.jar",  # where the harness's Dockerfile-multiple puts it
              os.path.expanduser("~/.m2/repository/org/javatuples/javatuples/1.2/javatuples-1.2.jar"))
_JVM = ("-Xmx256m", "-Xss8m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:CICompilerCount=1",
        "-XX:ReservedCodeCacheSize=64m", "-XX:CompressedClassSpaceSize=64m")


@dataclass(frozen=True)
class Toolchain:
    """How one language's program runs: its file name, steps and the host paths to mount."""

    file: str
    steps: tuple[Step, ...]
    binds: tuple[str, ...] = ()
    env: dict[str, str] | None = None


def _tool(name: str) -> str | None:
    found = shutil.which(name)
    return os.path.realpath(found) if found else None


def _javascript() -> Toolchain | str:
    node = _tool("node")
    if not node:
        return "node not found on PATH (apt-get install nodejs)"
    return Toolchain("program.js", (Step((node, "program.js"), memory_mb=4096, processes=32),))


def _java() -> Toolchain | str:
    javac, java = _tool("javac"), _tool("java")
    if not (javac and java):
        return "javac/java not found on PATH (apt-get install default-jdk-headless)"
    binds = tuple(sorted(glob.glob("/etc/java-*")))  # Debian links the JDK's conf/ there
    jar = next((p for p in JAVATUPLES if os.path.isfile(p)), None)
    classpath = "." + (f":{jar}" if jar else "")
    binds += (jar,) if jar else ()
    jvm = {"memory_mb": 2048, "processes": 64, "open_files": 512}
    home = os.path.dirname(os.path.dirname(java))
    # the launcher finds libjli through $ORIGIN, which glibc resolves with /proc (absent in the sandbox)
    env = {"LD_LIBRARY_PATH": f"{home}/lib:{home}/lib/server"}
    return Toolchain("Problem.java", (
        Step((javac, *(f"-J{flag}" for flag in _JVM), "-encoding", "UTF8", "-cp", classpath, "-d", ".",
              "Problem.java"), kind="compile", **jvm),
        Step((java, *_JVM, "-ea", "-cp", classpath, "Problem"), **jvm),
    ), binds, env)


def _cpp() -> Toolchain | str:
    gxx = _tool("g++")
    if not gxx:
        return "g++ not found on PATH (apt-get install g++)"
    return Toolchain("program.cpp", (
        Step((gxx, "program.cpp", "-o", "program", "-std=c++17"), kind="compile", memory_mb=4096, processes=32),
        Step(("{workdir}/program",)),
    ))


def _rust() -> Toolchain | str:
    rustc, cc = shutil.which("rustc"), _tool("cc")
    if not (rustc and cc):
        return "rustc (and a C linker, cc) not found on PATH (install Rust with rustup, apt-get install gcc)"
    try:  # rustup's rustc is a proxy reading ~/.rustup: run the toolchain's own binary
        sysroot = subprocess.run([rustc, "--print", "sysroot"], capture_output=True, text=True, timeout=60,
                                 check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"{rustc} --print sysroot failed"
    binds = () if sysroot.startswith("/usr/") else (sysroot,)
    return Toolchain("program.rs", (
        Step((f"{sysroot}/bin/rustc", "program.rs", "-o", "program", "-C", f"linker={cc}"), kind="compile",
             memory_mb=8192, processes=64, open_files=256),
        Step(("{workdir}/program",)),
    ), binds, {"LD_LIBRARY_PATH": f"{sysroot}/lib"})  # $ORIGIN needs /proc, as for Java


def _perl() -> Toolchain | str:
    perl = _tool("perl")
    if not perl:
        return "perl not found on PATH"
    return Toolchain("program.pl", (Step((perl, "program.pl"), fail_on_output="ERROR"),),
                     tuple(p for p in ("/etc/perl",) if os.path.isdir(p)))  # first entry of @INC


def _bash() -> Toolchain | str:
    bash = _tool("bash")
    if not bash:
        return "bash not found on PATH"
    return Toolchain("program.sh", (Step((bash, "program.sh")),))


LANGUAGES = {"js": ("JavaScript", _javascript), "java": ("Java", _java), "cpp": ("C++", _cpp),
             "rs": ("Rust", _rust), "pl": ("Perl", _perl), "sh": ("Bash", _bash)}


@functools.cache
def toolchain(language: str) -> Toolchain | str:
    """The language's toolchain, or why it cannot run here."""
    return LANGUAGES[language][1]()


class MultiPLETask(Task):
    """Base: subclasses set `language` (MultiPL-E's short name)."""

    language = ""

    def __init__(self, data_path: str | None = None):
        super().__init__(data_path)
        self._problems: list[Problem] | None = None
        self._stops: tuple[str, ...] | None = None

    @property
    def stop_words(self) -> tuple[str, ...]:  # type: ignore[override]
        if self._stops is None:
            self.problems()
        return self._stops or ("<file_sep>",)

    def problems(self) -> list[Problem]:
        from eval.tasks.loading import load_records

        if self._problems is None:
            config = f"humaneval-{self.language}"
            how = (f"pass --load_data_path with a snapshot of nuprl/MultiPL-E (a directory holding {config}/), "
                   f"a {config}.jsonl file of its records, or a directory saved by datasets "
                   f"(load_dataset('nuprl/MultiPL-E', '{config}').save_to_disk(DIR))")
            records = load_records(self.data_path, task=self.name, how=how, required=REQUIRED, configs=(config,),
                                   hub=("nuprl/MultiPL-E", config), revision=REVISION)
            self._stops = tuple(records[0]["stop_tokens"]) + ("<file_sep>",)
            self._problems = [Problem(task_id=r["name"], prompt=r["prompt"], test=r["tests"],
                                      canonical_solution=r.get("canonical_solution") or "",
                                      extra={"language": r.get("language", self.language)}) for r in records]
        return self._problems

    def prompt(self, problem: Problem) -> str:
        return problem.prompt.strip()

    def reference(self, problem: Problem) -> str:
        return problem.test

    def canonical_generation(self, problem: Problem) -> str:
        """MultiPL-E ships no solutions; records may carry a `canonical_solution` (ours do)."""
        return self.prompt(problem) + problem.canonical_solution

    def check_runnable(self) -> None:
        chain = toolchain(self.language)
        if isinstance(chain, str):
            raise EvalError(f"{self.name}: cannot run {LANGUAGES[self.language][0]} here: {chain}")
        if self.language == "java" and not any(os.path.isfile(p) for p in JAVATUPLES):
            log.warning("%s: javatuples-1.2.jar not found (%s): MultiPL-E's Java prompts import org.javatuples, "
                        "so they fail to compile without it (mvn dependency:get "
                        "-Dartifact=org.javatuples:javatuples:1.2 puts it in ~/.m2)", self.name, " or ".join(JAVATUPLES))

    def program(self, generation: str, problem: Problem) -> Command:  # type: ignore[override]
        self.check_runnable()
        chain = toolchain(self.language)
        assert not isinstance(chain, str)
        return Command(files={chain.file: generation + "\n" + problem.test}, steps=chain.steps, binds=chain.binds,
                       env=chain.env)


for _lang, (_name, _) in LANGUAGES.items():
    register_task(f"multiple-{_lang}")(type(f"MultiPLE{_lang.capitalize()}Task", (MultiPLETask,), {
        "language": _lang, "__module__": __name__,
        "__doc__": f"MultiPL-E's HumanEval in {_name} (IEEE TSE 2023, arXiv 2208.08227)."}))
