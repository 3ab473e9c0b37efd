"""`starforge data train-tokenizer`: a StarCoder-style byte-level BPE trained on kept/ JSONL.

As bigcode/starcoder's tokenizer.json: no normalizer; pre-tokenizer = digits split one by one,
then GPT-2's byte-level regex split; byte-level decoder; the 19 special tokens at ids 0..18.
Saved as a Hugging Face folder (tokenizer.json, tokenizer_config.json) that
`transformers.AutoTokenizer.from_pretrained` loads, plus config.yaml and summary.json.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from starforge.config import save_config
from starforge.errors import ConfigError, DataError
from starforge.formats.records import read_records, record_files
from starforge.formats.tokenizer import SPECIAL_TOKENS, escape_special_tokens, save_tokenizer
from starforge.log import progress
from starforge.run_dir import write_summary

log = logging.getLogger(__name__)


@dataclass
class TrainTokenizerConfig:
    input: Path | None = None
    """Folder of kept JSONL (`DIR/kept` from `starforge data curate`)."""
    output: Path | None = None
    """Tokenizer folder to write (tokenizer.json, tokenizer_config.json, summary.json)."""
    vocab_size: int = 49152
    """Total vocabulary, special tokens included (StarCoder: 49152)."""
    min_frequency: int = 2
    """A pair must occur this often to be merged."""
    model_max_length: int = 8192
    """Recorded in tokenizer_config.json (StarCoder's context length)."""

    def __post_init__(self):
        if self.vocab_size < len(SPECIAL_TOKENS) + 256:
            raise ConfigError(f"vocab_size must be at least {len(SPECIAL_TOKENS) + 256} "
                              f"(19 special tokens + 256 bytes), got {self.vocab_size}")


def build_tokenizer() -> Tokenizer:
    """The untrained StarCoder-shaped pipeline (empty BPE model)."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    return escape_special_tokens(tokenizer)  # literal sentinels in code are text (formats/tokenizer.py)


def train_tokenizer(cfg: TrainTokenizerConfig) -> dict:
    """Train on every kept record's text; returns (and writes to summary.json) the summary."""
    if cfg.input is None or cfg.output is None:
        raise ConfigError("train-tokenizer needs --input DIR/kept and --output TOKDIR")
    files = _kept_files(Path(cfg.input))
    started = time.perf_counter()
    counts = {"docs": 0, "bytes": 0}

    def texts() -> Iterator[str]:
        for path in progress(files, desc="train tokenizer", unit="file"):
            for record in read_records(path):
                counts["docs"] += 1
                counts["bytes"] += len(record["text"].encode("utf-8"))
                yield record["text"]

    tokenizer = build_tokenizer()
    trainer = trainers.BpeTrainer(vocab_size=cfg.vocab_size, min_frequency=cfg.min_frequency,
                                  special_tokens=list(SPECIAL_TOKENS), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(texts(), trainer=trainer)
    if counts["docs"] == 0:
        raise DataError(f"{cfg.input}: no records in the kept JSONL; run `starforge data curate` first")
    wall = time.perf_counter() - started

    out = Path(cfg.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        save_tokenizer(tokenizer, Path(tmp), cfg.model_max_length)
        save_config(cfg, Path(tmp) / "config.yaml")
        summary = {"docs": counts["docs"], "bytes": counts["bytes"], "vocab_size": tokenizer.get_vocab_size(),
                   "wall_s": round(wall, 2), "mb_per_s": round(counts["bytes"] / 1e6 / wall, 2),
                   "output": str(out)}
        write_summary(tmp, "data", summary, {"tokenizer": str(out)}, command="data train-tokenizer")
        # Moved in only now, file by file, so a failed run leaves the previous tokenizer intact and
        # no file this command did not write is deleted (the output rule, starforge/run_dir.py).
        out.mkdir(exist_ok=True)
        for made in sorted(Path(tmp).iterdir()):
            os.replace(made, out / made.name)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    log.info("train-tokenizer: %d docs (%.1f MB) in, vocab %d, %.1f s (%.2f MB/s); output: %s",
             summary["docs"], summary["bytes"] / 1e6, summary["vocab_size"], wall, summary["mb_per_s"], out)
    return summary


def _kept_files(kept: Path) -> list[Path]:
    if not kept.is_dir():
        raise DataError(f"input '{kept}': no such folder; pass the kept/ folder written by `starforge data curate`")
    files = record_files(kept)
    if not files:
        raise DataError(f"input '{kept}': no .jsonl.gz files; pass the kept/ folder written by `starforge data curate`")
    return files
