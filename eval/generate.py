"""Sampling completions from a causal LM, the way bigcode-evaluation-harness does it, through
one backend protocol (`eval/backend.py`; transformers in `eval/hf_backend.py`, vLLM in
`eval/vllm_backend.py`).

Matches `bigcode_eval/generation.py` and `bigcode_eval/utils.py`:
- prompts are `prefix + task prompt`, tokenized with left truncation to `max_length_generation`;
- `batch_size` is the number of sequences sampled per call for *one* prompt
  (`num_return_sequences`), repeated `ceil(n_samples / batch_size)` times and cut to `n_samples`;
- `max_length_generation` is the total length, prompt included (`max_length`);
- generation stops when every sequence of the call contains a stop word (the task's plus the
  tokenizer's EOS text) after the prompt;
- outputs are decoded with special tokens kept (EOS is a stop word), a leading BOS dropped,
  the prefix removed, then cut by the task's post-processing;
- one seed is set before all generation (`set_seed(seed)`), so a run is reproducible.

A backend returns token ids (prompt included) and exposes the Hugging Face tokenizer of the
model; `generate` decodes every backend's ids the same way here, so two backends that pick the
same tokens give the same texts, the same post-processed completions and the same scores.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eval.backend import GenerationBackend, SamplingParams, trim_at_stop
from eval.hf_backend import HFBackend
from starforge.errors import EvalError

__all__ = ["BACKENDS", "GenerationBackend", "HFBackend", "SamplingParams", "decode", "generate", "load_backend",
           "trim_at_stop"]

log = logging.getLogger(__name__)

BACKENDS = ("hf", "vllm")


def load_backend(name: str, model_dir: str | Path, precision: str = "fp32", device: str = "auto",
                 **engine: Any) -> GenerationBackend:
    """The one place a backend is chosen: `hf` (transformers) or `vllm` (`engine`: its knobs)."""
    if name == "hf":
        return HFBackend(model_dir, precision, device)
    if name == "vllm":
        from eval.vllm_backend import VLLMBackend

        return VLLMBackend(model_dir, precision, device, **engine)
    raise EvalError(f"--backend {name!r}: choose from {', '.join(BACKENDS)}")


def decode(tokenizer, row: list[int]) -> str:
    """The harness's decoding: special tokens kept (EOS is a stop word), a leading BOS dropped."""
    if tokenizer.bos_token_id is not None and row and row[0] == tokenizer.bos_token_id:
        row = row[1:]
    return tokenizer.decode(row, skip_special_tokens=False, clean_up_tokenization_spaces=False)


def generate(backend: GenerationBackend, prompts: Sequence[str], postprocess: Callable[[str, int, tuple], str],
             stop_words: Sequence[str], n_samples: int, batch_size: int, params: SamplingParams,
             prefix: str = "", on_problem: Callable[[int], None] | None = None,
             prompt_batch_size: int = 1) -> tuple[list[list[str]], dict]:
    """Generations per prompt (the harness's JSON layout) and timing stats.

    `postprocess(text, index, extra_stop_words)` is the task's cut; `None` returns raw text.
    """
    if n_samples < 1 or batch_size < 1 or prompt_batch_size < 1:
        raise EvalError(f"--n_samples ({n_samples}), --batch_size ({batch_size}) and --prompt_batch_size "
                        f"({prompt_batch_size}) must be at least 1")
    stops = tuple(stop_words) + ((backend.eos_token,) if backend.eos_token and stop_words else ())
    extra = (backend.eos_token,) if backend.eos_token and stop_words else ()
    backend.set_seed(params.seed)
    copies = math.ceil(n_samples / batch_size)
    group_size = len(prompts) if backend.schedules_prompts else prompt_batch_size
    started = time.monotonic()
    out: list[list[str]] = []
    new_tokens = 0
    for first in range(0, len(prompts), max(group_size, 1)):
        group = [prefix + p for p in prompts[first:first + group_size]]
        lengths = [len(ids) for ids in backend.tokenizer(group, truncation=True,
                                                         max_length=params.max_length_generation).input_ids]
        raws: list[list[str]] = [[] for _ in group]
        for _ in range(copies):
            for raw, rows, length in zip(raws, backend.generate_ids(group, batch_size, stops, params), lengths):
                raw.extend(decode(backend.tokenizer, row) for row in rows)
                new_tokens += sum(len(row) - length for row in rows)
        for offset, raw in enumerate(raws):
            index = first + offset
            out.append([postprocess(t[len(prefix):], index, extra) for t in raw[:n_samples]])
            if on_problem:
                on_problem(index)
    seconds = time.monotonic() - started
    samples = len(prompts) * n_samples
    stats = {"generation_seconds": round(seconds, 3), "samples": samples,
             "samples_per_second": round(samples / seconds, 3) if seconds > 0 else None,
             "new_tokens": new_tokens, "tokens_per_second": round(new_tokens / seconds, 1) if seconds > 0 else None}
    return out, stats
