"""`starforge data tokenize`: kept/ JSONL in, Megatron `.bin`/`.idx` shards out.

    SHARD_DIR/<rank>_tokens.bin, .idx   one pair per task, readable by megatron-core's
                                        `IndexedDataset(SHARD_DIR/<rank>_tokens)`
    SHARD_DIR/config.yaml, summary.json
    SHARD_DIR/logs/                     datatrove logs and completion markers (resume)

Each kept document is one sequence: its metadata prefix if curate drew one, its tokens, then
the `<|endoftext|>` id (see `EscapingMegatronTokenizer`). Tokens are uint16
when the vocabulary fits (< 65,536), else int32 (datatrove's choice, read from the .idx).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from datatrove.pipeline.readers.jsonl import JsonlReader
from datatrove.pipeline.tokens.megatron_tokenizer import MegatronDocumentTokenizer, MegatronTokenizedFile
from datatrove.utils.batching import batched
from tokenizers import Tokenizer

from data_pipeline.executor import run_pipeline
from starforge.errors import ConfigError, DataError
from starforge.formats.records import record_files
from starforge.formats.shards import shard_prefixes
from starforge.formats.tokenizer import EOD, encode_text, escape_special_tokens, load_tokenizer, tokenizer_file
from starforge.run_dir import prepare, write_summary

log = logging.getLogger(__name__)


RESUME_NEUTRAL = ("workers", "batch_size")
"""Keys a resumed run may change (they change no output)."""


@dataclass
class TokenizeConfig:
    input: Path | None = None
    """Folder of kept JSONL (`DIR/kept`)."""
    tokenizer: Path | None = None
    """Tokenizer folder from `starforge data train-tokenizer` (its tokenizer.json is used)."""
    output: Path | None = None
    """Shard folder to write."""
    tasks: int = 2
    """datatrove tasks, one shard each (capped at the number of kept files)."""
    workers: int = 2
    """Tasks run at once (processes); 1 runs them in this process."""
    batch_size: int = 1000
    """Documents per `encode_batch` call."""

    def __post_init__(self):
        if self.tasks < 1 or self.workers < 1 or self.batch_size < 1:
            raise ConfigError("tasks, workers and batch_size must be >= 1")


class EscapingMegatronTokenizer(MegatronDocumentTokenizer):
    """datatrove's Megatron writer under our escaping policy (starforge/formats/tokenizer.py).

    datatrove loads tokenizer.json with `Tokenizer.from_file`, which cannot restore
    `encode_special_tokens`, so a literal `<|endoftext|>` in code would become id 0 and forge a
    document boundary: we set the flag on the loaded tokenizer. The EOD id is still appended by
    datatrove's post-processor, by id.

    Sentinels that curate asked for are inserted by id, never parsed from text:
    `metadata.prefix` ([[token, value], ...], StarCoder's `<reponame>REPO<filename>PATH<gh_stars>N`
    then a newline, format/metadata_prefix.py) before the text, and `metadata.segments`
    ([[token, n_chars], ...], a structured notebook, format/jupyter.py) through it. Values and
    text are encoded with escaping, so they cannot forge sentinels either."""

    @cached_property
    def tokenizer(self) -> Tokenizer:
        return escape_special_tokens(MegatronDocumentTokenizer.tokenizer.func(self))

    def _text_ids(self, text: str) -> list[int]:
        return encode_text(self.tokenizer, text)

    def _special_id(self, token: str) -> int:
        token_id = self.tokenizer.token_to_id(token)
        if token_id is None:
            raise DataError(f"tokenizer has no {token} token, needed by a kept document's metadata; "
                            "train it with `starforge data train-tokenizer`")
        return token_id

    def document_ids(self, text: str, metadata: dict, encoded_ids: list[int] | None) -> list[int]:
        ids: list[int] = []
        prefix = metadata.get("prefix") or []
        for token, value in prefix:
            ids += [self._special_id(token), *self._text_ids(value)]
        if prefix:
            ids += self._text_ids("\n")
        segments = metadata.get("segments")
        if segments:
            pos = 0
            for token, length in segments:
                ids += [self._special_id(token), *self._text_ids(text[pos:pos + length])]
                pos += length
            return ids + [self._special_id(self.eos_token)]
        return ids + list(encoded_ids)

    def write_tokens(self, data, filename: str):
        out = MegatronTokenizedFile(self.output_folder, filename, upload_block_size=self.upload_block_size,
                                    token_size=self.token_size)
        for batch in batched(data, self.batch_size):
            with self.track_time(unit="batch"):
                plain = self.tokenizer.encode_batch([d.text for d in batch if not d.metadata.get("segments")])
                encoded = iter(plain)
                for doc in batch:
                    ids = self.document_ids(doc.text, doc.metadata,
                                            None if doc.metadata.get("segments") else next(encoded).ids)
                    out.write(ids)
                    self.stat_update("tokens", value=len(ids))
        out.close()
        return out


def tokenize(cfg: TokenizeConfig) -> dict:
    """Write one Megatron shard per task; returns (and writes to summary.json) the summary."""
    if cfg.input is None or cfg.tokenizer is None or cfg.output is None:
        raise ConfigError("tokenize needs --input DIR/kept, --tokenizer TOKDIR and --output SHARD_DIR")
    kept, tokenizer_json, out = Path(cfg.input), tokenizer_file(cfg.tokenizer), Path(cfg.output)
    if not kept.is_dir() or not (files := record_files(kept)):
        raise DataError(f"input '{kept}': no kept .jsonl.gz files; pass the kept/ folder written by "
                        "`starforge data curate`")
    if load_tokenizer(cfg.tokenizer).token_to_id(EOD) is None:
        raise DataError(f"tokenizer '{cfg.tokenizer}': has no {EOD} token; train it with `starforge data train-tokenizer`")
    tasks = min(cfg.tasks, len(files))
    prepare(out, cfg, inputs=[kept, cfg.tokenizer], command="data tokenize", neutral=RESUME_NEUTRAL)

    started = time.perf_counter()
    pipeline = [
        JsonlReader(str(kept), glob_pattern="*.jsonl.gz", recursive=False, add_file_path=False),
        EscapingMegatronTokenizer(str(out), tokenizer_name_or_path=str(tokenizer_json), eos_token=EOD,
                                  batch_size=cfg.batch_size),
    ]
    run_pipeline(pipeline, tasks, cfg.workers, str(out / "logs"))
    wall = time.perf_counter() - started

    docs = tokens = text_bytes = 0
    for path in sorted((out / "logs" / "stats").glob("*.json")):
        for step in json.loads(path.read_text(encoding="utf-8")):
            stats = {k: (v["total"] if isinstance(v, dict) else v) for k, v in step["stats"].items()}
            docs += stats.get("documents", 0) if "READER" in step["name"] else 0
            text_bytes += stats.get("doc_len", 0) if "READER" in step["name"] else 0
            tokens += stats.get("tokens", 0)
    shards = [str(p) for p in shard_prefixes(out, required=False)]
    summary = write_summary(out, "data", {"docs": int(docs), "tokens": int(tokens), "chars": int(text_bytes),
                                          "shards": shards, "wall_s": round(wall, 2),
                                          "tokens_per_s": round(tokens / wall) if wall > 0 else None},
                            {"shards": str(out)}, command="data tokenize")
    log.info("tokenize: %d docs in, %d tokens out (%.2f chars/token), %.1f s (%.0f tokens/s); shards: %s",
             docs, tokens, text_bytes / max(tokens, 1), wall, summary["tokens_per_s"] or 0, ", ".join(shards))
    return summary
