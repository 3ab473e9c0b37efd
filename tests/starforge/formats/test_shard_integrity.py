"""What megatron-core's `IndexedDataset` reads without checking, checked by formats/shards.py:
half shards, corrupt index arrays, a `.bin` of the wrong size, ids past the vocabulary, and the
tokenizer fingerprint beside each shard. Shards are written by datatrove's Megatron writer (what
`starforge data tokenize` uses); corruption is made by editing their real bytes."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from starforge.errors import FormatError
from starforge.formats.shards import (
    check_ids,
    check_tokenizer,
    read_shard_meta,
    shard_documents,
    shard_prefixes,
    shard_tokens,
    write_shard_meta,
)

DOCS = [[5, 6, 7, 0], [8, 0], [9, 10, 11, 12, 0]]
HEADER = 9 + 8 + 1 + 8 + 8  # magic, version, dtype code, sequence count, document count


def _shard(folder: Path, name: str, docs: list[list[int]] = DOCS) -> Path:
    from datatrove.pipeline.tokens.megatron_tokenizer import MegatronTokenizedFile

    folder.mkdir(parents=True, exist_ok=True)
    out = MegatronTokenizedFile(str(folder), name, token_size=2)
    for ids in docs:
        out.write(ids)
    out.close()
    return folder / name


def _one_line(info: pytest.ExceptionInfo) -> str:
    message = str(info.value)
    assert len(message.splitlines()) == 1
    return message


def test_bin_without_idx_in_a_folder_is_an_error_not_a_skipped_shard(tmp_path: Path):
    _shard(tmp_path, "00000_tokens")
    _shard(tmp_path, "00001_tokens")
    (tmp_path / "00001_tokens.idx").unlink()  # what a killed tokenize task leaves
    with pytest.raises(FormatError) as info:
        shard_prefixes(tmp_path)
    assert "00001_tokens.bin: no 00001_tokens.idx beside it" in _one_line(info)
    with pytest.raises(FormatError, match="no 00001_tokens.idx beside it"):
        shard_prefixes(tmp_path / "00001_tokens")


def test_idx_without_bin_is_an_error(tmp_path: Path):
    _shard(tmp_path, "00000_tokens")
    (tmp_path / "00000_tokens.bin").unlink()
    with pytest.raises(FormatError, match=r"00000_tokens\.idx: no 00000_tokens\.bin beside it"):
        shard_prefixes(tmp_path)


def _edit_lengths(prefix: Path, lengths: list[int]) -> None:
    idx = Path(f"{prefix}.idx")
    data = bytearray(idx.read_bytes())
    data[HEADER:HEADER + 4 * len(lengths)] = struct.pack(f"<{len(lengths)}i", *lengths)
    idx.write_bytes(bytes(data))


def test_lengths_shorter_than_the_data_are_not_a_short_read(tmp_path: Path):
    prefix = _shard(tmp_path, "00000_tokens")
    _edit_lengths(prefix, [4, 2, 3])  # the last document lost two tokens in the index only
    with pytest.raises(FormatError) as info:
        shard_tokens(prefix)
    assert "00000_tokens.bin: longer than its index says (22 bytes" in _one_line(info)


def test_negative_or_inconsistent_lengths_are_a_corrupt_index(tmp_path: Path):
    prefix = _shard(tmp_path, "00000_tokens")
    _edit_lengths(prefix, [4, -2, 5])
    with pytest.raises(FormatError, match=r"00000_tokens\.idx: corrupt index \(sequence 1 has length -2\)"):
        shard_documents(prefix)
    _edit_lengths(prefix, [3, 3, 5])  # same total, so only the pointers tell
    with pytest.raises(FormatError, match=r"corrupt index \(sequence 1 starts at byte 8"):
        shard_tokens(prefix)


def test_truncated_bin_is_one_line_error(tmp_path: Path):
    prefix = _shard(tmp_path, "00000_tokens")
    data = Path(f"{prefix}.bin").read_bytes()
    Path(f"{prefix}.bin").write_bytes(data[:-3])
    with pytest.raises(FormatError) as info:
        shard_tokens(prefix)
    assert "00000_tokens.bin: truncated (19 bytes, the index's 3 sequences need 22)" in _one_line(info)


def test_intact_shard_reads_back(tmp_path: Path):
    prefix = _shard(tmp_path, "00000_tokens")
    assert shard_tokens(prefix).tolist() == sum(DOCS, [])


def test_ids_past_the_vocabulary_are_named(tmp_path: Path):
    check_ids(np.array([0, 12, 3]), 13, "x")
    with pytest.raises(FormatError) as info:
        check_ids(np.array([0, 12, 3]), 12, "shards/0_tokens.bin")
    assert "shards/0_tokens.bin: token id 12 at token 1 is outside the model's vocabulary of 12" in _one_line(info)


FP_A = {"sha256": "a" * 64, "vocab_size": 600, "special_ids": {"<|endoftext|>": 0, "<fim_prefix>": 1}}
FP_B = {"sha256": "b" * 64, "vocab_size": 512, "special_ids": {"<|endoftext|>": 0, "<fim_prefix>": 2}}


def test_shards_of_another_tokenizer_are_refused_naming_both(tmp_path: Path):
    prefix = _shard(tmp_path, "00000_tokens")
    write_shard_meta(prefix, FP_A, "/data/tok_a", 0)
    assert read_shard_meta(prefix)["tokenizer"] == FP_A
    assert check_tokenizer([prefix], FP_A, "/data/tok_a") == []
    with pytest.raises(FormatError) as info:
        check_tokenizer([prefix], FP_B, "/models/tok_b")
    message = _one_line(info)
    assert "sha256 aaaaaaaaaaaa (vocab 600, /data/tok_a)" in message
    assert "sha256 bbbbbbbbbbbb (vocab 512, /models/tok_b)" in message
    assert "<fim_prefix> 1 vs 2" in message


def test_sources_of_two_tokenizers_are_refused_without_a_model_tokenizer(tmp_path: Path):
    a, b = _shard(tmp_path / "a", "00000_tokens"), _shard(tmp_path / "b", "00000_tokens")
    write_shard_meta(a, FP_A, "tok_a", 0)
    write_shard_meta(b, FP_B, "tok_b", 0)
    with pytest.raises(FormatError, match="one model trains on shards of one tokenizer"):
        check_tokenizer([a, b], None, None)


def test_shards_without_meta_are_returned_unchecked_and_a_bad_meta_is_an_error(tmp_path: Path):
    prefix = _shard(tmp_path, "00000_tokens")
    assert check_tokenizer([prefix], FP_A, "tok") == [prefix]
    Path(f"{prefix}.meta.json").write_text("{not json")
    with pytest.raises(FormatError, match=r"00000_tokens\.meta\.json: not a shard meta file"):
        check_tokenizer([prefix], FP_A, "tok")
