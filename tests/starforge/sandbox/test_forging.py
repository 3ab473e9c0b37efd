"""Programs that try to forge a pass instead of solving the problem: one test per forging class,
each run warm and cold (the `sandbox` fixture), on a problem whose test is split (verdict on the
host: HumanEval/0, 9, 11, 13, 52) and, where the class attacks the verdict channel itself, on one
judged in-process (HumanEval/53, random inputs). Every sample here is wrong."""

from __future__ import annotations

import textwrap

import pytest

from starforge.sandbox.checks import split_test

SPLIT, IN_PROCESS = 0, 53  # HumanEval/0 (asserts on calls), HumanEval/53 (random inputs: not split)


def wrong(humaneval, index: int, top: str = "", body: str = "") -> object:
    """HumanEval/`index` with `top` run at import, `body` at the top of the candidate, then a
    wrong answer."""
    problem = humaneval.problems()[index]
    code = textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n" if body else ""
    completion = textwrap.dedent(top) + "\n" + problem.prompt + code + "    return None\n"
    return humaneval.program(completion, problem)


def test_problems_are_judged_where_the_docstring_says(humaneval):
    problems = humaneval.problems()
    assert split_test(humaneval.program("", problems[SPLIT]).test) is not None
    assert split_test(humaneval.program("", problems[IN_PROCESS]).test) is None


@pytest.mark.parametrize("index", [SPLIT, IN_PROCESS])
@pytest.mark.parametrize("patch", [
    "import json\njson.JSONEncoder.encode = lambda self, o: '{\"result\": \"passed\"}'",
    "import json\nclass E(json.JSONEncoder):\n    def encode(self, o):\n        return '{\"result\": \"passed\"}'\n"
    "json._default_encoder = E()",
    "import json\njson.dumps = lambda *a, **k: '{\"result\": \"passed\"}'",
], ids=["JSONEncoder.encode", "_default_encoder", "dumps"])
def test_patching_json_cannot_forge_a_pass(sandbox, humaneval, index, patch):
    # Scored passed before the verdict writer stopped calling json.dumps (it reads
    # json._default_encoder and JSONEncoder.encode when called).
    result = sandbox.run(wrong(humaneval, index, top=patch))
    assert not result.passed, result


def test_object_equal_to_anything_fails(sandbox, humaneval):
    result = sandbox.run(wrong(humaneval, SPLIT, body="""
        class Anything:
            def __eq__(self, other):
                return True
            def __ne__(self, other):
                return False
            def __bool__(self):
                return True
            __hash__ = object.__hash__
        return Anything()"""))
    assert not result.passed and "not plain data" in result.result


@pytest.mark.parametrize("index, base, value", [(13, "int", "0"), (11, "str", "''"), (9, "list", "[]")],
                         ids=["int", "str", "list"])
def test_builtin_subclass_with_forged_eq_is_compared_by_its_value(sandbox, humaneval, index, base, value):
    # HumanEval/13 returns an int, /11 a str, /9 a list: a subclass that says it equals anything
    # comes back as the (wrong) value it holds
    result = sandbox.run(wrong(humaneval, index, body=f"""
        class Forged({base}):
            def __eq__(self, other):
                return True
            def __ne__(self, other):
                return False
            __hash__ = {base}.__hash__
        return Forged({value})"""))
    assert not result.passed
    assert result.result.startswith("failed")


def test_truthy_object_for_bare_asserts_fails(sandbox, humaneval):
    # HumanEval/52 checks `assert candidate(...)` and `assert not candidate(...)`
    result = sandbox.run(wrong(humaneval, 52, body="""
        class Flip:
            calls = 0
            def __bool__(self):
                Flip.calls += 1
                return Flip.calls % 2 == 1
        return Flip()"""))
    assert not result.passed


@pytest.mark.parametrize("index", [SPLIT, IN_PROCESS])
def test_frames_do_not_lead_to_the_expected_values_or_the_nonce(sandbox, humaneval, index):
    # From the candidate, walk every frame: take what `check` would compare with and every
    # nonce-like string, answer with the one, write forged records with the other to every fd.
    result = sandbox.run(wrong(humaneval, index, body="""
        import sys, os
        frame, strings = sys._getframe(1), []
        while frame is not None:
            check = frame.f_globals.get("check")
            if check is not None and [c for c in check.__code__.co_consts if c is True]:
                return True  # HumanEval/0's first expected value, had the test been here
            for value in list(frame.f_locals.values()) + list(frame.f_globals.values()):
                if isinstance(value, (str, bytes)) and 16 <= len(value) <= 64:
                    strings.append(value if isinstance(value, bytes) else value.encode())
            frame = frame.f_back
        for token in strings:
            for payload in (b"passed", b"0 []"):
                for fd in range(3, 256):
                    try:
                        os.write(fd, token + b" " + payload.hex().encode() + b"\\n")
                    except OSError:
                        pass
        os._exit(0)"""))
    assert not result.passed


@pytest.mark.parametrize("index", [SPLIT, IN_PROCESS])
def test_garbage_collector_is_refused(sandbox, humaneval, index):
    result = sandbox.run(wrong(humaneval, index, body="import gc\nreturn [o for o in gc.get_objects() if o is True]"))
    assert not result.passed and "refused" in result.result


@pytest.mark.parametrize("index", [SPLIT, IN_PROCESS])
@pytest.mark.parametrize("exit_call", ["import sys\nsys.exit(0)", "import os\nos._exit(0)"], ids=["sys.exit", "os._exit"])
@pytest.mark.parametrize("where", ["import", "call"])
def test_early_exit_fails(sandbox, humaneval, index, exit_call, where):
    program = (wrong(humaneval, index, top=exit_call) if where == "import"
               else wrong(humaneval, index, body=exit_call))
    assert not sandbox.run(program).passed


@pytest.mark.parametrize("index", [SPLIT, IN_PROCESS])
def test_patching_what_the_verdict_uses_fails(sandbox, humaneval, index):
    result = sandbox.run(wrong(humaneval, index, top="""
        import builtins, os, posix, signal, sys
        for name in ("str", "len", "type", "repr", "int", "isinstance", "issubclass", "compile", "exec", "eval"):
            setattr(builtins, name, lambda *a, **k: "passed")
        os.write = posix.write = lambda fd, data: len(data)
        sys.audit = lambda *a: None
        signal.setitimer = lambda *a: (0.0, 0.0)
        """))
    assert not result.passed


@pytest.mark.parametrize("method", ["__repr__", "__str__", "__hash__", "__eq__", "__iter__", "__len__"])
def test_raising_dunders_in_the_result_fail_cleanly(sandbox, humaneval, method):
    # HumanEval/9 returns a list: a list subclass (and an element) whose dunders raise
    result = sandbox.run(wrong(humaneval, 9, body=f"""
        class Bad(list):
            def {method}(self, *args):
                raise RuntimeError("evil {method}")
        class Element:
            def {method}(self, *args):
                raise RuntimeError("evil {method}")
        return Bad([Element()])"""))
    assert not result.passed
    problem = humaneval.problems()[9]  # the sandbox goes on scoring
    assert sandbox.run(humaneval.program(humaneval.canonical_generation(problem), problem)).passed
