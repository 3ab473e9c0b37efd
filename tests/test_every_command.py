"""Every subcommand, given bad input, exits 2 with exactly one line on stderr (issue #18 section 5,
the command-line cases): a binary `--config` for every command there is, and the cases that used
to end in a traceback or, worse, in a silent wrong result.

The walk runs in-process through `starforge.cli.main` (every command), and through the real
console script (`python -m starforge`, slow: one interpreter per case, so one binary config per
stage)."""

from __future__ import annotations

import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from starforge.cli import FORWARDS, STAGES, main

RUN = str(Path(__file__).resolve().parent.parent / "configs" / "runs" / "pretrain-tiny.yaml")
BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00"


def every_command() -> list[list[str]]:
    """`[stage, command, positional placeholders...]` for every command each stage lists."""
    import importlib

    found = []
    for stage, (module_name, _) in STAGES.items():
        if stage == "demo":
            continue
        module = importlib.import_module(module_name)
        commands = getattr(module, "COMMANDS", None) or [module.COMMAND]
        for command in commands:
            words = [stage, command.name] if command.name else [stage]
            found.append(words + ["x"] * len(command.positional))
    found += [[stage, name] for stage, name in FORWARDS]
    return found


def cases(tmp: Path) -> list[tuple[list[str], str]]:
    """(argv, a word the one error line must hold)."""
    binary = tmp / "config.yaml"
    binary.write_bytes(BINARY)
    a_file = tmp / "a-file"
    a_file.write_text("not a folder\n")
    a_dir = tmp / "a-dir"
    a_dir.mkdir(exist_ok=True)
    out = [([*words, "--config", str(binary)], "not a text file") for words in every_command()]
    out += [
        (["data", "curate", "--output", str(a_file)], "is a file, not a folder"),
        (["pretrain", "launch", "--config", RUN, "--slurm", "--nodes", "1", "--gpus-per-node", "1",
          "--output", str(a_dir)], "is a folder"),
        (["pretrain", "launch", "--config", RUN, "--slurm", "--nodes", "1", "--gpus-per-node", "1",
          "--job-name", "x\n#SBATCH --wrap=rm -rf ~", "--output", str(tmp / "job.sbatch")], "--job-name"),
        (["attribution", "check", str(tmp / "index"), "def f(): pass", "--top-k", "-5"], "top_k must be >= 1"),
        (["attribution", "serve", str(tmp / "index"), "--port", "99999"], "port must be between 0 and 65535"),
        (["attribution", "serve", str(tmp / "index"), "--host", "no such host!"], "--host"),
        (["attribution", "serve", str(tmp / "index"), "--host", "999.1.2.3"], "--host"),
        (["eval", "--limit", "-1", "--allow_code_execution"], "limit must be >= 0"),
        (["eval", "--n_samples", "many"], "n_samples"),
        (["pii", "scan"], "required"),
        (["data", "curate", "--no-such-flag", "1"], "unrecognized arguments"),
    ]
    return out


def _check(argv: list[str], word: str, code: int, err: str) -> str | None:
    lines = err.strip().splitlines()
    if code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and word in lines[0]:
        return None
    return f"{argv}: exit {code}, stderr {err[-600:]!r} (wanted one line with {word!r})"


@pytest.fixture
def busy_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_every_command_is_walked():
    walked = {" ".join(w for w in words if w != "x") for words in every_command()}
    assert {"data curate", "data train-tokenizer", "data tokenize", "pii scan", "pii redact", "pretrain train",
            "pretrain describe", "pretrain import", "pretrain export", "pretrain launch", "finetune problems",
            "finetune sft", "finetune rl", "finetune sft-rl", "finetune tapes-to-sft", "finetune continue", "eval",
            "attribution index", "attribution check", "attribution serve"} <= walked


def test_bad_input_is_one_line_and_exit_2_in_process(tmp_path, busy_port, capsys):
    failures = []
    for argv, word in [*cases(tmp_path), (["attribution", "serve", "x", "--port", str(busy_port)], "cannot listen")]:
        code = main(argv)
        failures.append(_check(argv, word, code, capsys.readouterr().err))
    assert not [f for f in failures if f], "\n".join(f for f in failures if f)
    assert not (tmp_path / "job.sbatch").exists()  # the injected job name wrote nothing


@pytest.mark.slow
def test_bad_input_is_one_line_and_exit_2_through_the_console_script(tmp_path, busy_port):
    # One binary --config per stage here (each case is an interpreter start); every command in-process above.
    seen: set[str] = set()
    all_cases = [(argv, word) for argv, word in cases(tmp_path)
                 if word != "not a text file" or not (argv[0] in seen or seen.add(argv[0]))]
    all_cases.append((["attribution", "serve", "x", "--port", str(busy_port)], "cannot listen"))

    def run(case: tuple[list[str], str]) -> str | None:
        argv, word = case
        proc = subprocess.run([sys.executable, "-m", "starforge", *argv], capture_output=True, text=True,
                              timeout=300, cwd=tmp_path)
        return _check(argv, word, proc.returncode, proc.stderr)

    with ThreadPoolExecutor(4) as pool:
        failures = [f for f in pool.map(run, all_cases) if f]
    assert not failures, "\n".join(failures)
