"""FIM on a byte-level BPE trained on real stdlib sources, with StarCoder's special tokens."""

import sysconfig
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from pretrain.fim import FimConfig, FimTransform
from starforge.config import load_config
from starforge.errors import ConfigError, PretrainError

# StarCoder's tokenizer opens with these, in this order (ids 0..5).
SPECIALS = ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<filename>"]
EOD, PREFIX, MIDDLE, SUFFIX, PAD, FILENAME = range(6)
SENTINELS = (PREFIX, MIDDLE, SUFFIX)
STDLIB = Path(sysconfig.get_paths()["stdlib"])
SOURCES = ["textwrap.py", "shlex.py", "json/decoder.py", "difflib.py"]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=2000, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train([str(STDLIB / name) for name in SOURCES], trainer)
    assert [tok.token_to_id(t) for t in SPECIALS] == list(range(6))
    return tok


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Real code: 40-line windows of stdlib files."""
    out = []
    for name in SOURCES:
        lines = (STDLIB / name).read_text(encoding="utf-8").splitlines(keepends=True)
        out += ["".join(lines[i : i + 40]) for i in range(0, len(lines) - 40, 40)]
    return out


def encode(tok: Tokenizer, text: str) -> np.ndarray:
    return np.array(tok.encode(text, add_special_tokens=False).ids, dtype=np.int64)


def encode_per_char(tok: Tokenizer, text: str) -> np.ndarray:
    """Same text, one token per character: re-encoding after FIM needs fewer tokens, so nothing is cut."""
    return np.concatenate([encode(tok, ch) for ch in text])


def decode(tok: Tokenizer, ids: np.ndarray) -> str:
    return tok.decode(ids.tolist(), skip_special_tokens=False)


def decode_cut(tok: Tokenizer, ids: np.ndarray) -> str:
    """A piece cut in the middle of a multi-byte character ends in U+FFFD: drop it."""
    return decode(tok, ids).rstrip("\ufffd")


def split_psm(out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    assert out[0] == PREFIX  # with an empty prefix, PSM and SPM are the same sequence
    s, m = (int(np.flatnonzero(out == t)[0]) for t in (SUFFIX, MIDDLE))
    return out[1:s], out[m + 1 :], out[s + 1 : m]  # prefix, middle, suffix


def split_spm(out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    assert out[0] == PREFIX and out[1] == SUFFIX
    m = int(np.flatnonzero(out == MIDDLE)[0])
    suffix, rest = out[2:m], out[m + 1 :]
    return rest, None, suffix  # prefix and middle are contiguous after <fim_middle>


def transform(tok: Tokenizer, **kw) -> FimTransform:
    return FimTransform(FimConfig(**kw), tok)


def sentinel_count(out: np.ndarray) -> list[int]:
    return [int(np.sum(out == t)) for t in SENTINELS]


def test_psm_layout_reassembles_text(tokenizer, texts):
    fim = transform(tokenizer, rate=1.0, spm_rate=0.0)
    for seed, text in enumerate(texts[:20]):
        sample = encode_per_char(tokenizer, text)
        out = fim(sample, np.random.default_rng(seed))
        assert out.shape == sample.shape and out.dtype == np.int64
        assert sentinel_count(out) == [1, 1, 1]
        prefix, middle, suffix = split_psm(out)
        n_pad = int(np.sum(middle == PAD))
        assert n_pad > 0 and np.all(middle[-n_pad:] == PAD)  # shorter after re-encoding: padded at the end
        middle = middle[:-n_pad]
        assert decode(tokenizer, prefix) + decode(tokenizer, middle) + decode(tokenizer, suffix) == text


def test_spm_layout_is_prefix_suffix_sentinels_then_suffix_middle_sentinel_prefix_middle(tokenizer, texts):
    fim = transform(tokenizer, rate=1.0, spm_rate=1.0)
    for seed, text in enumerate(texts[:20]):
        sample = encode_per_char(tokenizer, text)
        out = fim(sample, np.random.default_rng(seed))
        assert out.shape == sample.shape
        assert out[0] == PREFIX and out[1] == SUFFIX and sentinel_count(out) == [1, 1, 1]
        prefix_middle, _, suffix = split_spm(out)
        body = prefix_middle[prefix_middle != PAD]
        assert np.all(prefix_middle[body.shape[0] :] == PAD)
        # suffix comes first in the sequence but last in the text: prefix+middle, then suffix
        assert decode(tokenizer, body) + decode(tokenizer, suffix) == text


def test_spm_pieces_are_the_drawn_prefix_and_middle(tokenizer, texts):
    """Same seed, PSM vs SPM: the cut points are drawn before the order, so the pieces agree."""
    text = texts[3]
    sample = encode_per_char(tokenizer, text)
    psm = transform(tokenizer, rate=1.0, spm_rate=0.0)(sample, np.random.default_rng(7))
    spm = transform(tokenizer, rate=1.0, spm_rate=1.0)(sample, np.random.default_rng(7))
    prefix, middle, suffix = split_psm(psm)
    m = int(np.flatnonzero(spm == MIDDLE)[0])
    assert np.array_equal(spm[2:m], suffix)
    expected = np.concatenate([prefix, middle[middle != PAD]])
    assert np.array_equal(spm[m + 1 : m + 1 + expected.shape[0]], expected)


def test_longer_result_is_cut_at_the_sample_end(tokenizer, texts):
    fim = transform(tokenizer, rate=1.0, spm_rate=0.0)
    cut = 0
    for seed, text in enumerate(texts[:30]):
        sample = encode(tokenizer, text)
        out = fim(sample, np.random.default_rng(seed))
        assert out.shape == sample.shape and sentinel_count(out) == [1, 1, 1]
        prefix, middle, suffix = split_psm(out)
        if np.any(middle == PAD):
            continue
        cut += 1
        p, m, s = decode(tokenizer, prefix), decode_cut(tokenizer, middle), decode(tokenizer, suffix)
        # prefix and suffix whole; the middle, last in the sample, lost its tail
        assert text.startswith(p + m) and text.endswith(s) and len(p) + len(m) + len(s) < len(text)
    assert cut >= 10  # re-encoding three pieces usually costs tokens


def test_document_mode_cuts_the_suffix(tokenizer, texts):
    fim = transform(tokenizer, rate=1.0, spm_rate=0.0, fix_length="document")
    cut = 0
    for seed, text in enumerate(texts[:30]):
        sample = encode(tokenizer, text)
        out = fim(sample, np.random.default_rng(seed))
        assert out.shape == sample.shape
        if out[0] != PREFIX:
            continue  # suffix too short to absorb the extra tokens: left as it was
        prefix, middle, suffix = split_psm(out)
        p, m, s = decode(tokenizer, prefix), decode(tokenizer, middle), decode_cut(tokenizer, suffix)
        assert text.startswith(p + m) and text[len(p) + len(m) :].startswith(s)
        cut += len(p) + len(m) + len(s) < len(text)
    assert cut >= 10


def test_document_mode_pads_the_suffix(tokenizer, texts):
    fim = transform(tokenizer, rate=1.0, spm_rate=0.0, fix_length="document")
    text = texts[5]
    sample = encode_per_char(tokenizer, text)
    out = fim(sample, np.random.default_rng(1))
    prefix, middle, suffix = split_psm(out)
    assert out.shape == sample.shape and PAD in suffix and PAD not in middle and out[-1] != PAD
    assert decode(tokenizer, prefix) + decode(tokenizer, middle) + decode(tokenizer, suffix[suffix != PAD]) == text


def test_document_mode_leaves_a_document_too_short_to_cut(tokenizer):
    fim = transform(tokenizer, rate=1.0, fix_length="document")
    sample = encode(tokenizer, "x = 1")[:2]
    for seed in range(50):
        assert np.array_equal(fim(sample, np.random.default_rng(seed)), sample)


@pytest.mark.parametrize("fix_length", ["sample", "document"])
def test_length_always_preserved(tokenizer, texts, fix_length):
    fim = transform(tokenizer, rate=0.9, fix_length=fix_length)
    rng = np.random.default_rng(0)
    joined = encode(tokenizer, "".join(texts[:12]))
    eod_at = rng.choice(joined.shape[0], size=40, replace=False)
    joined[eod_at] = EOD  # documents of all sizes, including empty ones
    for _ in range(200):
        start, length = rng.integers(0, joined.shape[0] - 600), rng.integers(1, 600)
        sample = joined[start : start + length].astype(np.int32)  # shards hold int32
        out = fim(sample, rng)
        assert out.shape == sample.shape and out.dtype == np.int64


def test_rates_hold_statistically(tokenizer, texts):
    rate, spm_rate, n = 0.3, 0.8, 2000
    fim = transform(tokenizer, rate=rate, spm_rate=spm_rate)
    samples = [encode(tokenizer, t)[:200] for t in texts]
    rng = np.random.default_rng(1234)
    outs = [fim(samples[i % len(samples)], rng) for i in range(n)]
    fim_count = sum(int(o[0] == PREFIX) for o in outs)
    spm_count = sum(int(o[0] == PREFIX and o[1] == SUFFIX) for o in outs)
    assert abs(fim_count - n * rate) <= 4 * np.sqrt(n * rate * (1 - rate))
    assert abs(spm_count - fim_count * spm_rate) <= 4 * np.sqrt(fim_count * spm_rate * (1 - spm_rate))


def test_rate_zero_returns_sample_unchanged(tokenizer, texts):
    fim = transform(tokenizer, rate=0.0)
    sample = np.concatenate([encode(tokenizer, texts[0]), [EOD], encode(tokenizer, texts[1])])
    out = fim(sample, np.random.default_rng(0))
    assert np.array_equal(out, sample) and out.dtype == np.int64


def test_each_document_rearranged_and_boundaries_kept(tokenizer, texts):
    fim = transform(tokenizer, rate=1.0, spm_rate=0.0)
    docs = texts[:3]
    sample = np.concatenate([np.array([EOD, EOD]), encode_per_char(tokenizer, docs[0]), [EOD], [EOD],
                             encode_per_char(tokenizer, docs[1]), [EOD], encode_per_char(tokenizer, docs[2])])
    out = fim(sample, np.random.default_rng(3))
    assert out.shape == sample.shape
    eods = np.flatnonzero(out == EOD)
    assert eods.shape[0] == 5 and list(eods[:2]) == [0, 1] and eods[3] == eods[2] + 1  # empty documents kept
    pieces = [out[eods[1] + 1 : eods[2]], out[eods[3] + 1 : eods[4]], out[eods[4] + 1 :]]
    for doc, piece in zip(docs, pieces):
        prefix, middle, suffix = split_psm(piece)
        middle = middle[middle != PAD]
        assert decode(tokenizer, prefix) + decode(tokenizer, middle) + decode(tokenizer, suffix) == doc


def test_whole_sample_as_one_text_when_not_per_document(tokenizer, texts):
    fim = transform(tokenizer, rate=1.0, per_document=False)
    sample = np.concatenate([encode_per_char(tokenizer, texts[0]), [EOD], encode_per_char(tokenizer, texts[1])])
    out = fim(sample, np.random.default_rng(0))
    assert out.shape == sample.shape and sentinel_count(out) == [1, 1, 1]
    assert int(np.sum(out == EOD)) == 1  # the separator travels with the text, by id


def test_literal_sentinel_text_in_code_stays_text(tokenizer):
    text = 'PREFIX = "<fim_prefix>"  # StarCoder\'s sentinel\nEND = "<|endoftext|>"\nMID = "<fim_middle>"\n' * 3
    tokenizer.encode_special_tokens = True
    sample = encode(tokenizer, text)
    tokenizer.encode_special_tokens = False
    assert not np.isin(sample, list(range(6))).any()
    fim = transform(tokenizer, rate=1.0)
    for seed in range(30):
        out = fim(sample, np.random.default_rng(seed))
        assert sentinel_count(out) == [1, 1, 1] and EOD not in out
    assert tokenizer.encode_special_tokens is False  # restored


def test_special_tokens_in_a_document_keep_their_ids(tokenizer, texts):
    fim = transform(tokenizer, rate=1.0)
    sample = np.concatenate([[FILENAME], encode(tokenizer, "textwrap.py\n"), encode(tokenizer, texts[0])])
    for seed in range(30):
        out = fim(sample, np.random.default_rng(seed))
        assert int(np.sum(out == FILENAME)) == 1
        assert "<filename>" not in decode(tokenizer, out[out != FILENAME])


def test_split_sample_rearranges_each_fragment(tokenizer, texts):
    fim = transform(tokenizer, rate=1.0, spm_rate=0.0, split_sample="<filename>", fragment_rate=1.0)
    files = texts[:3]
    sample = np.concatenate([[FILENAME], encode_per_char(tokenizer, files[0]), [FILENAME],
                             encode_per_char(tokenizer, files[1]), [FILENAME], encode_per_char(tokenizer, files[2])])
    out = fim(sample, np.random.default_rng(5))
    assert out.shape == sample.shape and sentinel_count(out) == [3, 3, 3]
    seps = np.flatnonzero(out == FILENAME)
    assert seps.shape[0] == 3 and seps[0] == 0
    for i, piece in enumerate(np.split(out, seps)[1:]):
        prefix, middle, suffix = split_psm(piece[1:])
        middle = middle[middle != PAD]
        assert decode(tokenizer, prefix) + decode(tokenizer, middle) + decode(tokenizer, suffix) == files[i]


def test_split_sample_without_the_token_uses_rate(tokenizer, texts):
    fim = transform(tokenizer, rate=1.0, split_sample="<filename>", fragment_rate=0.0)
    out = fim(encode(tokenizer, texts[0]), np.random.default_rng(0))
    assert sentinel_count(out) == [1, 1, 1]


def test_no_prefix_documents_left_alone(tokenizer, texts):
    fim = transform(tokenizer, rate=1.0, no_prefix='"""A lexical')
    shlex_doc = next(t for t in texts if t.startswith('"""A lexical'))
    exempt = encode(tokenizer, shlex_doc)[:150]
    other = encode(tokenizer, texts[0])[:150]
    out = fim(np.concatenate([exempt, [EOD], other]), np.random.default_rng(0))
    assert np.array_equal(out[:150], exempt) and out[150] == EOD and out[151] == PREFIX


def test_same_seed_same_output(tokenizer, texts):
    fim = transform(tokenizer)
    samples = [encode(tokenizer, t)[:300] for t in texts[:40]]
    runs = []
    for seed in (99, 99, 100):
        rng = np.random.default_rng(seed)
        runs.append([fim(s, rng) for s in samples])
    first, again, other = runs
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_tokenizer_without_fim_pad_is_refused():
    tok = Tokenizer(models.BPE())
    tok.add_special_tokens(["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>"])
    with pytest.raises(PretrainError, match="no '<fim_pad>' token"):
        FimTransform(FimConfig(), tok)


def test_unknown_split_token_is_refused(tokenizer):
    with pytest.raises(PretrainError, match="'<file_sep>'.*fim.split_sample"):
        FimTransform(FimConfig(split_sample="<file_sep>"), tokenizer)


@pytest.mark.parametrize("key", ["rate", "spm_rate", "fragment_rate"])
def test_rate_outside_unit_interval_names_the_key(key):
    with pytest.raises(ConfigError, match=f"fim.{key} = 1.5"):
        FimConfig(**{key: 1.5})
    with pytest.raises(ConfigError, match=f"fim.{key} = -0.1"):
        load_config(FimConfig, overrides=[f"{key}=-0.1"])
