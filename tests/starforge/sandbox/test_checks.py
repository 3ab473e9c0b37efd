"""Which tests are split into sandbox calls and host checks, and what the sandbox is sent."""

from __future__ import annotations

from starforge.sandbox import Program
from starforge.sandbox.checks import split_test


def test_humaneval_splits_except_helper_and_random_tests(humaneval):
    problems = humaneval.problems()
    kept = [p.task_id for p in problems if split_test(humaneval.program("", p).test) is None]
    assert kept == ["HumanEval/32", "HumanEval/38", "HumanEval/50", "HumanEval/53"]


def test_expected_values_are_not_sent_to_the_sandbox(humaneval):
    # HumanEval/2: `assert candidate(3.5) == 0.5`, `abs(candidate(1.33) - 0.33) < 1e-06`, ...
    split = split_test(humaneval.program("", humaneval.problems()[2]).test)
    sent = split.preamble + split.setup + "".join(split.calls)
    assert split.calls == ("candidate(3.5)", "candidate(1.33)", "candidate(123.456)")
    assert "0.33" not in sent and "0.5" not in sent and "check" not in sent


def test_loops_are_unrolled_with_host_values_written_in(humaneval):
    split = split_test(humaneval.program("", humaneval.problems()[44]).test)  # for x in range(2, 8)
    assert [c for c in split.calls if c.startswith("candidate(2,")] == ["candidate(2, 2 + 1)"]


def test_builtin_applied_to_a_call_alone_runs_in_the_sandbox(humaneval):
    split = split_test(humaneval.program("", humaneval.problems()[33]).test)
    assert split.calls[0].startswith("tuple(candidate(")


def test_top_level_asserts_need_one_unknown_function():
    assert split_test("\nassert f(1) == 2\nassert f(2) == 3\n").calls == ("f(1)", "f(2)")
    assert split_test("\nassert isclose(f(1), 2.0)\n") is None  # two unknown names: 2.0 would be sent
    assert split_test("\nassert sum(10, 15) == 6\n") is None  # MBPP/126: no unknown name at all


def test_huge_host_values_fail_the_sample_not_the_host(sandbox):
    program = Program("def f(x):\n    return 10 ** 12\n", "\nassert 'a' * f(1) == 'aa'\n")
    result = sandbox.run(program)
    assert not result.passed and "too large" in result.result
