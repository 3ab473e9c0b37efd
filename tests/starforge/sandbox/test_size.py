"""Huge programs: a message over `protocol.MESSAGE_LIMIT` is failed on the host with its own
verdict, in warm and cold mode, and the worker that would have read it goes on serving samples.
A generation of 100,000,000 bytes used to overflow the warm frame's 8-digit length and was
reported "failed: sandbox worker lost" (issue #18 section 5)."""

from __future__ import annotations

from starforge.sandbox import Program
from starforge.sandbox.protocol import MESSAGE_LIMIT


def completion(humaneval, padding: int) -> Program:
    """HumanEval/0's canonical solution with a comment of `padding` characters in its body."""
    problem = humaneval.problems()[0]
    code = problem.prompt + "    # " + "x" * padding + "\n" + problem.canonical_solution
    return humaneval.program(code, problem)


def test_generation_over_a_hundred_million_bytes_is_failed_as_too_large(sandbox, humaneval):
    result = sandbox.run(completion(humaneval, 100_000_000))
    assert not result.passed
    assert result.result.startswith("failed: program too large for the sandbox") and "32 MiB" in result.result
    assert sandbox.run(completion(humaneval, 0)).passed  # the worker was not lost


def test_generation_just_over_the_limit_is_failed_and_one_under_runs(sandbox, humaneval):
    over = sandbox.run(completion(humaneval, MESSAGE_LIMIT))
    assert over.result.startswith("failed: program too large")
    under = sandbox.run(completion(humaneval, 8 << 20))  # 8 MiB: many pipe-fulls through the frame
    assert under.passed, under.result
