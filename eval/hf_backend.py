"""transformers as a generation backend (`--backend hf`, the default): the harness's own engine,
with prompt batching (`prompt_batch_size`) as our speed-up."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from eval.backend import SamplingParams, check_model_dir, load_tokenizer, trim_at_stop
from starforge.errors import EvalError


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


