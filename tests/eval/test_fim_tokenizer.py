"""FIM prompts with the tokenizer a starforge model is trained with: `save_tokenizer`'s folder
stores `split_special_tokens: true` (the escaping policy), under which the prompt's sentinels
would be tokenized as text; the FIM tasks parse them, and check that the model folder's tokenizer
has them and is the one export recorded (`export_report.json` `tokenizer_fingerprint`)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from eval.generate import HFBackend, SamplingParams
from eval.tasks import get_task
from starforge.errors import EvalError
from starforge.formats.tokenizer import FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX, SPECIAL_TOKENS, save_tokenizer
from tests.eval.test_infilling import infilling_records


def _our_model(out: Path, vocab: int = 500) -> Path:
    """A random tiny GPTBigCode with a tokenizer trained and saved as `data train-tokenizer` does."""
    import torch
    from tokenizers import pre_tokenizers, trainers
    from transformers import GPTBigCodeConfig, GPTBigCodeForCausalLM

    from data_pipeline.tokenize.train import build_tokenizer
    from eval.tasks.humaneval import load_human_eval_problems

    tok = build_tokenizer()
    tok.train_from_iterator([p.prompt + p.canonical_solution for p in load_human_eval_problems()],
                            trainers.BpeTrainer(vocab_size=vocab, special_tokens=list(SPECIAL_TOKENS),
                                                initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                show_progress=False))
    out.mkdir(parents=True)
    save_tokenizer(tok, out, 1024)
    torch.manual_seed(0)
    GPTBigCodeForCausalLM(GPTBigCodeConfig(vocab_size=tok.get_vocab_size(), n_positions=1024, n_embd=64, n_layer=2,
                                           n_head=4, bos_token_id=0, eos_token_id=0)).save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return _our_model(tmp_path_factory.mktemp("ours") / "hf")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("infilling") / "data"
    root.mkdir()
    with gzip.open(root / "HumanEval-SingleLineInfilling.jsonl.gz", "wt", encoding="utf-8") as fh:
        for rec in infilling_records("SingleLine", problems=2):
            fh.write(json.dumps(rec) + "\n")
    return root


def test_sentinels_reach_the_model_as_their_ids(model_dir, data_dir):
    backend = HFBackend(model_dir, device="cpu")
    tok = backend.tokenizer
    task = get_task("humaneval-infilling-single-line", str(data_dir))
    prompt = task.prompt(task.problems()[0])
    sentinels = {tok.convert_tokens_to_ids(t) for t in (FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE)}
    assert sentinels == {1, 2, 3}
    assert not sentinels & set(tok(prompt).input_ids)  # the bug: split into pieces as plain text
    with task.prompt_tokenization(tok):
        ids = tok(prompt).input_ids
        rows = backend.generate_ids([prompt], 1, ["\n"], SamplingParams(do_sample=False,
                                                                       max_length_generation=len(ids) + 4))
    assert ids[0] == 1 and ids[-1] == 2 and 3 in ids
    assert rows[0][0][:len(ids)] == ids  # what generation fed the model
    assert tok.split_special_tokens  # restored: other tasks' prompts stay text
    assert tok.decode(ids, skip_special_tokens=False) == prompt


def test_a_tokenizer_without_the_sentinels_is_refused(tmp_path, data_dir):
    from transformers import AutoTokenizer

    from tests.eval.conftest import build_tiny_model

    tok = AutoTokenizer.from_pretrained(build_tiny_model(tmp_path / "plain", vocab=300))  # no FIM tokens
    task = get_task("humaneval-infilling-single-line", str(data_dir))
    with pytest.raises(EvalError, match=r"has no <fim_prefix> token"):
        with task.prompt_tokenization(tok):
            pass


def test_a_tokenizer_other_than_the_exported_one_is_refused_through_the_cli(tmp_path, model_dir, data_dir):
    import shutil

    moved = shutil.copytree(model_dir, tmp_path / "hf")
    recorded = {"sha256": "0" * 64, "vocab_size": 500, "special_ids": {FIM_PREFIX: 1}}
    (moved / "export_report.json").write_text(json.dumps({"max_abs_diff": 0.0, "tokenizer_fingerprint": recorded}))
    proc = subprocess.run([sys.executable, "-m", "starforge", "eval", "--model", str(moved), "--tasks",
                           "humaneval-infilling-single-line", "--load_data_path", str(data_dir), "--limit", "1",
                           "--n_samples", "1", "--batch_size", "1", "--max_length_generation", "200",
                           "--generation_only", "--device", "cpu", "--save_generations_path",
                           str(tmp_path / "g.json")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr
    assert "but the model was trained with sha256 000000000000 (vocab 500" in errors[0]
