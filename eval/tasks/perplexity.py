"""Perplexity on a held-out Megatron shard: how well the model predicts code it never trained on.
The measure of Jelinek et al., "Perplexity — a measure of the difficulty of speech recognition
tasks", JASA 62 (1977); computed with the strided sliding window of Press et al., "Train Short,
Test Long", arXiv 2108.12409 (transformers' "Perplexity of fixed-length models" guide does the same).

`--load_data_path` is a shard prefix (`PREFIX` of `PREFIX.bin/.idx`, or either file, as `starforge
data tokenize` writes them) or a directory of them, read by starforge/formats/shards.py. Each document
(one sequence of the shard, ending in `<|endoftext|>`) is scored on its own: a window of
`max_length_generation` tokens moves by `perplexity_stride` tokens, and each window scores only
the tokens no earlier window scored, with everything before them in the window as context. The
token ids are the shard's, fed as they are: they must come from the model's own tokenizer
(checked: every id below the model's vocabulary, and documents ending in its EOS id).

Metrics: `{"perplexity": {"ppl": exp(nll), "nll": mean negative log-likelihood per scored token
(nats), "tokens": scored tokens, "documents": n}}`; per-document `tokens`/`nll` in the problems file.
`--limit` counts documents.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from eval.tasks import Problem, Task, register_task
from starforge.errors import EvalError, FormatError
from starforge.formats import shards

log = logging.getLogger(__name__)

HOW = ("pass --load_data_path with a held-out Megatron shard prefix (PREFIX of PREFIX.bin + PREFIX.idx, "
       "written by `starforge data tokenize` with the model's tokenizer) or a directory of such shards")


def shard_documents(data_path: str | None) -> list[np.ndarray]:
    """Every document of the shards a path names, in order (a held-out shard is small: copied)."""
    if not data_path:
        raise EvalError(f"perplexity: no data; {HOW}")
    try:
        docs = [doc for prefix in shards.shard_prefixes(data_path) for doc in shards.shard_documents(prefix)]
    except FormatError as exc:
        raise EvalError(f"perplexity: {exc} (--load_data_path)") from None
    if not docs:
        raise EvalError(f"perplexity: {data_path}: the shards hold no documents; {HOW}")
    return docs


def document_nll(model, ids: np.ndarray, window: int, stride: int, device: str) -> tuple[float, int]:
    """(summed NLL in nats, scored tokens) of one document; every token but the first is scored once."""
    import torch

    tokens = torch.as_tensor(np.asarray(ids, dtype=np.int64), device=device)  # (L,)
    length = int(tokens.shape[0])
    total, counted, scored_to = 0.0, 0, 1  # token 0 has no context: scoring starts at 1
    for begin in range(0, max(length - 1, 1), stride):
        end = min(begin + window, length)
        if end <= scored_to:
            continue
        chunk = tokens[begin:end].unsqueeze(0)  # (1, T)
        with torch.no_grad():
            logits = model(input_ids=chunk).logits[0].float()  # (T, V)
        logp = torch.log_softmax(logits[:-1], dim=-1)  # (T-1, V): position t predicts t+1
        first = scored_to - begin  # the first target index in this window not scored yet
        targets = chunk[0, first:]  # (n,)
        total += float(-logp[first - 1:].gather(1, targets.unsqueeze(1)).sum())
        counted += int(targets.shape[0])
        scored_to = end
        if end == length:
            break
    return total, counted


@register_task("perplexity")
class PerplexityTask(Task):
    """Per-token perplexity of the model on held-out shard documents (JASA 1977; arXiv 2108.12409)."""

    requires_execution = False
    needs_model = True

    def problems(self) -> list[Problem]:
        return [Problem(task_id=f"document/{i}", prompt="", test="", extra={"ids": ids})
                for i, ids in enumerate(shard_documents(self.data_path))]

    def reference(self, problem: Problem) -> str:
        return ""

    def canonical_generation(self, problem: Problem) -> str:
        raise EvalError("perplexity scores the model's likelihood: --check_references does not apply")

    def score_model(self, backend, problems: list[Problem], window: int,
                    stride: int | None) -> tuple[dict[str, float], list[dict[str, Any]]]:
        model = backend.model
        vocab = int(model.config.vocab_size)
        if window < 2:
            raise EvalError(f"max_length_generation {window}: perplexity needs a window of at least 2 tokens")
        stride = stride or window // 2
        if not 0 < stride < window:
            raise EvalError(f"perplexity_stride {stride}: must be between 1 and max_length_generation - 1 "
                            f"({window - 1}), so every scored token has context")
        eos = backend.tokenizer.eos_token_id
        ends = [int(p.extra["ids"][-1]) for p in problems if len(p.extra["ids"])]
        if eos is not None and ends and not any(e == eos for e in ends):
            log.warning("perplexity: no document ends in the tokenizer's EOS id %d: was the shard tokenized with "
                        "this model's tokenizer?", eos)
        total, counted, records = 0.0, 0, []
        for index, problem in enumerate(problems):
            ids = problem.extra["ids"]
            if len(ids) and int(np.max(ids)) >= vocab:
                raise EvalError(f"perplexity: {problem.task_id} holds token id {int(np.max(ids))} >= the model's "
                                f"vocabulary ({vocab}); tokenize the shard with the model's own tokenizer")
            nll, n = document_nll(model, ids, window, stride, backend.device)
            total += nll
            counted += n
            records.append({"task_id": problem.task_id, "index": index, "length": len(ids), "tokens": n,
                            "nll": nll / n if n else None})
        if not counted:
            raise EvalError(f"perplexity: {self.data_path}: no document has two tokens to score; {HOW}")
        mean = total / counted
        return {"ppl": math.exp(mean), "nll": mean, "tokens": counted, "documents": len(problems)}, records
