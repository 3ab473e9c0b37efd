"""`starforge eval`: bigcode-evaluation-harness's command line, sandboxed.

    starforge eval --model runs/demo/hf --tasks humaneval --n_samples 2 --batch_size 2 \\
        --max_length_generation 256 --allow_code_execution --save_generations
    starforge eval --tasks humaneval --n_samples 1 --allow_code_execution \\
        --load_generations_path generations_humaneval.json --metric_output_path metrics.json

Every harness flag is an `EvalConfig` field of the same name (flags are generated from the
dataclass, help from its field docstrings); `--config` and `--set sandbox.timeout=5` reach the
rest. Priority: defaults < --config < --set < flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import typing

from eval.config import EvalConfig
from starforge.config import add_config_args, describe, field_docs, from_dict, load_config, to_dict

_NO_FLAG = {"sandbox", "postprocess"}


def _str2bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "y", "t"):
        return True
    if value in ("0", "false", "no", "n", "f"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="starforge eval", description="Generate and score code completions (bigcode-evaluation-harness "
        "flags); generated code runs only in the sandbox.")
    docs = field_docs(EvalConfig)
    hints = typing.get_type_hints(EvalConfig)
    for f in dataclasses.fields(EvalConfig):
        if f.name in _NO_FLAG:
            continue
        typ, flag = hints[f.name], f"--{f.name}"
        kwargs: dict[str, typing.Any] = {"dest": f.name, "default": argparse.SUPPRESS,
                                         "help": f"{docs.get(f.name, '')} (default: {f.default!r})".replace("%", "%%")}
        if typ is bool and f.default is False:
            parser.add_argument(flag, action="store_true", **kwargs)
        elif typ is bool:  # HfArgumentParser's form for True defaults: --do_sample [false]
            parser.add_argument(flag, type=_str2bool, nargs="?", const=True, metavar="BOOL", **kwargs)
        else:
            inner = next((a for a in typing.get_args(typ) if a is not type(None)), typ)
            parser.add_argument(flag, type=inner if inner in (int, float) else str, **kwargs)
    add_config_args(parser)
    parser.add_argument("--help-config", action="store_true", help="list every config key and exit")
    return parser


def parse_config(argv: list[str]) -> EvalConfig | None:
    args = vars(build_parser().parse_args(argv))
    if args.pop("help_config"):
        print("\n".join(describe(EvalConfig)))
        return None
    cfg = load_config(EvalConfig, args.pop("config"), args.pop("overrides"))
    if args:
        data = to_dict(cfg)
        data.update(args)
        cfg = from_dict(EvalConfig, data, where="command line")
    return cfg


def main(argv: list[str] | None = None) -> int:
    from eval.evaluate import evaluate, summary_lines

    cfg = parse_config(list(sys.argv[1:] if argv is None else argv))
    if cfg is None:
        return 0
    out = evaluate(cfg)
    if out["metrics"]:
        print(json.dumps(out["metrics"], indent=2))
    for line in summary_lines(out):
        print(line)
    return 0
