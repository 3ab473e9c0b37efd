"""`starforge eval`: bigcode-evaluation-harness's command line, sandboxed.

    starforge eval --model runs/demo/hf --tasks humaneval --n_samples 2 --batch_size 2 \\
        --max_length_generation 256 --allow_code_execution --save_generations
    starforge eval --tasks humaneval --n_samples 1 --allow_code_execution \\
        --load_generations_path generations_humaneval.json --metric_output_path metrics.json

Every harness flag is an `EvalConfig` field of the same name (flags are generated from the
dataclass by `starforge.commands`, help from its field docstrings); `--config` and `--set
sandbox.timeout=5` reach the rest. Priority: defaults < --config < --set < flags (the harness's
flags win, as this page has always said). The metrics file is never one of the files read.
"""

from __future__ import annotations

import argparse
import json
import sys

from starforge.commands import Command, parse_command, run_commands
from starforge.commands import build_parser as _build_parser


def _run(cfg) -> int:
    from eval.evaluate import evaluate, summary_lines

    out = evaluate(cfg)
    if out["metrics"]:
        print(json.dumps(out["metrics"], indent=2))
    for line in summary_lines(out):
        print(line)
    return 0


COMMAND = Command(
    "", "eval.config:EvalConfig", _run,
    "Generate and score code completions (bigcode-evaluation-harness flags); generated code runs only in the sandbox.",
    inputs=("model", "load_generations_path", "load_data_path"),
    output_files=("metric_output_path", "save_problems"),
    flags_last=True, no_flag=("postprocess",))


def build_parser() -> argparse.ArgumentParser:
    return _build_parser("starforge eval", COMMAND)


def parse_config(argv: list[str]):
    """The EvalConfig `argv` asks for (None after --help-config)."""
    parsed = parse_command("starforge eval", COMMAND, argv)
    return None if parsed is None else parsed[0]


def main(argv: list[str] | None = None) -> int:
    return run_commands("starforge eval", [COMMAND], list(sys.argv[1:] if argv is None else argv))
