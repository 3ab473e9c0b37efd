"""Token counts for the funnel: code units without a tokenizer, a tokenizer's own count with one."""

from __future__ import annotations

from pathlib import Path

from datatrove.data import Document

from data_pipeline.token_count import TokenCount
from tests.data_pipeline.conftest import STDLIB


def test_code_units_without_a_tokenizer():
    step = TokenCount()
    assert step.count(["def f(x): return x+1", "", "名前 = 'é'"]) == [10, 0, 6]  # a non-ASCII letter is one unit


def test_ascii_fast_path_counts_what_the_regex_counts():
    from data_pipeline.token_count import CODE_TOKEN, code_units

    texts = [p.read_text(errors="replace") for p in sorted(STDLIB.glob("*.py"))]  # a few are not ASCII
    texts += ["名前 = 'é'\u2003x", "x", " x", "x ", "a\x1cb\x1f_c", "\t\n\x0b\x0c\r \x7f~", "", "  ", "9lives=+ -"]
    assert any(not t.isascii() for t in texts) and any(t.isascii() for t in texts)
    assert [code_units(t) for t in texts] == [len(CODE_TOKEN.findall(t)) for t in texts]


def test_counts_once_and_keeps_an_existing_count():
    docs = [Document(text="a b c", id="1"), Document(text="x", id="2", metadata={"tokens": 7})]
    out = list(TokenCount(batch_size=1).run(iter(docs)))
    assert [d.id for d in out] == ["1", "2"] and [d.metadata["tokens"] for d in out] == [3, 7]


def test_a_tokenizer_json_counts_its_own_tokens(tmp_path: Path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    texts = [(STDLIB / name).read_text() for name in ("textwrap.py", "shlex.py", "fnmatch.py")]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    counts = TokenCount(str(path)).count(texts)
    assert counts == [len(tok.encode(t).ids) for t in texts]
    assert counts != TokenCount().count(texts)
