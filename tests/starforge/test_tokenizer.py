"""The tokenizer folder as every stage loads it, on a tokenizer trained by our trainer
(`starforge data train-tokenizer` on kept records written by the data chain's writer)."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import pytest
from datatrove.data import Document
from tokenizers import Tokenizer, models

from starforge.errors import FormatError
from starforge.formats.records import records_writer
from starforge.formats.tokenizer import (
    COMMIT_TOKENS,
    EOD,
    FIM_MIDDLE,
    FIM_PAD,
    FIM_PREFIX,
    FIM_SUFFIX,
    SPECIAL_TOKENS,
    encode_text,
    load_tokenizer,
    tokenizer_fingerprint,
)

STDLIB = Path(sysconfig.get_paths()["stdlib"])
FILES = ("textwrap.py", "shlex.py", "fnmatch.py", "colorsys.py", "bisect.py")
FORGERY = 'SENTINEL = "<fim_prefix>"  # and <|endoftext|>, <commit_msg>\n'


def _train(out: Path, vocab_size: int) -> Path:
    from data_pipeline.tokenize.train import TrainTokenizerConfig, train_tokenizer

    kept = out.parent / f"kept_{out.name}"
    docs = [Document(text=(STDLIB / n).read_text(encoding="utf-8"), id=n, metadata={"repo": "cpython", "path": n})
            for n in FILES]
    list(records_writer(kept).run(iter(docs), rank=0, world_size=1))
    train_tokenizer(TrainTokenizerConfig(input=kept, output=out, vocab_size=vocab_size))
    return out


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    return _train(tmp_path_factory.mktemp("tok") / "tok", 400)


def test_specials_at_starcoder_ids_and_named_constants_agree(tokenizer_dir: Path):
    tok = load_tokenizer(tokenizer_dir)
    assert [tok.id_to_token(i) for i in range(len(SPECIAL_TOKENS))] == list(SPECIAL_TOKENS)
    assert [tok.token_to_id(t) for t in (EOD, FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, FIM_PAD)] == [0, 1, 2, 3, 4]
    assert [tok.token_to_id(t) for t in COMMIT_TOKENS] == [15, 16, 17]


@pytest.mark.parametrize("where", ["folder", "file"])
def test_loaded_tokenizer_escapes_literal_special_tokens(tokenizer_dir: Path, where: str):
    tok = load_tokenizer(tokenizer_dir if where == "folder" else tokenizer_dir / "tokenizer.json")
    ids = tok.encode(FORGERY).ids
    assert not set(ids) & set(range(len(SPECIAL_TOKENS)))
    assert tok.decode(ids, skip_special_tokens=False) == FORGERY
    raw = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))  # what the policy guards against
    assert 1 in raw.encode(FORGERY).ids


def test_encode_text_escapes_and_leaves_the_flag_as_it_was(tokenizer_dir: Path):
    raw = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    assert encode_text(raw, FORGERY) == load_tokenizer(tokenizer_dir).encode(FORGERY, add_special_tokens=False).ids
    assert raw.encode_special_tokens is False and encode_text(raw, "") == []


def test_missing_or_corrupt_tokenizer_is_one_line_error(tmp_path: Path, tokenizer_dir: Path):
    with pytest.raises(FormatError, match="no tokenizer.json; pass the tokenizer folder written by"):
        load_tokenizer(tmp_path)
    bad = tmp_path / "tokenizer.json"
    bad.write_text((tokenizer_dir / "tokenizer.json").read_text()[:500])
    with pytest.raises(FormatError, match=r"tokenizer\.json: not a tokenizer\.json \(") as info:
        load_tokenizer(tmp_path)
    assert len(str(info.value).splitlines()) == 1


def test_fingerprint_names_the_ids_and_ignores_what_does_not_change_them(tokenizer_dir: Path, tmp_path: Path):
    from transformers import AutoTokenizer

    tok = load_tokenizer(tokenizer_dir)
    fp = tokenizer_fingerprint(tok)
    assert fp["vocab_size"] == 400 and len(fp["sha256"]) == 64
    assert fp["special_ids"] == {t: i for i, t in enumerate(SPECIAL_TOKENS)}
    assert tokenizer_fingerprint(Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))) == fp  # flag off
    assert tokenizer_fingerprint(AutoTokenizer.from_pretrained(str(tokenizer_dir))) == fp  # transformers' view
    data = json.loads((tokenizer_dir / "tokenizer.json").read_text())
    assert all(isinstance(m, list) for m in data["model"]["merges"])
    data["model"]["merges"] = [" ".join(m) for m in data["model"]["merges"]]  # the older spelling
    legacy = tmp_path / "legacy.json"
    legacy.write_text(json.dumps(data, indent=4))
    assert tokenizer_fingerprint(Tokenizer.from_file(str(legacy))) == fp


def test_fingerprint_changes_with_vocabulary_merges_or_a_moved_sentinel(tokenizer_dir: Path, tmp_path: Path):
    fp = tokenizer_fingerprint(load_tokenizer(tokenizer_dir))
    assert tokenizer_fingerprint(load_tokenizer(_train(tmp_path / "small", 350)))["sha256"] != fp["sha256"]
    data = json.loads((tokenizer_dir / "tokenizer.json").read_text())
    data["model"]["merges"] = data["model"]["merges"][:-1]
    fewer = tmp_path / "fewer.json"
    fewer.write_text(json.dumps(data))
    assert tokenizer_fingerprint(Tokenizer.from_file(str(fewer)))["sha256"] != fp["sha256"]
    swapped = Tokenizer(models.BPE())
    swapped.add_special_tokens([FIM_SUFFIX, FIM_PREFIX])
    moved = tokenizer_fingerprint(swapped)
    assert moved["special_ids"] == {FIM_SUFFIX: 0, FIM_PREFIX: 1} and moved["sha256"] != fp["sha256"]
