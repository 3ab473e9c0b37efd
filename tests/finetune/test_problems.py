import ast
import json
import re

import pytest

from finetune.problems import HELDOUT_CONSTANTS, TRAIN_CONSTANTS, WORDS_HELDOUT, WORDS_TRAIN, GenProblem, read_problems
from finetune.rewards import score
from starforge.errors import FormatError
from starforge.sandbox import Sandbox, SandboxConfig


def test_family_size_levels_and_tests_per_problem(problem_files):
    probs = problem_files["problems"]
    assert len(probs) >= 300
    assert {p.level for p in probs} == {1, 2, 3}
    assert {p.kind for p in probs} == {"arith", "string", "list"}
    assert all(3 <= len(p.tests) <= 5 for p in probs)
    assert all(not p.prompt.endswith("\n") for p in probs)  # FACTS: the newline would merge with the indent
    for p in probs:
        for t in p.tests:
            ast.parse(t)


def test_heldout_has_only_unseen_constants_or_compositions(problem_files):
    probs = problem_files["problems"]
    train_bodies = {p.solution for p in probs if p.split == "train"}
    train_consts = {int(n) for p in probs if p.split == "train"
                    for n in re.findall(r"[-+*/] (\d+)|v > (\d+)", p.solution) for n in n if n}
    assert train_consts <= set(TRAIN_CONSTANTS)
    for p in (p for p in probs if p.split == "heldout"):
        assert p.solution not in train_bodies
    held_consts = {int(n) for p in probs if p.split == "heldout"
                   for n in re.findall(r"[-+*/] (\d+)|v > (\d+)", p.solution) for n in n if n}
    assert held_consts & set(HELDOUT_CONSTANTS)


def test_training_constants_teach_copying_not_recall(problem_files):
    """Held-out constants are unseen numbers made of seen digits, held-out words unseen strings of
    seen letters: with only a handful of training constants the tiny model learned each by heart
    and wrote a training constant for every unseen one (docs/finetune.md, "Why the first runs
    scored ~0")."""
    train = [p for p in problem_files["problems"] if p.split == "train"]
    used = {int(n) for p in train for n in re.findall(r"[-+*/] (\d+)|v > (\d+)", p.solution) for n in n if n}
    assert len(used) >= 20
    assert {d for c in HELDOUT_CONSTANTS for d in str(c)} <= {d for c in used for d in str(c)}
    assert not set(WORDS_HELDOUT) & set(WORDS_TRAIN)
    assert {ch for w in WORDS_HELDOUT for ch in w} <= {ch for w in WORDS_TRAIN for ch in w}


def test_reference_solutions_pass_their_tests_in_the_sandbox(problem_files):
    sample = problem_files["problems"][::25]
    with Sandbox(SandboxConfig(workers=2)) as box:
        execs = score(box, [(p, p.solution) for p in sample])
    assert [e.reward for e in execs] == [1.0] * len(sample)


def _problem(tests: list[str], prompt: str = 'def solve(x: int) -> int:\n    """Add 2."""') -> GenProblem:
    return GenProblem(id="p", prompt=prompt, tests=tests, category="level1")


def test_wrong_solution_gets_partial_reward():
    tests = ["assert solve(0) == 2", "assert solve(-2) == 0", "assert solve(3) == 5", "assert solve(4) == 6"]
    wrong = "\n    return x + 2 if x <= 0 else 0\n"  # right on the first two tests only
    with Sandbox(SandboxConfig(workers=2)) as box:
        [e] = score(box, [(_problem(tests), wrong)])
    assert e.reward == 0.5 and e.status == "ok"


def test_looping_completion_is_a_recorded_timeout():
    with Sandbox(SandboxConfig(workers=1, timeout=0.5)) as box:
        [e] = score(box, [(_problem(["assert solve(0) == 2"]), "\n    while True:\n        pass\n")])
    assert e.reward == 0.0 and e.status == "timeout" and e.tests[0]["result"] == "timed out"


def test_unparsable_completion_scores_zero_without_running():
    with Sandbox(SandboxConfig(workers=1)) as box:
        [e] = score(box, [(_problem(["assert solve(1) == 1"], "def solve(x):"), "\n    return (")])
    assert e.reward == 0.0 and e.status == "syntax_error"


@pytest.mark.parametrize("line, message", [
    ('{"prompt": "def f():", "category": "a"}', "missing field 'tests'"),
    ('{"prompt": "def f():", "tests": "assert 1", "category": "a"}', "field 'tests' must be list"),
    ('{"prompt": "def f():", "tests": ["assert f( =="], "category": "a"}', "tests[0] does not parse"),
])
def test_bad_problem_line_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "p.jsonl"
    good = json.dumps({"prompt": "def f():", "tests": ["assert True"], "category": "a"})
    path.write_text(good + "\n" + line + "\n")
    with pytest.raises(FormatError, match=rf"p.jsonl:2: .*{re.escape(message)}"):
        read_problems(path)
