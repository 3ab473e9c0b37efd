"""`starforge data <command>`: curate, train-tokenizer, tokenize.

Each command's flags are its config dataclass's fields (`starforge.commands`): defaults <
`--config FILE|PRESET` < flags < `--set key=value`; `--help-config` lists every key. A module
adding a command exposes a config dataclass and a run function and gets one `Command` line here.
"""

from __future__ import annotations

from starforge.commands import Command, run_commands

COMMANDS = [
    Command("curate", "data_pipeline.config:CurateConfig", "data_pipeline.curate:curate",
            "StarCoder's curation chain: read, filter, deduplicate, decontaminate, redact PII",
            required=("output",), inputs=("input",), outputs=("output",)),
    Command("train-tokenizer", "data_pipeline.tokenize.train:TrainTokenizerConfig",
            "data_pipeline.tokenize.train:train_tokenizer", "train a StarCoder-style byte-level BPE on DIR/kept",
            required=("input", "output"), inputs=("input",), outputs=("output",)),
    Command("tokenize", "data_pipeline.tokenize.shards:TokenizeConfig", "data_pipeline.tokenize.shards:tokenize",
            "write Megatron .bin/.idx shards of DIR/kept", required=("input", "tokenizer", "output"),
            inputs=("input", "tokenizer"), outputs=("output",)),
]


def main(argv: list[str] | None = None) -> int:
    return run_commands("starforge data", COMMANDS, argv, description=__doc__.splitlines()[0])
