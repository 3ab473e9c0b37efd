"""Expected outputs and timings of EvalPlus problems: each canonical solution run on every input,
as evalplus's `get_groundtruth` does (`evalplus/evaluate.py`: `trusted_exec` with
`record_time=True`, each input deep-copied first, the call alone timed).

The canonical solutions are the benchmark's own trusted code, so evalplus runs them in its own
process; we run them in one child process of the host (`python -c`, killed after
`GROUND_TRUTH_TIMEOUT`), never in eval's, and take back each output as a Python literal
(`starforge.sandbox.verdicts.to_source`, the form the sandbox's host checks read) with whether
it is a float, a sequence of floats (evalplus's `is_floats`, which switches to a tolerance) or
a sequence holding some float.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starforge.errors import EvalError
from starforge.sandbox.verdicts import to_source

GROUND_TRUTH_TIMEOUT = 1800.0
"""Seconds for all canonical solutions of a task (evalplus's HumanEval+ takes well under a minute)."""

_CHILD = r"""
import copy, json, sys, time
from starforge.sandbox.verdicts import to_source

if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)

def kind(x):
    if isinstance(x, float):
        return "float"
    if isinstance(x, (list, tuple)) and x and all(isinstance(i, float) for i in x):
        return "floats"
    if isinstance(x, (list, tuple)) and any(isinstance(i, float) for i in x):
        return "mixed"
    return "exact"

for line in sys.stdin:
    job = json.loads(line)
    out = {"expected": [], "kinds": [], "seconds": 0.0, "error": None}
    try:
        namespace = {}
        exec(job["code"], namespace)
        fn = namespace[job["entry_point"]]
        for args in eval(job["inputs"], {"__builtins__": __builtins__}):
            args = copy.deepcopy(args)
            start = time.perf_counter()
            value = fn(*args)
            out["seconds"] += time.perf_counter() - start
            try:
                out["expected"].append(to_source(value))
            except ValueError:
                out["expected"].append(None)
            out["kinds"].append(kind(value))
    except BaseException as exc:
        out["error"] = (type(exc).__name__ + ": " + str(exc))[:300]
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
"""


@dataclass(frozen=True)
class GroundTruth:
    expected: tuple[str | None, ...]
    """Each input's canonical output as a Python literal (None: it has none, e.g. a generator)."""
    kinds: tuple[str, ...]
    """Each output's comparison class: `float`, `floats` (a non-empty sequence of floats: evalplus's
    `is_floats`), `mixed` (a sequence holding some float) or `exact`."""
    seconds: float
    """The canonical solution's time over all inputs (the calls alone)."""


def run_ground_truth(records: Sequence[Any], *, task: str, where: str) -> list[GroundTruth]:
    """`records` (PlusRecord: prompt, canonical_solution, entry_point, inputs) run in one child."""
    jobs = "".join(json.dumps({"code": r.prompt + r.canonical_solution, "entry_point": r.entry_point,
                               "inputs": to_source(r.inputs)}) + "\n" for r in records)
    try:
        done = subprocess.run([sys.executable, "-c", _CHILD], input=jobs, capture_output=True, text=True,
                              timeout=GROUND_TRUTH_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise EvalError(f"{task}: {where}: the canonical solutions did not finish in {GROUND_TRUTH_TIMEOUT:.0f} s") from None
    lines = done.stdout.splitlines()
    if done.returncode != 0 or len(lines) != len(records):
        tail = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise EvalError(f"{task}: {where}: running the canonical solutions failed ({tail})")
    out = []
    for rec, line in zip(records, lines):
        result = json.loads(line)
        if result["error"]:
            raise EvalError(f"{task}: {where}: {rec.task_id}'s canonical solution fails ({result['error']}); "
                            "is the file evalplus's?")
        out.append(GroundTruth(tuple(result["expected"]), tuple(result["kinds"]), float(result["seconds"])))
    return out
