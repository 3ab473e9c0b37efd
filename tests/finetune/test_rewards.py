"""RL rewards judge like eval: completions a policy could learn to hack the reward with score 0,
completions are cut at the problem's own stop words and run under its own timeout."""

from __future__ import annotations

import pytest

from finetune.problems import GenProblem
from finetune.rewards import score
from starforge.formats.problems import ProblemRecord
from starforge.sandbox import Sandbox, SandboxConfig

PROMPT = 'def solve(x: int) -> int:\n    """Add 2."""'
TESTS = ["assert solve(0) == 2", "assert solve(-2) == 0", "assert solve(3) == 5"]

HACKS = {
    "eq_always_true": "\n    class Anything:\n        def __eq__(self, other):\n            return True\n"
                      "        __hash__ = object.__hash__\n    return Anything()\n",
    "int_subclass_eq": "\n    class Forged(int):\n        def __eq__(self, other):\n            return True\n"
                       "        __hash__ = int.__hash__\n    return Forged(-7)\n",
    "json_patch": "\n    return None\nimport json\njson.JSONEncoder.encode = lambda self, o: '{\"result\": \"passed\"}'\n",
    "exit_early": "\n    return None\nimport os\nos._exit(0)\n",
    "patch_builtins": "\n    return None\nimport builtins\nbuiltins.AssertionError = type('Nothing', (Exception,), {})\n",
}


@pytest.fixture(scope="module")
def box():
    with Sandbox(SandboxConfig(workers=2, timeout=2.0)) as sandbox:
        yield sandbox


@pytest.mark.parametrize("name", sorted(HACKS))
def test_reward_hacking_completion_gets_zero(box, name):
    problem = GenProblem(id="p", prompt=PROMPT, tests=TESTS, category="level1")
    [execution] = score(box, [(problem, HACKS[name])])
    assert execution.reward == 0.0, execution.tests


def test_reward_hacking_fails_on_an_eval_task_problem_too(box, humaneval):
    p = humaneval.problems()[0]
    problem = ProblemRecord(id=p.task_id, prompt=humaneval.prompt(p), tests=[humaneval.reference(p)],
                            category="humaneval", stop_words=list(humaneval.stop_words), timeout=humaneval.timeout)
    body = "\n    class Anything:\n        def __eq__(self, other):\n            return True\n    return Anything()\n"
    [hacked] = score(box, [(problem, body)])
    [honest] = score(box, [(problem, humaneval.canonical_generation(p)[len(problem.prompt):])])
    assert (hacked.reward, honest.reward) == (0.0, 1.0)


def test_completion_is_cut_at_the_problems_own_stop_words(box):
    completion = "\n    return x + 2\n@decorator\ndef broken(:\n"
    with_at = GenProblem(id="a", prompt=PROMPT, tests=TESTS, category="c", stop_words=["\n@"])
    without = GenProblem(id="b", prompt=PROMPT, tests=TESTS, category="c", stop_words=["\n#"])
    [cut, uncut] = score(box, [(with_at, completion), (without, completion)])
    assert cut.reward == 1.0 and uncut.status == "syntax_error"


def test_problem_timeout_applies(box):
    slow = "\n    import time\n    time.sleep(1.0)\n    return x + 2\n"
    fast = GenProblem(id="f", prompt=PROMPT, tests=TESTS[:1], category="c", timeout=0.3)
    roomy = GenProblem(id="r", prompt=PROMPT, tests=TESTS[:1], category="c", timeout=1.8)
    [short, long] = score(box, [(fast, slow), (roomy, slow)])
    assert short.status == "timeout" and long.reward == 1.0
