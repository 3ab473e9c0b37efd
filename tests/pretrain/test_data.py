"""Samples from real Megatron shards: length, determinism, split, blending, FIM per sample."""

from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from pretrain.data import DataConfig, DataSource, PretrainDataset, microbatch_indices
from pretrain.fim import FimConfig
from starforge.errors import PretrainError

SEQ = 64


def _cfg(*paths: Path, weights=None, **kw) -> DataConfig:
    weights = weights or [1.0] * len(paths)
    return DataConfig(sources=[DataSource(path=p, weight=w) for p, w in zip(paths, weights)], **kw)


def test_samples_are_windows_of_the_token_stream(corpus):
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    ds = PretrainDataset(_cfg(corpus["shards"]), SEQ)
    shard = IndexedDataset(str(corpus["shards"] / "code"))
    stream = np.concatenate([np.array(shard[i]) for i in range(len(shard))])
    sample = ds[0]
    assert sample.shape == (SEQ + 1,) and sample.dtype == np.int64
    starts = [i for i in range(0, len(stream) - SEQ, SEQ) if np.array_equal(stream[i:i + SEQ + 1], sample)]
    assert len(starts) == 1
    assert (stream == 0).sum() == 14  # one <|endoftext|> per document


def test_same_seed_same_order_other_seed_other_order(corpus):
    a = PretrainDataset(_cfg(corpus["shards"]), SEQ)
    b = PretrainDataset(_cfg(corpus["shards"]), SEQ)
    c = PretrainDataset(_cfg(corpus["shards"], seed=7), SEQ)
    assert np.array_equal(a.batch(range(10)), b.batch(range(10)))
    assert not np.array_equal(a.batch(range(10)), c.batch(range(10)))


def test_train_and_valid_windows_are_disjoint(corpus):
    train = PretrainDataset(_cfg(corpus["shards"], valid_fraction=0.1), SEQ, "train")
    valid = PretrainDataset(_cfg(corpus["shards"], valid_fraction=0.1), SEQ, "valid")
    assert set(train.windows[0]).isdisjoint(valid.windows[0])
    assert len(valid.windows[0]) == round(0.1 * (len(train.windows[0]) + len(valid.windows[0])))
    seen = {tuple(train[g]) for g in range(len(train.windows[0]))}
    assert len(seen) == len(train.windows[0])  # one epoch visits every train window once
    assert not seen & {tuple(valid[g]) for g in range(len(valid.windows[0]))}


def test_blending_follows_source_weights(corpus):
    ds = PretrainDataset(_cfg(corpus["shards"], corpus["shards_b"], weights=[3.0, 1.0]), SEQ, num_samples=400)
    share = np.bincount(ds._blend_source[:400], minlength=2) / 400
    assert share == pytest.approx([0.75, 0.25], abs=0.01)
    assert set(ds._blend_source[:4].tolist()) == {0, 1}  # interleaved from the start, not in blocks


def test_fim_applied_per_sample_reproducibly(corpus):
    tok = Tokenizer.from_file(str(corpus["tokenizer"] / "tokenizer.json"))
    fim = PretrainDataset(_cfg(corpus["shards"]), SEQ, fim=FimConfig(rate=1.0), tokenizer=tok)
    plain = PretrainDataset(_cfg(corpus["shards"]), SEQ)
    again = PretrainDataset(_cfg(corpus["shards"]), SEQ, fim=FimConfig(rate=1.0), tokenizer=tok)
    rearranged = 0
    for g in range(20):
        sample = fim[g]
        assert sample.shape == (SEQ + 1,)
        assert np.array_equal(sample, again[g])  # per-sample generator: same sample, same FIM
        rearranged += int(1 in sample.tolist())  # <fim_prefix>
        assert not np.array_equal(sample, plain[g]) or 1 not in sample.tolist()
    assert rearranged >= 15


def test_microbatches_tile_the_global_batch():
    got = [list(microbatch_indices(5, m, 2, 3, r, 2)) for m in range(3) for r in range(2)]
    assert sorted(sum(got, [])) == list(range(5 * 12, 6 * 12))


def test_source_may_name_a_shard_file_as_eval_does(corpus):
    folder = PretrainDataset(_cfg(corpus["shards"]), SEQ)
    for spelling in ("code", "code.bin", "code.idx"):  # starforge/formats/shards.py's one prefix rule
        named = PretrainDataset(_cfg(corpus["shards"] / spelling), SEQ)
        assert np.array_equal(named.batch(range(8)), folder.batch(range(8)))


def test_missing_shards_is_one_line_error(tmp_path):
    with pytest.raises(PretrainError, match="no Megatron shards"):
        PretrainDataset(_cfg(tmp_path / "nowhere"), SEQ)


def test_too_little_data_names_the_numbers(corpus):
    with pytest.raises(PretrainError, match="need more data or a shorter model.seq_length"):
        PretrainDataset(_cfg(corpus["shards"]), 10**7)
