"""The generation backend protocol: what `eval/generate.py` needs of an inference engine, and the
pieces every backend shares (the harness's tokenizer setup, the model-directory checks, cutting
token ids at a stop word). `eval/hf_backend.py` (transformers) and `eval/vllm_backend.py` (vLLM)
implement `GenerationBackend`; `eval.generate.load_backend` is the one place a backend is chosen.
A module of its own so that the backends import it and not the driver that loads them (no cycle
`generate <-> vllm_backend`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from starforge.errors import EvalError, FormatError
from starforge.formats.hf_model import check_weights

PRECISIONS = ("fp32", "fp16", "bf16")


@dataclass
class SamplingParams:
    do_sample: bool = True
    temperature: float = 0.2
    top_p: float = 0.95
    top_k: int = 0
    max_length_generation: int = 512
    seed: int = 0


class GenerationBackend(Protocol):
    """What `generate` needs of an inference engine."""

    tokenizer: Any
    """The model's transformers tokenizer: prompts are measured and every output decoded with it."""
    eos_token: str | None
    """EOS text, added to the stop words (the harness does)."""
    schedules_prompts: bool
    """True when the engine batches any number of prompts itself (vLLM's continuous batching):
    `generate` then passes every prompt in one call; otherwise `prompt_batch_size` at a time."""

    def set_seed(self, seed: int) -> None: ...

    def generate_ids(self, prompts: Sequence[str], num_return_sequences: int, stop_words: Sequence[str],
                     params: SamplingParams) -> list[list[list[int]]]:
        """Per prompt, `num_return_sequences` token id lists: the (left-truncated) prompt then the
        completion, no padding, at most `max_length_generation` ids."""
        ...


def check_model_dir(model_dir: str | Path, precision: str) -> Path:
    path = Path(model_dir)
    if not path.is_dir():
        raise EvalError(f"--model {model_dir}: no such directory; pass a Hugging Face model dir "
                        "(e.g. the output of `starforge pretrain export`)")
    if not (path / "config.json").is_file():
        raise EvalError(f"--model {model_dir}: no config.json there; is it a Hugging Face model dir?")
    if precision not in PRECISIONS:
        raise EvalError(f"--precision {precision!r}: choose from {', '.join(PRECISIONS)}")
    try:
        check_weights(path)
    except FormatError as exc:
        raise EvalError(f"--model {model_dir}: {exc}") from None
    return path


def load_tokenizer(path: Path, model_dir: str | Path):
    """The harness's tokenizer setup: truncation on the left (keep the end of a long prompt),
    padding on the right, EOS falling back to BOS, pad = EOS."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(path, truncation_side="left", padding_side="right")
    except (OSError, ValueError) as exc:
        raise EvalError(f"--model {model_dir}: cannot load the tokenizer ({exc})") from None
    if not tok.eos_token:
        if not tok.bos_token:
            raise EvalError(f"--model {model_dir}: the tokenizer has neither an EOS nor a BOS token")
        tok.eos_token = tok.bos_token  # as the harness does
    tok.pad_token = tok.eos_token
    return tok


def trim_at_stop(tokenizer, row: list[int], prompt_len: int, stop_words: Sequence[str]) -> list[int]:
    """`row` up to the token that first ends generation: the one completing a stop word in the
    decoded completion (the stopping rule above) or the EOS id. transformers keeps generating
    (and padding with EOS) until every sequence of a call is done, vLLM stops each sequence at
    once: cut the same way, the two give comparable ids. Both conditions only grow with the
    prefix, so a binary search needs ~log2(length) decodes."""
    eos = tokenizer.eos_token_id

    def done(end: int) -> bool:
        completion = row[prompt_len:end]
        return (eos is not None and eos in completion) or any(
            word in tokenizer.decode(completion) for word in stop_words)

    if len(row) <= prompt_len or not done(len(row)):
        return row
    lo, hi = prompt_len + 1, len(row)  # the shortest prefix that is done lies in [lo, hi]
    while lo < hi:
        mid = (lo + hi) // 2
        if done(mid):
            hi = mid
        else:
            lo = mid + 1
    return row[:lo]


