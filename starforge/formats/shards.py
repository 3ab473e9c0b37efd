"""Megatron token shards: `PREFIX.bin` + `PREFIX.idx`, megatron-core's indexed-dataset format
(docs/formats.md, "Megatron shards").

Writer: `starforge data tokenize` (`data_pipeline/tokenize/shards.py`, datatrove's Megatron
writer under our escaping policy), one `SHARD_DIR/<rank>_tokens` pair per task. One sequence
per document, each ending in the `<|endoftext|>` id; tokens uint16 below 65,536 ids, else int32
(the dtype is read from the `.idx`). Readers: `pretrain` (`shard_tokens`: each shard's token
stream, memory-mapped) and `eval --tasks perplexity` (`shard_documents`: one array per document),
both through `shard_prefixes` and megatron-core's `IndexedDataset`.

The prefix rule, the one way a path names shards (`shard_prefixes`):

- a folder names every `*.idx` directly in it that has its `.bin` beside it, sorted by name
  (`SHARD_DIR` of `starforge data tokenize`);
- any other path is one prefix, a trailing `.bin` or `.idx` removed: `shards/0_tokens`,
  `shards/0_tokens.bin` and `shards/0_tokens.idx` name the same shard, which must have both files.

Tokenizer fingerprint: not recorded yet. Shards hold bare ids, so a reader cannot tell which
tokenizer wrote them (perplexity only checks ids against the model's vocabulary). The place for
it is this module: `tokenize` writing `tokenizer_fingerprint(...)` (formats/tokenizer.py) next to
the shards, and a reader here comparing it with the tokenizer its caller loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from starforge.errors import FormatError

SUFFIXES = (".bin", ".idx")
HOW = "write them with `starforge data tokenize`"


def shard_prefixes(path: str | Path, required: bool = True) -> list[Path]:
    """The shard prefixes `path` names (the prefix rule above), sorted; with `required`, none is a
    FormatError."""
    path = Path(path)
    if path.is_dir():
        prefixes = sorted(p.with_suffix("") for p in path.glob("*.idx"))
    else:
        prefix = str(path)
        for suffix in SUFFIXES:
            prefix = prefix.removesuffix(suffix)
        prefixes = [Path(prefix)]
    prefixes = [p for p in prefixes if Path(f"{p}.idx").is_file() and Path(f"{p}.bin").is_file()]
    if required and not prefixes:
        raise FormatError(f"{path}: no Megatron shards (PREFIX.bin + PREFIX.idx) found; {HOW}")
    return prefixes


def open_shard(prefix: str | Path) -> Any:
    """megatron-core's `IndexedDataset` over one prefix; a bad index is a one-line FormatError."""
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    try:
        return IndexedDataset(str(prefix))
    except Exception as exc:  # megatron raises AssertionError/ValueError/OSError on a bad index
        raise _not_a_shard(prefix, exc) from None


def shard_tokens(prefix: str | Path) -> np.ndarray:
    """Every token of one shard in order (documents back to back), memory-mapped read-only, in the
    shard's own dtype; an empty shard gives an empty array."""
    ds = open_shard(prefix)
    try:
        dtype = ds.index.dtype
        n_tokens = int(np.sum(ds.sequence_lengths, dtype=np.int64))
        if not n_tokens:
            return np.zeros(0, dtype=dtype)
        return np.memmap(f"{prefix}.bin", dtype=dtype, mode="r", shape=(n_tokens,))
    except (ValueError, OSError) as exc:  # a .bin shorter than its index says
        raise _not_a_shard(prefix, exc) from None


def shard_documents(prefix: str | Path) -> list[np.ndarray]:
    """One int64 array per sequence (document) of one shard, copied (the dataset unmaps on exit)."""
    ds = open_shard(prefix)
    try:
        return [np.array(ds[i], dtype=np.int64) for i in range(len(ds))]
    except (ValueError, OSError) as exc:
        raise _not_a_shard(prefix, exc) from None


def _not_a_shard(prefix: str | Path, exc: Exception) -> FormatError:
    return FormatError(f"{prefix}.idx: not a Megatron indexed dataset ({exc}); regenerate the shards "
                       "with `starforge data tokenize`")
