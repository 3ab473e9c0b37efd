"""Sampling completions from a causal LM, the way bigcode-evaluation-harness does it.

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

A backend is anything with `generate_for_prompt`; `HFBackend` wraps transformers. A vLLM
backend would implement the same method.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from starforge.errors import EvalError

log = logging.getLogger(__name__)

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
    eos_token: str | None

    def generate_for_prompt(self, prompt: str, num_return_sequences: int, stop_words: Sequence[str],
                            params: SamplingParams) -> list[str]:
        """`num_return_sequences` decoded texts for one prompt, prompt included."""
        ...

    def set_seed(self, seed: int) -> None: ...


class HFBackend:
    """transformers `AutoModelForCausalLM` + `AutoTokenizer` from a local directory."""

    def __init__(self, model_dir: str | Path, precision: str = "fp32", device: str = "auto"):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(model_dir)
        if not path.is_dir():
            raise EvalError(f"--model {model_dir}: no such directory; pass a Hugging Face model dir "
                            "(e.g. the output of `starforge pretrain export`)")
        if not (path / "config.json").is_file():
            raise EvalError(f"--model {model_dir}: no config.json there; is it a Hugging Face model dir?")
        if precision not in PRECISIONS:
            raise EvalError(f"--precision {precision!r}: choose from {', '.join(PRECISIONS)}")
        dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        try:
            # harness: truncation on the left (keep the end of a long prompt), padding on the right
            self.tokenizer = AutoTokenizer.from_pretrained(path, truncation_side="left", padding_side="right")
            self.model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device).eval()
        except (OSError, ValueError) as exc:
            raise EvalError(f"--model {model_dir}: cannot load model or tokenizer ({exc})") from None
        tok = self.tokenizer
        if not tok.eos_token:
            if not tok.bos_token:
                raise EvalError(f"--model {model_dir}: the tokenizer has neither an EOS nor a BOS token")
            tok.eos_token = tok.bos_token  # as the harness does
        tok.pad_token = tok.eos_token
        self.eos_token = tok.eos_token
        self._torch = torch

    def set_seed(self, seed: int) -> None:
        from transformers import set_seed

        set_seed(seed)

    def generate_for_prompt(self, prompt: str, num_return_sequences: int, stop_words: Sequence[str],
                            params: SamplingParams) -> list[str]:
        tok = self.tokenizer
        texts = []
        for row in self.generate_ids(prompt, num_return_sequences, stop_words, params).tolist():
            if tok.bos_token_id is not None and row and row[0] == tok.bos_token_id:
                row = row[1:]
            texts.append(tok.decode(row, skip_special_tokens=False, clean_up_tokenization_spaces=False))
        return texts

    def generate_ids(self, prompt: str, num_return_sequences: int, stop_words: Sequence[str],
                     params: SamplingParams):
        """Token ids (num_return_sequences, <= max_length_generation), prompt included."""
        torch = self._torch
        tok = self.tokenizer
        enc = tok([prompt], truncation=True, max_length=params.max_length_generation, return_tensors="pt")
        input_ids = enc.input_ids.to(self.device)  # (1, prompt_len)
        start = input_ids.shape[1]
        if start >= params.max_length_generation:
            # the harness returns the prompt itself when it already fills max_length
            sequences = input_ids.repeat(num_return_sequences, 1)
        else:
            kwargs = {"do_sample": params.do_sample, "max_length": params.max_length_generation,
                      "num_return_sequences": num_return_sequences, "pad_token_id": tok.pad_token_id,
                      "attention_mask": enc.attention_mask.to(self.device),
                      "stopping_criteria": _stop_criteria(tok, start, stop_words)}
            if params.do_sample:
                kwargs.update(temperature=params.temperature, top_p=params.top_p, top_k=params.top_k)
            with torch.no_grad():
                sequences = self.model.generate(input_ids=input_ids, **kwargs)
        return sequences


    def generate_many(self, prompts: Sequence[str], num_return_sequences: int, stop_words: Sequence[str],
                      params: SamplingParams) -> list[list[str]]:
        """Several prompts in one call, left-padded with an attention mask (our speed-up, not
        the harness's loop: texts match in distribution, not token for token)."""
        torch = self._torch
        tok = self.tokenizer
        side = tok.padding_side
        tok.padding_side = "left"
        try:
            enc = tok(list(prompts), padding=True, truncation=True, max_length=params.max_length_generation,
                      return_tensors="pt")
        finally:
            tok.padding_side = side
        input_ids = enc.input_ids.to(self.device)  # (prompts, width), left-padded
        mask = enc.attention_mask.to(self.device)
        width = input_ids.shape[1]
        if width >= params.max_length_generation:
            sequences = input_ids.repeat_interleave(num_return_sequences, dim=0)
        else:
            kwargs = {"do_sample": params.do_sample, "max_length": params.max_length_generation,
                      "num_return_sequences": num_return_sequences, "pad_token_id": tok.pad_token_id,
                      "attention_mask": mask, "stopping_criteria": _stop_criteria(tok, width, stop_words, True)}
            if params.do_sample:
                kwargs.update(temperature=params.temperature, top_p=params.top_p, top_k=params.top_k)
            with torch.no_grad():
                sequences = self.model.generate(input_ids=input_ids, **kwargs)
        pads = (1 - mask).sum(dim=1).repeat_interleave(num_return_sequences).tolist()
        out: list[list[str]] = [[] for _ in prompts]
        for i, row in enumerate(sequences.tolist()):
            row = row[pads[i]:]
            if tok.bos_token_id is not None and row and row[0] == tok.bos_token_id:
                row = row[1:]
            out[i // num_return_sequences].append(
                tok.decode(row, skip_special_tokens=False, clean_up_tokenization_spaces=False))
        return out

def _stop_criteria(tokenizer, start: int, stop_words: Sequence[str], per_sequence: bool = False):
    """EndOfFunctionCriteria of the harness: done once every sequence has a stop word after the
    prompt. `per_sequence` marks each finished sequence on its own (it is then padded), which
    lets a batch of different prompts finish together."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class StopWordsCriteria(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):  # input_ids: (batch, length)
            texts = tokenizer.batch_decode(input_ids[:, start:])
            flags = [any(word in text for word in stop_words) for text in texts]
            if per_sequence:
                return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)
            return torch.full((input_ids.shape[0],), all(flags), dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([StopWordsCriteria()])


def generate(backend: GenerationBackend, prompts: Sequence[str], postprocess: Callable[[str, int, tuple], str],
             stop_words: Sequence[str], n_samples: int, batch_size: int, params: SamplingParams,
             prefix: str = "", on_problem: Callable[[int], None] | None = None,
             prompt_batch_size: int = 1) -> tuple[list[list[str]], dict]:
    """Generations per prompt (the harness's JSON layout) and timing stats.

    `postprocess(text, index, extra_stop_words)` is the task's cut; `None` returns raw text.
    """
    if n_samples < 1 or batch_size < 1:
        raise EvalError(f"--n_samples ({n_samples}) and --batch_size ({batch_size}) must be at least 1")
    stops = tuple(stop_words) + ((backend.eos_token,) if backend.eos_token and stop_words else ())
    extra = (backend.eos_token,) if backend.eos_token and stop_words else ()
    backend.set_seed(params.seed)
    copies = math.ceil(n_samples / batch_size)
    started = time.monotonic()
    out: list[list[str]] = []
    if prompt_batch_size > 1 and hasattr(backend, "generate_many"):
        for first in range(0, len(prompts), prompt_batch_size):
            group = [prefix + p for p in prompts[first:first + prompt_batch_size]]
            raws: list[list[str]] = [[] for _ in group]
            for _ in range(copies):
                for raw, texts in zip(raws, backend.generate_many(group, batch_size, stops, params)):
                    raw.extend(texts)
            for offset, raw in enumerate(raws):
                index = first + offset
                out.append([postprocess(t[len(prefix):], index, extra) for t in raw[:n_samples]])
                if on_problem:
                    on_problem(index)
    else:
        for index, prompt in enumerate(prompts):
            raw = []
            for _ in range(copies):
                raw.extend(backend.generate_for_prompt(prefix + prompt, batch_size, stops, params))
            texts = [text[len(prefix):] for text in raw[:n_samples]]
            out.append([postprocess(t, index, extra) for t in texts])
            if on_problem:
                on_problem(index)
    seconds = time.monotonic() - started
    samples = len(prompts) * n_samples
    stats = {"generation_seconds": round(seconds, 3), "samples": samples,
             "samples_per_second": round(samples / seconds, 3) if seconds > 0 else None}
    return out, stats
