"""Perplexity on a real Megatron shard (megatron-core's builder) of HumanEval solutions tokenized
with the tiny model's own tokenizer, checked against one full-context forward pass."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from eval.config import EvalConfig
from eval.evaluate import evaluate
from eval.tasks.humaneval import load_human_eval_problems
from starforge.cli import main as starforge_main


def write_shard(prefix, docs, dtype=np.uint16):
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    builder = IndexedDatasetBuilder(f"{prefix}.bin", dtype=dtype)
    for ids in docs:
        builder.add_document(torch.tensor(ids, dtype=torch.int64), [len(ids)])
    builder.finalize(f"{prefix}.idx")
    return prefix


@pytest.fixture(scope="module")
def held_out(tmp_path_factory, tiny_model_dir):
    """Six documents as `starforge data tokenize` writes them: tokens then the EOS id."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    docs = [tok(p.prompt + p.canonical_solution).input_ids + [tok.eos_token_id]
            for p in load_human_eval_problems()[100:106]]
    return write_shard(tmp_path_factory.mktemp("shard") / "heldout_tokens", docs), docs


def full_context_nll(model_dir, docs):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    total, count = 0.0, 0
    for ids in docs:
        x = torch.tensor([ids])
        with torch.no_grad():
            loss = model(input_ids=x, labels=x).loss  # mean over len - 1 predictions
        total += float(loss) * (len(ids) - 1)
        count += len(ids) - 1
    return total, count


def _run(tmp_path, model_dir, prefix, **kw) -> dict:
    out = evaluate(EvalConfig(model=str(model_dir), tasks="perplexity", load_data_path=str(prefix), device="cpu",
                              metric_output_path=str(tmp_path / "m.json"), **kw))
    return out["metrics"]["perplexity"]


def test_window_over_whole_documents_equals_full_context(tmp_path, tiny_model_dir, held_out):
    prefix, docs = held_out
    total, count = full_context_nll(tiny_model_dir, docs)
    metrics = _run(tmp_path, tiny_model_dir, prefix, max_length_generation=1024)
    assert metrics["tokens"] == count and metrics["documents"] == 6
    assert metrics["nll"] == pytest.approx(total / count, rel=1e-4)
    assert metrics["ppl"] == pytest.approx(math.exp(total / count), rel=1e-4)
    saved = json.loads((tmp_path / "m.json").read_text())
    assert set(saved["perplexity"]) == {"ppl", "nll", "tokens", "documents"}
    rows = [json.loads(line) for line in (tmp_path / "m_perplexity_problems.jsonl").open()]
    assert [r["tokens"] for r in rows] == [len(d) - 1 for d in docs]


def test_strided_windows_score_every_token_once(tmp_path, tiny_model_dir, held_out):
    prefix, docs = held_out
    assert max(len(d) for d in docs) > 64  # the window below really slides
    full = _run(tmp_path, tiny_model_dir, prefix, max_length_generation=1024)
    strided = _run(tmp_path, tiny_model_dir, prefix, max_length_generation=64, perplexity_stride=16)
    assert strided["tokens"] == full["tokens"]
    assert strided["nll"] == pytest.approx(full["nll"], rel=0.2)  # less context, close but not equal
    assert strided["nll"] != pytest.approx(full["nll"], rel=1e-6)


def test_limit_counts_documents(tmp_path, tiny_model_dir, held_out):
    prefix, docs = held_out
    metrics = _run(tmp_path, tiny_model_dir, prefix, limit=2, max_length_generation=1024)
    assert metrics["documents"] == 2 and metrics["tokens"] == len(docs[0]) + len(docs[1]) - 2


def test_ids_from_another_tokenizer_are_one_line_error(tmp_path, tiny_model_dir, capsys):
    prefix = write_shard(tmp_path / "big_vocab", [[5, 60000, 7]])
    rc = starforge_main(["eval", "--tasks", "perplexity", "--model", str(tiny_model_dir), "--device", "cpu",
                         "--load_data_path", str(prefix), "--metric_output_path", str(tmp_path / "m.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "vocabulary" in err and err.strip().splitlines()[-1].startswith("error: perplexity:")


def test_missing_shard_says_how_to_provide_it(tmp_path, capsys):
    rc = starforge_main(["eval", "--tasks", "perplexity", "--model", "m", "--load_data_path", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "PREFIX.bin + PREFIX.idx" in err
