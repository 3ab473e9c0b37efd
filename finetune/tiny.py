"""A tiny GPTBigCode and a small BPE (digits split, StarCoder's special tokens) for the
generated problems: the model every finetune test and `bench/finetune.py` start from.

Why so small: a 49k-token vocabulary makes the output layer dominate a tiny model (FACTS), and a
~1.6M-parameter model with a ~400-token BPE learns the generated family in minutes on a CPU.
StarCoder splits digits too (its tokenizer's `Digits(individual_digits=True)`), which here lets
unseen constants be copied digit by digit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from starforge.config import load_config
from starforge.formats.tokenizer import CHAT_TOKENS, COMMIT_TOKENS, EOD, SPECIAL_TOKENS

STARCODER_SPECIAL_TOKENS = SPECIAL_TOKENS[:5] + COMMIT_TOKENS
"""StarCoder's end-of-text, FIM and commit tokens (ids 0-7 here; 0-4 and 15-17 in StarCoder's)."""


@dataclass
class TinyModelConfig:
    vocab_size: int = 400
    """BPE vocabulary including special tokens (FACTS: 400 suits the generated problems)."""
    n_layer: int = 3
    n_embd: int = 192
    n_head: int = 4
    multi_query: bool = True
    """One shared key/value head, as StarCoder."""
    n_positions: int = 256
    seed: int = 0


def load_tiny_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> TinyModelConfig:
    return load_config(TinyModelConfig, path, overrides)


def train_tokenizer(texts: Iterable[str], vocab_size: int):
    """Byte-level BPE with single digits, wrapped as a `PreTrainedTokenizerFast`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    specials = list(STARCODER_SPECIAL_TOKENS + CHAT_TOKENS)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(texts), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOD, bos_token=EOD, unk_token=EOD, pad_token=EOD,
                                   additional_special_tokens=specials[1:])
    return fast


def make_tiny_model(output_dir: str | Path, texts: Iterable[str], cfg: TinyModelConfig | None = None) -> Path:
    """Write a randomly initialised GPTBigCode + tokenizer as a Hugging Face directory."""
    import torch
    from transformers import GPTBigCodeConfig, GPTBigCodeForCausalLM

    cfg = cfg or TinyModelConfig()
    out = Path(output_dir)
    tokenizer = train_tokenizer(texts, cfg.vocab_size)
    torch.manual_seed(cfg.seed)
    config = GPTBigCodeConfig(vocab_size=len(tokenizer), n_positions=cfg.n_positions, n_embd=cfg.n_embd,
                              n_layer=cfg.n_layer, n_head=cfg.n_head, multi_query=cfg.multi_query,
                              bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                              pad_token_id=tokenizer.pad_token_id, resid_pdrop=0.0, embd_pdrop=0.0,
                              attn_pdrop=0.0)
    model = GPTBigCodeForCausalLM(config)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
