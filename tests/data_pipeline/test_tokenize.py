from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_pipeline.tokenize.shards import TokenizeConfig, tokenize
from data_pipeline.tokenize.train import TrainTokenizerConfig, train_tokenizer
from starforge.errors import ConfigError, DataError
from starforge.formats.tokenizer import SPECIAL_TOKENS, load_tokenizer
from tests.data_pipeline.conftest import EXPECTED, FIM_SOURCE
from tests.data_pipeline.helpers import kept_records, training_text

N_KEPT = list(EXPECTED.values()).count("kept")


@pytest.fixture(scope="module")
def tokenizer_dir(curated: Path) -> Path:
    out = curated.parent / "tok"
    train_tokenizer(TrainTokenizerConfig(input=curated / "kept", output=out, vocab_size=600))
    return out


@pytest.fixture(scope="module")
def shards(curated: Path, tokenizer_dir: Path) -> Path:
    out = curated.parent / "shards"
    tokenize(TokenizeConfig(input=curated / "kept", tokenizer=tokenizer_dir, output=out, tasks=2, workers=1))
    return out


def test_special_tokens_first_in_starcoder_order(tokenizer_dir: Path):
    tok = load_tokenizer(tokenizer_dir / "tokenizer.json")
    assert [tok.id_to_token(i) for i in range(19)] == list(SPECIAL_TOKENS)
    assert tok.get_vocab_size() == 600


def test_digits_split_individually(tokenizer_dir: Path):
    tok = load_tokenizer(tokenizer_dir / "tokenizer.json")
    assert [t for t in tok.encode("x = 2024").tokens if t.strip("Ġ")][-4:] == ["2", "0", "2", "4"]


def test_autotokenizer_loads_with_eos_and_escaping(tokenizer_dir: Path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    assert tok.eos_token == tok.bos_token == tok.unk_token == "<|endoftext|>" and tok.eos_token_id == 0
    ids = tok.encode(FIM_SOURCE, add_special_tokens=False)
    assert not set(ids) & set(range(19))
    assert tok.decode(ids) == FIM_SOURCE


def test_literal_special_tokens_in_code_stay_text(tokenizer_dir: Path):
    tok = load_tokenizer(tokenizer_dir / "tokenizer.json")
    ids = tok.encode(FIM_SOURCE).ids
    assert not set(ids) & set(range(19))
    assert tok.decode(ids, skip_special_tokens=False) == FIM_SOURCE


def test_train_summary_and_config_written(tokenizer_dir: Path):
    summary = json.loads((tokenizer_dir / "summary.json").read_text())
    assert summary["docs"] == N_KEPT and summary["vocab_size"] == 600
    assert (tokenizer_dir / "config.yaml").is_file()


def test_vocab_too_small_is_a_config_error():
    with pytest.raises(ConfigError, match="vocab_size"):
        TrainTokenizerConfig(vocab_size=100)


def test_train_on_missing_kept_leaves_previous_tokenizer(tmp_path: Path, tokenizer_dir: Path):
    before = (tokenizer_dir / "tokenizer.json").read_bytes()
    with pytest.raises(DataError, match="no such folder"):
        train_tokenizer(TrainTokenizerConfig(input=tmp_path / "nope", output=tokenizer_dir, vocab_size=600))
    assert (tokenizer_dir / "tokenizer.json").read_bytes() == before


def _read_shards(shards: Path) -> list[list[int]]:
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    sequences = []
    for idx in sorted(shards.glob("*.idx")):
        dataset = IndexedDataset(str(idx.with_suffix("")))
        sequences += [dataset[i].tolist() for i in range(len(dataset))]  # copy: the mmap closes with dataset
    return sequences


def test_shards_decode_to_kept_texts_with_eod(curated: Path, tokenizer_dir: Path, shards: Path):
    tok = load_tokenizer(tokenizer_dir / "tokenizer.json")
    sequences = _read_shards(shards)
    expected = [training_text(r) for r in kept_records(curated).values()]
    assert all(ids[-1] == 0 and 0 not in ids[:-1] for ids in sequences)
    decoded = [tok.decode(ids[:-1], skip_special_tokens=False) for ids in sequences]
    assert sorted(decoded) == sorted(expected) and len(expected) == N_KEPT


def test_literal_sentinels_not_special_in_shards(curated: Path, shards: Path):
    # fim.py and the notebook hold "<fim_prefix>" literally, fim.py "<|endoftext|>" too: the only
    # special ids are the appended EOD and the sentinels curate asked for (prefix, notebook cells)
    records = kept_records(curated).values()
    asked = sum(len(r["metadata"].get("prefix") or []) + len(r["metadata"].get("segments") or []) for r in records)
    sequences = _read_shards(shards)
    assert all(not set(ids[:-1]) & {0, 1, 2, 3, 4} for ids in sequences)  # no EOD or FIM sentinel inside
    assert sum(sum(1 for i in ids[:-1] if i < 19) for ids in sequences) == asked


def test_tokenize_summary(shards: Path):
    summary = json.loads((shards / "summary.json").read_text())
    assert summary["docs"] == N_KEPT and summary["tokens"] == sum(map(len, _read_shards(shards)))
    assert len(summary["shards"]) == 2


def test_tokenize_without_tokenizer_is_a_data_error(curated: Path, tmp_path: Path):
    with pytest.raises(DataError, match="no tokenizer.json"):
        tokenize(TokenizeConfig(input=curated / "kept", tokenizer=tmp_path, output=tmp_path / "s", workers=1))
    assert not (tmp_path / "s").exists()


def test_corrupt_kept_line_names_file_and_line(tmp_path: Path):
    import gzip

    from starforge.errors import FormatError

    kept = tmp_path / "kept"
    kept.mkdir()
    with gzip.open(kept / "00000.jsonl.gz", "wt") as f:
        f.write('{"text": "x = 1\\n", "id": "a", "metadata": {}}\n{"text": broken\n')
    with pytest.raises(FormatError, match=r"00000.jsonl.gz:2: not a curated-file record"):
        train_tokenizer(TrainTokenizerConfig(input=kept, output=tmp_path / "tok", vocab_size=600))
    assert not (tmp_path / "tok").exists()


def test_datatrove_stock_writer_would_forge_sentinels(tokenizer_dir: Path):
    # why shards.py subclasses MegatronDocumentTokenizer: tokenizer.json cannot carry the flag
    from datatrove.pipeline.tokens.megatron_tokenizer import MegatronDocumentTokenizer

    stock = MegatronDocumentTokenizer("unused", tokenizer_name_or_path=str(tokenizer_dir / "tokenizer.json"))
    assert 1 in stock.tokenizer.encode(FIM_SOURCE).ids  # <fim_prefix> read as the sentinel


def test_tokenize_rerun_skips_done_tasks(curated: Path, tokenizer_dir: Path, shards: Path):
    bins = {p: p.stat().st_mtime_ns for p in shards.glob("*.bin")}
    summary = tokenize(TokenizeConfig(input=curated / "kept", tokenizer=tokenizer_dir, output=shards, tasks=2,
                                      workers=1))
    assert {p: p.stat().st_mtime_ns for p in shards.glob("*.bin")} == bins
    assert summary["docs"] == N_KEPT
