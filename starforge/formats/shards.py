"""Megatron token shards: `PREFIX.bin` + `PREFIX.idx` (+ `PREFIX.meta.json`), megatron-core's
indexed-dataset format (docs/formats.md, "Megatron shards").

Writer: `starforge data tokenize` (`data_pipeline/tokenize/shards.py`, datatrove's Megatron
writer under our escaping policy), one `SHARD_DIR/<rank>_tokens` pair per task. One sequence
per document, each ending in the tokenizer's EOS id; tokens uint16 below 65,536 ids, else int32
(the dtype is read from the `.idx`). Readers: `pretrain` (`shard_tokens`: each shard's token
stream, memory-mapped) and `eval --tasks perplexity` (`shard_documents`: one array per document),
both through `shard_prefixes` and megatron-core's `IndexedDataset`.

The prefix rule, the one way a path names shards (`shard_prefixes`):

- a folder names every `*.idx` directly in it, sorted by name (`SHARD_DIR` of `starforge data
  tokenize`); a `.bin` without its `.idx` (what a killed tokenize leaves) or an `.idx` without
  its `.bin` is an error, never a shard skipped in silence;
- any other path is one prefix, a trailing `.bin` or `.idx` removed: `shards/0_tokens`,
  `shards/0_tokens.bin` and `shards/0_tokens.idx` name the same shard, which must have both files.

Integrity (`open_shard`): megatron-core reads the index without checking it against the data,
so a corrupt length or a truncated `.bin` would be a short or shifted read. We check what the
index promises: lengths >= 0, pointers that follow the lengths, document indices from 0 to the
sequence count, and a `.bin` of exactly the bytes the lengths add up to. Token ids are checked
against a vocabulary where they are read (`check_ids`: pretrain, per sample window; eval's
perplexity checks each document against the model itself), since scanning every token at
start-up would cost a pass over the whole corpus.

Tokenizer fingerprint (`PREFIX.meta.json`, written by the shard's own tokenize task): the
`tokenizer_fingerprint` (formats/tokenizer.py) of the tokenizer that made the shard, its path and
EOS id, so a reader can refuse shards of another tokenizer (`check_tokenizer`). Shards without
one (other tools, older runs) read as before; callers warn that they cannot check them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from starforge.errors import FormatError

log = logging.getLogger(__name__)

SUFFIXES = (".bin", ".idx")
META_SUFFIX = ".meta.json"
HOW = "write them with `starforge data tokenize`"
REDO = "regenerate the shards with `starforge data tokenize`"


def shard_prefixes(path: str | Path, required: bool = True) -> list[Path]:
    """The shard prefixes `path` names (the prefix rule above), sorted; with `required`, none is a
    FormatError. A half shard (one of the two files) is a FormatError naming the missing file."""
    path = Path(path)
    if path.is_dir():
        prefixes = sorted({p.with_suffix("") for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file()})
        for prefix in prefixes:
            _check_pair(prefix)
    else:
        prefix = str(path)
        for suffix in SUFFIXES:
            prefix = prefix.removesuffix(suffix)
        prefixes = [Path(prefix)]
        if any(Path(f"{prefix}{s}").is_file() for s in SUFFIXES):
            _check_pair(prefixes[0])
        else:
            prefixes = []
    if required and not prefixes:
        raise FormatError(f"{path}: no Megatron shards (PREFIX.bin + PREFIX.idx) found; {HOW}")
    return prefixes


def _check_pair(prefix: Path) -> None:
    idx, bin_ = Path(f"{prefix}.idx"), Path(f"{prefix}.bin")
    if not idx.is_file():
        raise FormatError(f"{bin_}: no {idx.name} beside it (a killed `starforge data tokenize` leaves this); "
                          "rerun the same tokenize command to finish the shard, or remove the file")
    if not bin_.is_file():
        raise FormatError(f"{idx}: no {bin_.name} beside it; {REDO}, or remove the file")


def open_shard(prefix: str | Path) -> Any:
    """megatron-core's `IndexedDataset` over one prefix, its index checked against the `.bin`
    (module docstring); a bad shard is a one-line FormatError."""
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    try:
        ds = IndexedDataset(str(prefix))
    except Exception as exc:  # megatron raises AssertionError/ValueError/OSError on a bad index
        raise _not_a_shard(prefix, exc) from None
    _check_index(prefix, ds)
    return ds


def _check_index(prefix: str | Path, ds: Any) -> None:
    index = ds.index
    lengths = np.asarray(index.sequence_lengths, dtype=np.int64)
    pointers = np.asarray(index.sequence_pointers, dtype=np.int64)
    docs = np.asarray(index.document_indices, dtype=np.int64)
    size = index.dtype_size
    if len(lengths) and lengths.min() < 0:
        i = int(np.argmin(lengths))
        raise _corrupt(prefix, f"sequence {i} has length {int(lengths[i])}")
    ends = np.cumsum(lengths) * size
    starts = np.concatenate(([0], ends[:-1])) if len(lengths) else ends
    if not np.array_equal(pointers, starts):
        i = int(np.argmax(pointers != starts))
        raise _corrupt(prefix, f"sequence {i} starts at byte {int(pointers[i])}, its predecessors' lengths end "
                               f"at {int(starts[i])}")
    if len(docs) == 0 or docs[0] != 0 or docs[-1] != len(lengths) or (np.diff(docs) < 0).any():
        raise _corrupt(prefix, f"document indices do not run from 0 to the {len(lengths)} sequences")
    expected = int(ends[-1]) if len(lengths) else 0
    actual = Path(f"{prefix}.bin").stat().st_size
    if actual != expected:
        what = "truncated" if actual < expected else "longer than its index says"
        raise FormatError(f"{prefix}.bin: {what} ({actual:,} bytes, the index's {len(lengths):,} sequences "
                          f"need {expected:,}); {REDO}")


def shard_tokens(prefix: str | Path) -> np.ndarray:
    """Every token of one shard in order (documents back to back), memory-mapped read-only, in the
    shard's own dtype; an empty shard gives an empty array."""
    ds = open_shard(prefix)
    dtype = ds.index.dtype
    n_tokens = int(np.sum(ds.sequence_lengths, dtype=np.int64))
    if not n_tokens:
        return np.zeros(0, dtype=dtype)
    return np.memmap(f"{prefix}.bin", dtype=dtype, mode="r", shape=(n_tokens,))


def shard_documents(prefix: str | Path) -> list[np.ndarray]:
    """One int64 array per sequence (document) of one shard, copied (the dataset unmaps on exit)."""
    ds = open_shard(prefix)
    return [np.array(ds[i], dtype=np.int64) for i in range(len(ds))]


def check_ids(ids: np.ndarray, vocab_size: int, where: str, offset: int = 0) -> None:
    """A FormatError when a token id is outside [0, vocab_size): a corrupt shard, or shards of a
    larger tokenizer (an embedding lookup would fail with a device-side error otherwise);
    `offset`: where `ids` start in the file, in tokens."""
    if len(ids) and (int(ids.max()) >= vocab_size or int(ids.min()) < 0):
        bad = int(np.argmax((ids >= vocab_size) | (ids < 0)))
        raise FormatError(f"{where}: token id {int(ids[bad])} at token {offset + bad:,} is outside the model's vocabulary "
                          f"of {vocab_size}; {REDO} with the model's tokenizer")


def meta_path(prefix: str | Path) -> Path:
    return Path(f"{prefix}{META_SUFFIX}")


def write_shard_meta(prefix: str | Path, fingerprint: dict[str, Any], tokenizer_path: str, eos_id: int | None,
                     opener: Any = None) -> None:
    """`PREFIX.meta.json`: which tokenizer made the shard (`opener(name, mode)`: datatrove's
    output folder's `open`, so remote folders work too)."""
    text = json.dumps({"tokenizer": fingerprint, "tokenizer_path": tokenizer_path, "eos_id": eos_id},
                      indent=2) + "\n"
    if opener is None:
        meta_path(prefix).write_text(text, encoding="utf-8")
    else:
        with opener(meta_path(prefix).name, "wt") as fh:
            fh.write(text)


def read_shard_meta(prefix: str | Path) -> dict[str, Any] | None:
    """The shard's meta.json, or None when it has none; an unreadable one is a FormatError."""
    path = meta_path(prefix)
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(meta.get("tokenizer", {}).get("sha256"), str):
            raise ValueError("no tokenizer.sha256")
    except (ValueError, UnicodeDecodeError, AttributeError) as exc:
        raise FormatError(f"{path}: not a shard meta file ({str(exc).splitlines()[0] if str(exc) else exc!r}); "
                          f"{REDO}") from None
    return meta


def describe(fingerprint: dict[str, Any], path: Any) -> str:
    """`sha256 1a2b3c4d5e6f (vocab 49152, PATH)`: a fingerprint as an error message names it."""
    return f"sha256 {fingerprint.get('sha256', '?')[:12]} (vocab {fingerprint.get('vocab_size', '?')}, {path})"


def check_tokenizer(prefixes: list[Path], fingerprint: dict[str, Any] | None, tokenizer_path: Any,
                    what: str = "the model's tokenizer") -> list[Path]:
    """Refuse (FormatError) shards whose meta names another tokenizer than `fingerprint` (or
    shards of two tokenizers mixed, when `fingerprint` is None), naming both and the sentinels
    that moved. Returns the prefixes that have no meta (nothing to check)."""
    unchecked: list[Path] = []
    first: tuple[Path, dict[str, Any]] | None = None
    for prefix in prefixes:
        meta = read_shard_meta(prefix)
        if meta is None:
            unchecked.append(prefix)
            continue
        theirs = meta["tokenizer"]
        if fingerprint is not None:
            if theirs["sha256"] != fingerprint["sha256"]:
                raise FormatError(f"{meta_path(prefix)}: the shards were made by tokenizer "
                                  f"{describe(theirs, meta.get('tokenizer_path'))}, {what} is "
                                  f"{describe(fingerprint, tokenizer_path)}{_moved(theirs, fingerprint)}; "
                                  "tokenize the data with the model's tokenizer (`starforge data tokenize "
                                  "--tokenizer DIR`) or train with the shards' tokenizer")
        elif first is None:
            first = (prefix, meta)
        elif theirs["sha256"] != first[1]["tokenizer"]["sha256"]:
            raise FormatError(f"{meta_path(prefix)}: made by tokenizer {describe(theirs, meta.get('tokenizer_path'))}, "
                              f"but {meta_path(first[0])} by "
                              f"{describe(first[1]['tokenizer'], first[1].get('tokenizer_path'))}; "
                              "one model trains on shards of one tokenizer")
    return unchecked


def _moved(a: dict[str, Any], b: dict[str, Any]) -> str:
    ids_a, ids_b = a.get("special_ids", {}), b.get("special_ids", {})
    moved = [f"{tok} {ids_a.get(tok)} vs {ids_b.get(tok)}" for tok in sorted(set(ids_a) | set(ids_b), key=str)
             if ids_a.get(tok) != ids_b.get(tok)]
    return f" (special ids differ: {', '.join(moved[:3])})" if moved else ""


def _corrupt(prefix: str | Path, what: str) -> FormatError:
    return FormatError(f"{prefix}.idx: corrupt index ({what}); {REDO}")


def _not_a_shard(prefix: str | Path, exc: Exception) -> FormatError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return FormatError(f"{prefix}.idx: not a Megatron indexed dataset ({reason}); {REDO}")
