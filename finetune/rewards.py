"""Execution reward: the fraction of a problem's unit tests a completion passes, each test run
in the shared sandbox (`starforge.sandbox`), judged the way eval judges a sample.

Each test is its own sandboxed `Program` (`prompt + completion`, then the test): the completion
is cut at the problem's own stop words first (its task's, as eval's post-processing cuts it),
and runs under the problem's timeout. A test made of asserts on calls (the generated family's
`assert solve(x) == y`, HumanEval's and MBPP's checks) is decided outside the completion's
interpreter: the sandbox computes the calls and the host compares their values with the
expected ones, so a completion that returns an object equal to anything, patches `json` or the
builtins, or exits early gets no reward for it. A completion that does not parse scores 0
without running. Also the greedy held-out evaluation used by tests and `bench/finetune.py`.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Sequence
from typing import Any

from finetune.problems import STOP_WORDS
from starforge.formats.problems import ProblemRecord
from starforge.formats.tapes import Execution
from starforge.sandbox import ExecResult, Program, Sandbox, stop_at_stop_words

log = logging.getLogger(__name__)


def cut_completion(completion: str, stop_words: Sequence[str] = STOP_WORDS) -> str:
    """The completion up to the first stop word (eval's cut); by default the generated family's."""
    return stop_at_stop_words(completion, stop_words)


def score(sandbox: Sandbox, items: Sequence[tuple[ProblemRecord, str]]) -> list[Execution]:
    """Reward of each (problem, completion): all tests of all items run `workers` at a time."""
    programs: list[Program] = []
    owners: list[tuple[int, int]] = []
    parsed: list[bool] = []
    for i, (problem, completion) in enumerate(items):
        code = problem.prompt + cut_completion(completion, problem.stop_words)
        try:
            ast.parse(code)
            ok = True
        except (SyntaxError, ValueError):
            ok = False
        parsed.append(ok)
        if ok:
            for j, test in enumerate(problem.tests):
                programs.append(Program(code, "\n" + test + "\n", problem.timeout))
                owners.append((i, j))
    results: list[ExecResult] = sandbox.run_many(programs) if programs else []
    per_item: list[list[dict[str, Any]]] = [[] for _ in items]
    for (i, j), res in zip(owners, results):
        per_item[i].append({"test": items[i][0].tests[j], "passed": res.passed, "result": res.result,
                            "seconds": round(res.seconds, 4)})
    out = []
    for i, (problem, _) in enumerate(items):
        tests = problem.tests
        if not parsed[i]:
            out.append(Execution(0.0, [{"test": t, "passed": False, "result": "failed: syntax error",
                                        "seconds": 0.0} for t in tests], "syntax_error"))
            continue
        runs = per_item[i]
        status = "timeout" if any(r["result"] == "timed out" for r in runs) else "ok"
        out.append(Execution(sum(r["passed"] for r in runs) / max(1, len(tests)), runs, status))
    return out


def generate_greedy(model, tokenizer, prompts: Sequence[str], max_new_tokens: int = 64,
                    batch_size: int = 32) -> list[str]:
    """Greedy completions (text after the prompt), batched with left padding."""
    import torch

    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    outs: list[str] = []
    model.eval()
    try:
        for start in range(0, len(prompts), batch_size):
            chunk = list(prompts[start:start + batch_size])
            enc = tokenizer(chunk, return_tensors="pt", padding=True)
            with torch.no_grad():
                ids = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                     pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            for row in ids[:, enc["input_ids"].shape[1]:]:  # (batch, new tokens)
                outs.append(tokenizer.decode(row, skip_special_tokens=True))
    finally:
        tokenizer.padding_side = side
    return outs


def evaluate_problems(model, tokenizer, problems: Sequence[ProblemRecord], sandbox: Sandbox,
                      max_new_tokens: int = 64, tape=None, step: int = 0) -> dict[str, Any]:
    """Greedy pass rate (all tests pass) and mean reward over `problems`, per category too;
    each sample goes to `tape` (a `Tape`) when given."""
    completions = generate_greedy(model, tokenizer, [p.prompt for p in problems], max_new_tokens)
    execs = score(sandbox, list(zip(problems, completions)))
    by_cat: dict[str, list[float]] = {}
    for p, c, e in zip(problems, completions, execs):
        by_cat.setdefault(p.category, []).append(float(e.reward == 1.0))
        if tape is not None:
            tape.sample(step, p.id, p.category, p.prompt, c, e, sample=0, kind="eval")
    n = max(1, len(problems))
    return {
        "pass_rate": sum(e.reward == 1.0 for e in execs) / n,
        "mean_reward": sum(e.reward for e in execs) / n,
        "pass_rate_by_category": {k: sum(v) / len(v) for k, v in sorted(by_cat.items())},
        "problems": len(problems),
    }
