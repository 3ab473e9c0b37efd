"""Shared eval fixtures: a real tiny GPTBigCode model dir (the sandbox and HumanEval are in tests/conftest.py)."""

from __future__ import annotations

import pytest


def build_tiny_model(out_dir, hidden: int = 64, layers: int = 2, heads: int = 4, vocab: int = 600,
                     positions: int = 1024, seed: int = 0):
    """A random-weight GPTBigCodeForCausalLM with a byte-level BPE trained on HumanEval prompts,
    saved as a Hugging Face dir (what `starforge pretrain export` writes)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPTBigCodeConfig, GPTBigCodeForCausalLM, PreTrainedTokenizerFast

    from eval.tasks.humaneval import load_human_eval_problems

    texts = [p.prompt + p.canonical_solution for p in load_human_eval_problems()]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                                   unk_token="<|endoftext|>", model_max_length=positions)
    torch.manual_seed(seed)
    cfg = GPTBigCodeConfig(vocab_size=tok.get_vocab_size(), n_positions=positions, n_embd=hidden,
                           n_layer=layers, n_head=heads, multi_query=True,
                           bos_token_id=0, eos_token_id=0)
    model = GPTBigCodeForCausalLM(cfg)
    model.save_pretrained(out_dir)
    fast.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny_gptbigcode"))


@pytest.fixture(scope="session")
def tiny_fim_model_dir(tmp_path_factory, tiny_model_dir):
    """The tiny model with StarCoder's FIM sentinels added as special tokens (as our tokenizer has
    them), its embeddings resized: a copy, so the plain tiny model stays as it is."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path_factory.mktemp("tiny_fim")
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.add_special_tokens({"additional_special_tokens": ["<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<file_sep>"]})
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model.resize_token_embeddings(len(tok))
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out
