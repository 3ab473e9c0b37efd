"""The tokenizer's identity as stored beside data: the fingerprint is the same whichever
library loads the folder (shards are written with `tokenizers`, export and eval read
transformers' `AutoTokenizer`), and a folder's EOS is the one its tokenizer_config.json names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from starforge.errors import FormatError
from starforge.formats.tokenizer import EOD, eos_token_of, fingerprint_of, tokenizer_fingerprint
from tests.pretrain.conftest import python_texts, write_tokenizer


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    return write_tokenizer(tmp_path_factory.mktemp("tok") / "tok", python_texts(), vocab_size=400)


def test_fingerprint_is_the_same_from_tokenizers_and_autotokenizer(tokenizer_dir: Path):
    from transformers import AutoTokenizer

    assert tokenizer_fingerprint(AutoTokenizer.from_pretrained(str(tokenizer_dir))) == fingerprint_of(tokenizer_dir)
    assert fingerprint_of(tokenizer_dir) == fingerprint_of(tokenizer_dir / "tokenizer.json")


def test_eos_comes_from_tokenizer_config_in_either_spelling(tmp_path: Path, tokenizer_dir: Path):
    assert eos_token_of(tokenizer_dir) == EOD
    assert eos_token_of(tmp_path) == EOD  # no tokenizer_config.json: ours
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"eos_token": {"content": "</s>", "special": True}}))
    assert eos_token_of(tmp_path) == "</s>"
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"eos_token": "<|end|>"}))
    assert eos_token_of(tmp_path) == "<|end|>"


def test_corrupt_tokenizer_config_is_one_line_error_naming_it(tmp_path: Path):
    (tmp_path / "tokenizer_config.json").write_text("{broken")
    with pytest.raises(FormatError) as info:
        eos_token_of(tmp_path)
    assert str(info.value).startswith(f"{tmp_path / 'tokenizer_config.json'}: not a tokenizer_config.json")
    assert len(str(info.value).splitlines()) == 1
