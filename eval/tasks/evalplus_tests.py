"""The test program of an EvalPlus problem, from its inputs and the canonical outputs.

evalplus compares each output with the expected one as its `assertion` does (`evalplus/eval/
__init__.py`, `unsafe_execute`): equal passes; otherwise, when the problem has a tolerance
(`atol`, or 1e-6 for a float or a sequence of floats), the output must have the expected's type
and length and be `np.allclose(out, exp, rtol=1e-07, atol=atol)`. We write that, per input:

- `assert f(args) == expected` where no tolerance applies;
- `assert math.isclose(f(args), expected, rel_tol=1e-07, abs_tol=atol)` for a float expected
  (math's symmetric form of numpy's `|a - b| <= atol + rtol * |b|`: they differ only within
  1e-07 relative of the bound);
- `assert set(f(args)) == set(expected)` for the MBPP+ problems evalplus compares as sets
  (`MBPP_OUTPUT_SET_EQ_TASKS` in its `_special_oracle.py`);

which the sandbox decides on the host (checks.py: the calls run in the sandbox, the comparisons
here). A problem needing more keeps the in-process path, with evalplus's comparison in plain
Python (no numpy in the sandbox): a sequence of floats with a tolerance, HumanEval/32's
`find_zero` (evalplus checks `|poly(xs, x)| <= atol`, any root), MBPP+'s three tasks whose
outputs are compared as "not None" (`MBPP_OUTPUT_NOT_NONE_TASKS`), or outputs larger than the
sandbox returns as data. evalplus's other four MBPP+ oracles (are_equivalent, sum_div,
surface_Area, digit_distance_nums accept a second answer) are not reproduced: those problems
compare with the canonical output, stricter than evalplus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starforge.sandbox.protocol import OUTPUTS_LIMIT
from starforge.sandbox.verdicts import to_source

SET_EQ = frozenset({"similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly", "larg_nnum",
                    "intersection_array", "find_dissimilar", "Diff"})
"""MBPP+ entry points evalplus compares as sets (its MBPP_OUTPUT_SET_EQ_TASKS)."""
NOT_NONE = frozenset({"check_str", "text_match_three", "text_starta_endb"})
"""MBPP+ entry points whose expected output is only "not None" (its MBPP_OUTPUT_NOT_NONE_TASKS)."""
HOST_OUTPUTS = OUTPUTS_LIMIT // 4
"""Most characters of expected literals a host-decided test may have (the sandbox returns the
outputs tagged and hex-encoded, about 2-3x their literal)."""

CLOSE = '''
def _is_floats(x):
    if isinstance(x, float):
        return True
    return isinstance(x, (list, tuple)) and bool(x) and all(isinstance(i, float) for i in x)


def _close(out, exp, atol):
    """evalplus's `assertion` without numpy: equal, or within tolerance elementwise."""
    if out == exp:
        return True
    if atol == 0 and _is_floats(exp):
        atol = 1e-6
    if atol == 0 or type(out) != type(exp):
        return False
    a, b = (list(out), list(exp)) if isinstance(exp, (list, tuple)) else ([out], [exp])
    return len(a) == len(b) and all(abs(x - y) <= atol + 1e-07 * abs(y) for x, y in zip(a, b))
'''
NOT_NONE_CHECK = '''
def _close(out, exp, atol):
    """evalplus's MBPP not-None oracle: a bool compares with the expected, anything else by being set."""
    return out == exp if isinstance(out, bool) else exp == (out is not None)
'''
POLY = '''
import math


def _poly(xs, x):
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))
'''


@dataclass(frozen=True)
class TestPlan:
    test: str
    """The code run after the generation: HumanEval's `check(candidate)` shape, or MBPP's asserts."""
    dropped: int = 0
    """Inputs left out because the canonical output has no literal form."""


def plan_test(record: Any, truth: Any, mbpp: bool) -> TestPlan:
    """The test of `record` (PlusRecord) with `truth` (GroundTruth)."""
    entry = record.entry_point
    kept = [(args, exp, kind) for args, exp, kind in zip(record.inputs, truth.expected, truth.kinds)
            if exp is not None]
    dropped = len(record.inputs) - len(kept)
    if not kept:
        raise ValueError(f"{record.task_id}: no input has a canonical output with a literal form")
    atol = record.atol
    call = entry if mbpp else "candidate"
    if entry == "find_zero" and not mbpp:
        body = [f"assert abs(_poly({to_source(args[0])}, {call}({_args(args)}))) <= {atol!r}" for args, _, _ in kept]
        return TestPlan(_wrap(POLY, body, mbpp, entry), dropped)
    if mbpp and entry in NOT_NONE:
        return TestPlan(_loop(NOT_NONE_CHECK, kept, call, atol, mbpp, entry), dropped)
    elementwise = any(kind == "floats" or (kind == "mixed" and atol) for _, _, kind in kept)
    if elementwise or sum(len(exp) for _, exp, _ in kept) > HOST_OUTPUTS:
        return TestPlan(_loop(CLOSE, kept, call, atol, mbpp, entry), dropped)
    body = []
    for args, exp, kind in kept:
        value = f"{call}({_args(args)})"
        if mbpp and entry in SET_EQ:
            body.append(f"assert set({value}) == set({exp})")
        elif kind == "float":  # evalplus: a float always compares within a tolerance (1e-6 when atol is 0)
            body.append(f"assert math.isclose({value}, {exp}, rel_tol=1e-07, abs_tol={atol or 1e-6!r})")
        else:
            body.append(f"assert {value} == {exp}")
    return TestPlan(_wrap("import math\n", body, mbpp, entry), dropped)


def _args(args: list[Any]) -> str:
    return ", ".join(to_source(a) for a in args)


def _wrap(preamble: str, body: list[str], mbpp: bool, entry: str) -> str:
    if mbpp:
        return preamble + "\n" + "\n".join(body) + "\n"
    return (preamble + "\n\ndef check(candidate):\n" + "".join(f"    {line}\n" for line in body)
            + f"\n\ncheck({entry})\n")


def _loop(helper: str, kept: list[tuple], call: str, atol: float, mbpp: bool, entry: str) -> str:
    inputs = "[" + ", ".join("[" + _args(args) + "]" for args, _, _ in kept) + "]"
    results = "[" + ", ".join(exp for _, exp, _ in kept) + "]"
    body = [f"inputs = {inputs}", f"results = {results}", "for inp, exp in zip(inputs, results):",
            f"    assert _close({call}(*inp), exp, {atol!r})"]
    return _wrap(helper, body, mbpp, entry)
