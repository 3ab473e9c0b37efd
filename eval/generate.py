"""Sampling completions from a causal LM, the way bigcode-evaluation-harness does it, through
one backend protocol (transformers here, vLLM in `eval/vllm_backend.py`).

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from starforge.errors import EvalError

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "bf16")
BACKENDS = ("hf", "vllm")


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


def load_backend(name: str, model_dir: str | Path, precision: str = "fp32", device: str = "auto",
                 **engine: Any) -> GenerationBackend:
    """The one place a backend is chosen: `hf` (transformers) or `vllm` (`engine`: its knobs)."""
    if name == "hf":
        return HFBackend(model_dir, precision, device)
    if name == "vllm":
        from eval.vllm_backend import VLLMBackend

        return VLLMBackend(model_dir, precision, device, **engine)
    raise EvalError(f"--backend {name!r}: choose from {', '.join(BACKENDS)}")


class HFBackend:
    """transformers `AutoModelForCausalLM` + `AutoTokenizer` from a local directory."""

    schedules_prompts = False

    def __init__(self, model_dir: str | Path, precision: str = "fp32", device: str = "auto"):
        import torch
        from transformers import AutoModelForCausalLM

        path = check_model_dir(model_dir, precision)
        dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.tokenizer = load_tokenizer(path, model_dir)
        try:
            self.model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device).eval()
        except (OSError, ValueError) as exc:
            raise EvalError(f"--model {model_dir}: cannot load model ({exc})") from None
        self.eos_token = self.tokenizer.eos_token
        config = self.model.config
        self.max_positions = getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)
        self._torch = torch

    def set_seed(self, seed: int) -> None:
        from transformers import set_seed

        set_seed(seed)

    def generate_ids(self, prompts: Sequence[str], num_return_sequences: int, stop_words: Sequence[str],
                     params: SamplingParams) -> list[list[list[int]]]:
        """One prompt: the harness's call, unpadded. Several: one call, left-padded with an
        attention mask (our speed-up: texts match in distribution, not token for token, when
        sampling; greedy outputs are the same)."""
        torch = self._torch
        tok = self.tokenizer
        batched = len(prompts) > 1
        if batched:
            side, tok.padding_side = tok.padding_side, "left"
        try:
            enc = tok(list(prompts), padding=batched, truncation=True, max_length=params.max_length_generation,
                      return_tensors="pt")
        finally:
            if batched:
                tok.padding_side = side
        input_ids = enc.input_ids.to(self.device)  # (prompts, width), left-padded when batched
        mask = enc.attention_mask.to(self.device)
        width = input_ids.shape[1]
        # Each prompt's own budget, max_length_generation minus its length (the harness's
        # per-prompt max_length); a batch runs to the largest and each row stops at its own.
        lengths = mask.sum(dim=1).tolist()
        budgets = [params.max_length_generation - n for n in lengths]
        if batched and self.max_positions and max(lengths) + max(budgets) > self.max_positions:
            # Rows keep advancing positions after they finish: the longest prompt would run past
            # the position table. Split by length (shorter and longer half) until each part fits.
            order = sorted(range(len(prompts)), key=lambda i: lengths[i])
            out: dict[int, list[list[int]]] = {}
            for part in (order[: len(order) // 2], order[len(order) // 2:]):
                for i, rows in zip(part, self.generate_ids([prompts[i] for i in part], num_return_sequences,
                                                           stop_words, params)):
                    out[i] = rows
            return [out[i] for i in range(len(prompts))]
        if max(budgets) <= 0:
            # the harness returns the prompt itself when it already fills max_length
            sequences = input_ids.repeat_interleave(num_return_sequences, dim=0)
        else:
            rows_budget = [b for b in budgets for _ in range(num_return_sequences)]
            kwargs = {"do_sample": params.do_sample, "max_length": width + max(budgets),
                      "num_return_sequences": num_return_sequences, "pad_token_id": tok.pad_token_id,
                      "attention_mask": mask,
                      "stopping_criteria": _stop_criteria(tok, width, stop_words, rows_budget if batched else None)}
            if params.do_sample:
                kwargs.update(temperature=params.temperature, top_p=params.top_p, top_k=params.top_k)
            with torch.no_grad():
                sequences = self.model.generate(input_ids=input_ids, **kwargs)
        pads = (1 - mask).sum(dim=1).repeat_interleave(num_return_sequences).tolist()
        result: list[list[list[int]]] = [[] for _ in prompts]
        for i, row in enumerate(sequences.tolist()):
            row = row[pads[i]:][:params.max_length_generation]  # right padding: `trim_at_stop` drops it
            result[i // num_return_sequences].append(trim_at_stop(tok, row, width - pads[i], stop_words))
        return result


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


def _stop_criteria(tokenizer, start: int, stop_words: Sequence[str], budgets: Sequence[int] | None = None):
    """EndOfFunctionCriteria of the harness: done once every sequence has a stop word after the
    prompt. With `budgets` (new tokens per row) each sequence is marked finished on its own, by a
    stop word or its budget (it is then padded), which lets a batch of different prompts finish
    together."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class StopWordsCriteria(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):  # input_ids: (batch, length)
            texts = tokenizer.batch_decode(input_ids[:, start:])
            flags = [any(word in text for word in stop_words) for text in texts]
            if budgets is not None:
                made = input_ids.shape[1] - start
                flags = [f or made >= b for f, b in zip(flags, budgets)]
                return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)
            return torch.full((input_ids.shape[0],), all(flags), dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([StopWordsCriteria()])


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
