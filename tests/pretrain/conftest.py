"""Real tiny inputs for pretrain tests: a byte-level BPE trained on stdlib Python files with
StarCoder's 19 special tokens at ids 0..18, and Megatron shards of those files written with
megatron-core's `IndexedDatasetBuilder`."""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from starforge.formats.tokenizer import SPECIAL_TOKENS

STDLIB = Path(sysconfig.get_paths()["stdlib"])
FILES = ["textwrap.py", "shlex.py", "fnmatch.py", "glob.py", "bisect.py", "heapq.py", "colorsys.py",
         "keyword.py", "getopt.py", "this.py", "stat.py", "genericpath.py", "sched.py", "queue.py"]


def python_texts(names: list[str] = FILES) -> list[str]:
    return [(STDLIB / n).read_text(encoding="utf-8") for n in names if (STDLIB / n).is_file()]


def write_tokenizer(out: Path, texts: list[str], vocab_size: int = 512) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    out.mkdir(parents=True, exist_ok=True)
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                            unk_token="<|endoftext|>",
                            additional_special_tokens=list(SPECIAL_TOKENS[1:])).save_pretrained(str(out))
    return out


def write_shards(out: Path, tokenizer_dir: Path, texts: list[str], name: str = "code") -> Path:
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    out.mkdir(parents=True, exist_ok=True)
    prefix = out / name
    builder = IndexedDatasetBuilder(f"{prefix}.bin", dtype=np.uint16)
    for text in texts:
        ids = tok.encode(text).ids + [0]  # every document ends with <|endoftext|>
        builder.add_document(np.array(ids, dtype=np.uint16), [len(ids)])
    builder.finalize(f"{prefix}.idx")
    return out


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    root = tmp_path_factory.mktemp("pretrain_corpus")
    texts = python_texts()
    tok = write_tokenizer(root / "tokenizer", texts)
    shards = write_shards(root / "shards", tok, texts)
    other = write_shards(root / "shards_b", tok, python_texts(["string.py", "copy.py", "dis.py"]), "other")
    return {"tokenizer": tok, "shards": shards, "shards_b": other}
