"""Execution reward: the fraction of a problem's unit tests a completion passes, each test run
in `eval`'s sandbox (hostile completions stay contained during training too).

Each test is its own sandboxed program (`prompt + completion`, then one `assert`): a verdict
per test comes from the sandbox's unforgeable pass record, so a completion cannot claim a
partial score by printing or raising a crafted message. A completion that does not parse scores
0 without running. Also the greedy held-out evaluation used by tests and `bench/finetune.py`.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Sequence
from typing import Any

from eval.sandbox import ExecResult, Sandbox
from eval.tasks import stop_at_stop_words
from starforge.formats.tapes import Execution

log = logging.getLogger(__name__)

STOP_WORDS = ("\ndef ", "\nclass ", "\nif ", "\nprint(", "\n#", "\nassert ", "<|endoftext|>")


def cut_completion(completion: str) -> str:
    """The completion up to the first stop word (eval's cut, the harness's `_stop_at_stop_token`)."""
    return stop_at_stop_words(completion, STOP_WORDS)


def score(sandbox: Sandbox, items: Sequence[tuple[str, str, Sequence[str]]]) -> list[Execution]:
    """Reward of each (prompt, completion, tests): all tests of all items run `workers` at a time."""
    programs: list[list[str]] = []
    owners: list[tuple[int, int]] = []
    parsed: list[bool] = []
    for i, (prompt, completion, tests) in enumerate(items):
        code = prompt + cut_completion(completion)
        try:
            ast.parse(code)
            ok = True
        except (SyntaxError, ValueError):
            ok = False
        parsed.append(ok)
        if ok:
            for j, test in enumerate(tests):
                programs.append([code, "\n" + test + "\n"])
                owners.append((i, j))
    results: list[ExecResult] = sandbox.run_many(programs) if programs else []
    per_item: list[list[dict[str, Any]]] = [[] for _ in items]
    for (i, j), res in zip(owners, results):
        per_item[i].append({"test": items[i][2][j], "passed": res.passed, "result": res.result,
                            "seconds": round(res.seconds, 4)})
    out = []
    for i, (_, _, tests) in enumerate(items):
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


def evaluate_problems(model, tokenizer, problems, sandbox: Sandbox, max_new_tokens: int = 64,
                      tape=None, step: int = 0) -> dict[str, Any]:
    """Greedy pass rate (all tests pass) and mean reward over `problems`, per category too;
    each sample goes to `tape` (a `Tape`) when given."""
    completions = generate_greedy(model, tokenizer, [p.prompt for p in problems], max_new_tokens)
    execs = score(sandbox, [(p.prompt, c, p.tests) for p, c in zip(problems, completions)])
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
