"""`starforge <stage> ...`: one console script, one subcommand per stage.

Each stage lists its commands in `<stage>/cli.py` (a `main(argv) -> int` over
`starforge.commands`); this file only maps the stage name to that module, forwards the one
command that is another stage's (`finetune continue` is `pretrain train --init-from`), and turns
user errors into one-line messages. Stage modules are imported lazily so `starforge eval --help`
does not import megatron-core.
"""

from __future__ import annotations

import importlib
import logging
import sys

from starforge import __version__
from starforge.errors import StarforgeError
from starforge.log import setup_logging

STAGES: dict[str, tuple[str, str]] = {
    "data": ("data_pipeline.cli", "curate code, train the tokenizer, write Megatron shards"),
    "pii": ("pii.cli", "scan and redact personal data and secrets in code"),
    "pretrain": ("pretrain.cli", "train, describe, launch and export StarCoder-family models"),
    "finetune": ("finetune.cli", "continued pretraining, instruction tuning, RL from execution"),
    "eval": ("eval.cli", "bigcode-evaluation-harness-compatible benchmarks in a sandbox"),
    "attribution": ("attribution.cli", "index training data; trace snippets back to files"),
    "demo": ("starforge.demo", "run every stage end to end on the embedded corpus"),
}


FORWARDS: dict[tuple[str, str], tuple[str, list[str], dict[str, str]]] = {
    ("finetune", "continue"): ("pretrain", ["train"], {"--from": "--init-from"}),
}
"""(stage, command) -> (stage, command words, renamed flags): one trainer, two names, and the
finetune stage imports nothing of pretrain (StarCoder's recipe: continued pretraining is
pretraining from a checkpoint, with a fresh optimizer)."""


def _forward(stage: str, rest: list[str]) -> tuple[str, list[str]]:
    target = FORWARDS.get((stage, rest[0])) if rest else None
    if target is None:
        return stage, rest
    new_stage, words, renamed = target
    args = []
    for arg in rest[1:]:
        flag, eq, value = arg.partition("=")
        args.append(renamed.get(flag, flag) + eq + value if flag in renamed else arg)
    return new_stage, [*words, *args]


def _usage() -> str:
    width = max(map(len, STAGES))
    rows = "\n".join(f"  {name.ljust(width)}  {desc}" for name, (_, desc) in STAGES.items())
    return (f"usage: starforge [-v] <stage> [args...]\n\nstarforge {__version__}: build code LLMs "
            f"the StarCoder way.\n\nstages:\n{rows}\n\n`starforge <stage> --help` for a stage's commands.")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = False
    while argv and argv[0] in ("-v", "--verbose"):
        verbose = True
        argv.pop(0)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv[0] == "--version":
        print(f"starforge {__version__}")
        return 0
    stage, rest = argv[0], argv[1:]
    if stage not in STAGES:
        print(f"starforge: unknown stage '{stage}'; choose one of: {', '.join(STAGES)}", file=sys.stderr)
        return 2
    setup_logging(verbose)
    stage, rest = _forward(stage, rest)
    try:
        module = importlib.import_module(STAGES[stage][0])
        return int(module.main(rest) or 0)
    except StarforgeError as exc:
        logging.getLogger("starforge").debug("user error", exc_info=True)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
