"""HumanEval generation three ways on one model, in one process: the harness way, our batched
transformers backend, and vLLM.

- harness: bigcode-evaluation-harness's loop, one prompt per `generate` call with `n_samples`
  sequences (`HFBackend`, `prompt_batch_size=1`, `batch_size=n_samples`);
- hf_batched: the same backend, `prompt_batch_size` prompts per call, left-padded, each prompt
  keeping its own max_length budget;
- vllm: `VLLMBackend`, every prompt in one engine call (continuous batching); its start-up
  (engine build, in-process on the CPU) is timed apart and not in `vllm_s`.

All three use `eval.generate.generate` with the same prompts (HumanEval prompts of at most
`--max-prompt-tokens` tokens, the first `--prompts` of them), the task's stop words,
`max_length_generation` = longest prompt + `--new-tokens`, temperature 0.2, top-p 0.95. Then a
greedy pass of hf_batched and vLLM compares token ids prompt by prompt (`greedy_identical`).
vLLM's engine runs in the backend's worker process (eval/vllm_backend.py).

    python -m bench.eval_generation --model runs/demo/hf          # `starforge demo` writes it
    python -m bench.eval_generation                                 # a random-weight tiny model

Without `--model` a GPTBigCode of the `tiny` preset's shape (2 layers, 128 wide, 4 heads,
multi-query: head size 32, which vLLM's CPU attention serves) with random weights and a BPE
trained on HumanEval is built in a temporary folder; random weights rarely emit a stop word, so
every sample runs to its budget (the most generation work). Needs vLLM (`make vllm`). Prints
each method's wall time and tokens/s, then one JSON line. Heavy: run it under
`flock /tmp/starforge-bench.lock`.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

from eval.generate import HFBackend, SamplingParams, generate, load_backend
from eval.tasks import get_task


def build_tiny(out: Path) -> Path:
    from tests.eval.conftest import build_tiny_model

    return build_tiny_model(out, hidden=128, layers=2, heads=4, vocab=600, positions=512)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="HF model dir (default: build a tiny one)")
    parser.add_argument("--prompts", type=int, default=130)
    parser.add_argument("--max-prompt-tokens", type=int, default=190)
    parser.add_argument("--n-samples", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--prompt-batch-size", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import torch

    tmp = None
    model = args.model
    if model is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_eval_generation_")
        model = build_tiny(Path(tmp.name) / "tiny")
    task = get_task("humaneval")
    hf = HFBackend(model, device=args.device)
    problems = [p for p in task.problems()
                if len(hf.tokenizer(task.prompt(p)).input_ids) <= args.max_prompt_tokens][:args.prompts]
    prompts = [task.prompt(p) for p in problems]
    longest = max(len(hf.tokenizer(p).input_ids) for p in prompts)
    sampled = SamplingParams(do_sample=True, temperature=0.2, top_p=0.95, max_length_generation=longest + args.new_tokens)
    greedy = SamplingParams(do_sample=False, max_length_generation=longest + args.new_tokens)

    def cut(text: str, index: int, extra: tuple) -> str:
        return task.postprocess(text, problems[index], extra)

    def run(backend, params, n, batch, prompt_batch):
        started = time.perf_counter()
        gens, stats = generate(backend, prompts, cut, task.stop_words, n, batch, params,
                               prompt_batch_size=prompt_batch)
        return gens, stats, time.perf_counter() - started

    threads = torch.get_num_threads()
    _, harness, harness_s = run(hf, sampled, args.n_samples, args.n_samples, 1)
    print(f"harness way:  {harness_s:7.1f} s  {harness['new_tokens'] / harness_s:8.0f} tokens/s "
          f"({len(prompts)} prompts x {args.n_samples}, one prompt per call)")
    _, batched, batched_s = run(hf, sampled, args.n_samples, args.n_samples, args.prompt_batch_size)
    print(f"hf batched:   {batched_s:7.1f} s  {batched['new_tokens'] / batched_s:8.0f} tokens/s "
          f"({args.prompt_batch_size} prompts per call)")
    stops = (*task.stop_words, hf.eos_token)
    hf_ids = [rows[0] for first in range(0, len(prompts), args.prompt_batch_size)
              for rows in hf.generate_ids(prompts[first:first + args.prompt_batch_size], 1, stops, greedy)]

    started = time.perf_counter()
    vllm = load_backend("vllm", model, "fp32", args.device)
    vllm.start()
    startup_s = time.perf_counter() - started
    _, vstats, vllm_s = run(vllm, sampled, args.n_samples, args.n_samples, 1)
    print(f"vllm:         {vllm_s:7.1f} s  {vstats['new_tokens'] / vllm_s:8.0f} tokens/s "
          f"(all prompts per call; start-up {startup_s:.1f} s not included)")
    vllm_ids = [rows[0] for rows in vllm.generate_ids(prompts, 1, stops, greedy)]
    differing = [problems[i].task_id for i, (a, b) in enumerate(zip(hf_ids, vllm_ids)) if a != b]
    print(f"greedy ids: {len(prompts) - len(differing)}/{len(prompts)} prompts identical"
          + (f"; differing: {', '.join(differing)}" if differing else ""))
    result = {"harness_s": round(harness_s, 2), "hf_batched_s": round(batched_s, 2), "vllm_s": round(vllm_s, 2),
              "vllm_startup_s": round(startup_s, 2), "ratio_vllm": round(harness_s / vllm_s, 2),
              "ratio_hf_batched": round(harness_s / batched_s, 2), "greedy_identical": not differing,
              "greedy_differing": differing,
              "tokens_per_s": {"harness": round(harness["new_tokens"] / harness_s),
                               "hf_batched": round(batched["new_tokens"] / batched_s),
                               "vllm": round(vstats["new_tokens"] / vllm_s)},
              "new_tokens": {"harness": harness["new_tokens"], "hf_batched": batched["new_tokens"],
                             "vllm": vstats["new_tokens"]},
              "prompts": len(prompts), "n_samples": args.n_samples, "max_length_generation": greedy.max_length_generation,
              "prompt_batch_size": args.prompt_batch_size, "torch_threads": threads,
              "model": str(args.model) if args.model else "random tiny (tiny preset shape)"}
    print(json.dumps(result))
    if tmp is not None:
        tmp.cleanup()
    return result


if __name__ == "__main__":
    main()
