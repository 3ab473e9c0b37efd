"""MBPP's prompt and test program, on records in MBPP's schema (tasks 11 and 12 of mbpp.jsonl)."""

from __future__ import annotations

import json

import pytest

from eval.tasks import get_task
from starforge.errors import EvalError

RECORDS = [
    {"task_id": 11, "text": "Write a python function to remove first and last occurrence of a given character "
     "from the string.",
     "code": "def remove_Occ(s,ch): \r\n    for i in range(len(s)): \r\n        if (s[i] == ch): \r\n"
             "            s = s[0 : i] + s[i + 1:] \r\n            break\r\n    for i in range(len(s) - 1,-1,-1):  \r\n"
             "        if (s[i] == ch): \r\n            s = s[0 : i] + s[i + 1:] \r\n            break\r\n    return s ",
     "test_list": ["assert remove_Occ(\"hello\",\"l\") == \"heo\"", "assert remove_Occ(\"abcda\",\"a\") == \"bcd\"",
                   "assert remove_Occ(\"PHP\",\"P\") == \"H\""],
     "test_setup_code": "", "challenge_test_list": []},
    {"task_id": 12, "text": "Write a function to sort a given matrix in ascending order according to the sum of "
     "its rows.",
     "code": "def sort_matrix(M):\r\n    result = sorted(M, key=sum)\r\n    return result",
     "test_list": ["assert sort_matrix([[1, 2, 3], [2, 4, 5], [1, 1, 1]])==[[1, 1, 1], [1, 2, 3], [2, 4, 5]]",
                   "assert sort_matrix([[1, 2, 3], [-2, 4, -5], [1, -1, 1]])==[[-2, 4, -5], [1, -1, 1], [1, 2, 3]]",
                   "assert sort_matrix([[5,8,9],[6,4,3],[2,1,4]])==[[2, 1, 4], [6, 4, 3], [5, 8, 9]]"],
     "test_setup_code": "", "challenge_test_list": []},
]


@pytest.fixture()
def mbpp(tmp_path):
    path = tmp_path / "mbpp.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    return get_task("mbpp", str(path))


def test_prompt_is_description_and_first_test_in_a_docstring(mbpp):
    problem = mbpp.problems()[0]
    assert problem.task_id == "mbpp/11"
    assert mbpp.prompt(problem) == f'"""\n{RECORDS[0]["text"]}\n{RECORDS[0]["test_list"][0]}\n"""\n'


def test_reference_is_every_test_line(mbpp):
    assert mbpp.reference(mbpp.problems()[1]) == "\n".join(RECORDS[1]["test_list"])


def test_stop_words_match_the_harness(mbpp):
    assert mbpp.stop_words == ("\nclass", "\nassert", '\n"""', "\nprint", "\nif", "\n<|/", "\n```")


def test_reference_solutions_pass_and_wrong_fail(mbpp, sandbox):
    problems = mbpp.problems()
    good = sandbox.run_many([mbpp.program(mbpp.canonical_generation(p), p) for p in problems])
    bad = sandbox.run_many([mbpp.program(p.prompt + "def remove_Occ(s, ch):\n    return s\n", p) for p in problems])
    assert [r.passed for r in good] == [True, True]
    assert [r.passed for r in bad] == [False, False]


def test_missing_data_says_how_to_provide_it(tmp_path):
    with pytest.raises(EvalError, match="--load_data_path"):
        get_task("mbpp", str(tmp_path / "absent.jsonl")).problems()
