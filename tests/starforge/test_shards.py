"""Megatron shards: the one prefix rule, and the token stream and documents of shards written by
datatrove's Megatron writer (what `starforge data tokenize` uses) and megatron-core's builder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from starforge.errors import FormatError
from starforge.formats.shards import shard_documents, shard_prefixes, shard_tokens

DOCS = [[5, 6, 7, 0], [8, 0], [9, 10, 11, 12, 0]]
WIDE = [[70000, 3, 0], [65535, 0]]  # ids past uint16: the int32 case


def _datatrove_shard(folder: Path, name: str, docs: list[list[int]]) -> Path:
    from datatrove.pipeline.tokens.megatron_tokenizer import MegatronTokenizedFile

    out = MegatronTokenizedFile(str(folder), name, token_size=2)
    for ids in docs:
        out.write(ids)
    out.close()
    return folder / name


def _megatron_shard(prefix: Path, docs: list[list[int]]) -> Path:
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    builder = IndexedDatasetBuilder(f"{prefix}.bin", dtype=np.int32)
    for ids in docs:
        builder.add_document(np.array(ids, dtype=np.int32), [len(ids)])
    builder.finalize(f"{prefix}.idx")
    return prefix


@pytest.fixture
def shard_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "shards"
    folder.mkdir()
    _datatrove_shard(folder, "00001_tokens", DOCS[2:])
    _datatrove_shard(folder, "00000_tokens", DOCS[:2])
    (folder / "summary.json").write_text("{}")
    return folder


def test_folder_names_its_shards_in_name_order(shard_dir: Path):
    assert shard_prefixes(shard_dir) == [shard_dir / "00000_tokens", shard_dir / "00001_tokens"]


@pytest.mark.parametrize("spelling", ["00000_tokens", "00000_tokens.bin", "00000_tokens.idx"])
def test_a_prefix_or_either_file_names_one_shard(shard_dir: Path, spelling: str):
    assert shard_prefixes(shard_dir / spelling) == [shard_dir / "00000_tokens"]


def test_no_shard_is_one_line_error_saying_what_is_needed(shard_dir: Path, tmp_path: Path):
    for missing in (tmp_path / "nowhere", shard_dir / "orphan", tmp_path):
        with pytest.raises(FormatError, match=r"no Megatron shards \(PREFIX\.bin \+ PREFIX\.idx\) found") as info:
            shard_prefixes(missing)
        assert len(str(info.value).splitlines()) == 1
    assert shard_prefixes(tmp_path, required=False) == []


def test_token_stream_is_the_documents_back_to_back(shard_dir: Path):
    prefixes = shard_prefixes(shard_dir)
    streams = [shard_tokens(p) for p in prefixes]
    assert [s.dtype for s in streams] == [np.uint16, np.uint16]  # datatrove's token_size=2
    assert np.concatenate(streams).tolist() == sum(DOCS, [])
    assert [d.tolist() for p in prefixes for d in shard_documents(p)] == DOCS


def test_int32_shards_from_megatron_builder_read_the_same(tmp_path: Path):
    prefix = _megatron_shard(tmp_path / "wide", WIDE)
    assert shard_tokens(prefix).dtype == np.int32 and shard_tokens(prefix).tolist() == sum(WIDE, [])
    docs = shard_documents(prefix)
    assert [d.dtype for d in docs] == [np.int64, np.int64] and [d.tolist() for d in docs] == WIDE


def test_corrupt_index_is_one_line_error(shard_dir: Path):
    idx = shard_dir / "00000_tokens.idx"
    idx.write_bytes(b"not an index" + idx.read_bytes()[12:])
    with pytest.raises(FormatError, match=r"00000_tokens\.idx: not a Megatron indexed dataset") as info:
        shard_tokens(shard_dir / "00000_tokens")
    assert len(str(info.value).splitlines()) == 1


def test_bin_shorter_than_its_index_is_one_line_error(shard_dir: Path):
    (shard_dir / "00001_tokens.bin").write_bytes(b"\x01\x00")
    with pytest.raises(FormatError, match=r"00001_tokens\.bin: truncated \(2 bytes"):
        shard_tokens(shard_dir / "00001_tokens")
    with pytest.raises(FormatError, match=r"00001_tokens\.bin: truncated \(2 bytes"):
        shard_documents(shard_dir / "00001_tokens")
