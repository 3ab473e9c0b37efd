"""The eval stage's config: field names and defaults are bigcode-evaluation-harness's flags
(`main.py`, `bigcode_eval/arguments.py`), so `--n_samples 10` means here what it means there."""

from __future__ import annotations

from dataclasses import dataclass, field

from starforge.errors import ConfigError
from starforge.sandbox import SandboxConfig


@dataclass
class EvalConfig:
    model: str | None = None
    """Local Hugging Face model directory (config.json, weights, tokenizer); not needed with load_generations_path."""
    tasks: str = "humaneval"
    """Comma list of task names or shell patterns, e.g. humaneval,mbpp or humaneval*."""
    load_data_path: str | None = None
    """Data for tasks no package ships: a file or a datasets directory (mbpp.jsonl, openai/human-eval-infilling's
    data/, a nuprl/MultiPL-E snapshot, a Megatron shard prefix for perplexity); see each task's docstring."""
    n_samples: int = 1
    """Completions generated per problem."""
    batch_size: int = 1
    """Sequences sampled per generate call for one prompt (the harness's num_return_sequences)."""
    temperature: float = 0.2
    """Sampling temperature."""
    top_p: float = 0.95
    """Nucleus sampling mass."""
    top_k: int = 0
    """Top-k sampling (0: off)."""
    do_sample: bool = True
    """Sample (true) or decode greedily (false)."""
    max_length_generation: int = 512
    """Maximum length of prompt + generation, in tokens."""
    perplexity_stride: int | None = None
    """Perplexity: tokens the max_length_generation window moves each step (null: half the window; at
    most the window less one, so every scored token has context)."""
    prompt_batch_size: int = 1
    """Prompts per generate call (left-padded). 1 is the harness's loop; more is faster on small
    models, same distribution, different random draws."""
    precision: str = "fp32"
    """Model weights dtype: fp32, fp16 or bf16."""
    limit: int | None = None
    """Evaluate only this many problems (null: all)."""
    limit_start: int = 0
    """Skip this many problems first."""
    prefix: str = ""
    """Text put before every prompt (e.g. '<| file ext=.py |>\\n' for InCoder)."""
    postprocess: bool = True
    """Cut generations at the task's stop words (the harness turns this off only for tests)."""
    allow_code_execution: bool = False
    """Consent to run model-generated code (always inside the sandbox)."""
    save_generations: bool = False
    """Write the generations JSON (save_generations_path with _<task> added, as the harness does)."""
    save_generations_path: str = "generations.json"
    """Generations file; the task name is appended: generations_humaneval.json."""
    load_generations_path: str | None = None
    """Score this generations file (harness format) instead of generating; no model needed."""
    save_problems: str | None = None
    """Write the selected problems of Python tasks (prompt, tests, stop words, timeout) to this problems
    file for `finetune rl` (docs/formats.md, "Problems"); without a model or generations, only that."""
    tape_path: str | None = None
    """Append every executed sample (prompt, completion, per-test sandbox verdict, reward 1 or 0) to
    this tape, the JSONL `finetune rl` writes (docs/formats.md, "Tapes"); null: no tape."""
    metric_output_path: str = "evaluation_results.json"
    """Metrics JSON; per-problem results go beside it as <stem>_<task>_problems.jsonl."""
    save_references: bool = False
    """Write each task's references (the test code, or the expected middle) as a JSON list of strings,
    one per problem: save_references_path with _<task> added (references_humaneval.json)."""
    save_references_path: str = "references.json"
    """References file; the task name is appended, as for generations."""
    check_references: bool = False
    """Score the reference solutions instead of generating (one per problem; no model needed): every
    task should then score 100%."""
    generation_only: bool = False
    """Generate (and save) without executing anything."""
    seed: int = 0
    """Random seed set once before generation."""
    device: str = "auto"
    """cpu, cuda, cuda:1 or auto (cuda when available)."""
    backend: str = "hf"
    """Generation backend: hf (transformers) or vllm (vLLM; `make vllm` installs it, docs/eval.md)."""
    tensor_parallel_size: int = 1
    """vLLM: GPUs the model is split over (its tensor_parallel_size)."""
    gpu_memory_utilization: float | None = None
    """vLLM: share of device memory for weights and KV cache (on the CPU: of RAM); null: 0.9 on GPUs, 0.25 on the CPU."""
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)

    def __post_init__(self):
        # A negative count would slice problems off the end (`problems[:-1]` drops one silently).
        for name in ("limit", "limit_start", "n_samples", "batch_size", "prompt_batch_size", "max_length_generation"):
            value = getattr(self, name)
            if value is not None and value < (0 if name.startswith("limit") else 1):
                least = "0" if name.startswith("limit") else "1"
                raise ConfigError(f"{name} must be >= {least}, got {value}" + (" (null: all problems)"
                                                                               if name == "limit" else ""))
