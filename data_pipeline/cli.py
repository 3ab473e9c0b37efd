"""`starforge data <command>`: curate, train-tokenizer, tokenize, opt-out, lookup.

Each command builds its config dataclass from (in increasing priority) defaults, `--config FILE`,
the command's own flags, then `--set key=value`; `--help-config` lists every key.
"""

from __future__ import annotations

import argparse
import importlib
import json

from starforge.config import add_config_args, describe, load_config

COMMANDS = {
    "curate": ("data_pipeline.curate", "CurateConfig", "curate",
               "StarCoder's curation chain: read, filter, deduplicate, decontaminate, redact PII",
               {"input": "a folder of repositories, JSONL/Parquet in The Stack's schema, hf:DATASET, or "
                         "builtin:stdlib (default)", "output": "output folder DIR",
                "tasks": "datatrove tasks", "workers": "tasks run at once",
                "executor": "local (default), slurm or ray"}),
    "train-tokenizer": ("data_pipeline.tokenize.train", "TrainTokenizerConfig", "train_tokenizer",
                        "train a StarCoder-style byte-level BPE on DIR/kept",
                        {"input": "DIR/kept from curate", "output": "tokenizer folder TOKDIR",
                         "vocab_size": "vocabulary size (default 49152)"}),
    "tokenize": ("data_pipeline.tokenize.shards", "TokenizeConfig", "tokenize",
                 "write Megatron .bin/.idx shards of DIR/kept",
                 {"input": "DIR/kept from curate", "tokenizer": "tokenizer folder TOKDIR",
                  "output": "shard folder SHARD_DIR", "tasks": "datatrove tasks (one shard each)",
                  "workers": "tasks run at once"}),
    "opt-out": ("data_pipeline.optout", "OptOutConfig", "opt_out",
                "move opted-out repositories' files out of RUN_DIR/kept (The Stack's opt-out), or --check",
                {"list": "FILE of owner/name, owner/* or paths, one per line",
                 "shards": "tokenize output to mark for rebuilding (or check)",
                 "index": "attribution index to check"}),
    "lookup": ("data_pipeline.lookup", "LookupConfig", "lookup",
               "which files of a repository or owner RUN_DIR kept or removed, and why",
               {"repo": "owner/name", "owner": "owner"}),
}
POSITIONAL = {"opt-out": "run_dir", "lookup": "run_dir"}
"""Commands whose first argument is a path field (RUN_DIR)."""
SWITCHES = {"opt-out": ("check",), "lookup": ("json",)}
"""Boolean fields given as bare flags (`--json`)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="starforge data", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="<command>")
    for name, (_, _, _, help_text, flags) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        for key, flag_help in flags.items():
            cmd.add_argument(f"--{key.replace('_', '-')}", dest=key, default=None, help=flag_help)
        if name == "curate":
            cmd.add_argument("--dry-run", action="store_true", help="print the plan (stages, steps, sbatch scripts), run nothing")
        if name in POSITIONAL:
            cmd.add_argument(POSITIONAL[name], nargs="?", default=None, help="the curate output folder RUN_DIR")
        for switch in SWITCHES.get(name, ()):
            cmd.add_argument(f"--{switch}", action="store_true", help=f"set {switch}: true")
        add_config_args(cmd)
        cmd.add_argument("--help-config", action="store_true", help="list every config key with its default")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    module_name, config_name, function_name, _, flags = COMMANDS[args.command]
    module = importlib.import_module(module_name)
    config_cls, run = getattr(module, config_name), getattr(module, function_name)
    if args.help_config:
        print("\n".join(describe(config_cls)))
        return 0
    # Flags are overrides too (values as YAML scalars, so --tasks 4 is an int), before --set.
    flag_overrides = [f"{key}={_yaml_value(getattr(args, key))}" for key in flags if getattr(args, key) is not None]
    if getattr(args, "dry_run", False):
        flag_overrides.append("dry_run=true")
    if args.command in POSITIONAL and getattr(args, POSITIONAL[args.command]) is not None:
        flag_overrides.append(f"{POSITIONAL[args.command]}={_yaml_value(getattr(args, POSITIONAL[args.command]))}")
    flag_overrides += [f"{s}=true" for s in SWITCHES.get(args.command, ()) if getattr(args, s)]
    cfg = load_config(config_cls, args.config, flag_overrides + args.overrides)
    run(cfg)
    return 0


def _yaml_value(raw: str) -> str:
    """Numbers stay numbers; anything else is quoted, so a path like `null` or `1e3` stays a string."""
    try:
        float(raw)
        return raw
    except ValueError:
        return json.dumps(raw)
