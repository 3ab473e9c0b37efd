"""Tapes: one writer, one reader, errors with file and line (the format shared by `finetune rl`
and `eval --tape_path`)."""

from __future__ import annotations

import pytest

from starforge.errors import FormatError
from starforge.formats.tapes import Execution, Tape, read_tape

PROMPT = 'def solve(x: int) -> int:\n    """Add 2."""'


def _write(tape: Tape, step: int, pid: str, completions: list[tuple[str, float]]) -> None:
    for k, (text, reward) in enumerate(completions):
        tape.sample(step, pid, "level1", PROMPT, text, Execution(reward, [], "ok"), sample=k, advantage=0.0)


def test_every_line_is_typed_with_run_step_problem_and_revision(tmp_path):
    tape = Tape(tmp_path / "t.jsonl", "run1", "model@3")
    _write(tape, 3, "p9", [("\n    return x\n", 0.0)])
    tape.write("curriculum", 3, None, None, state={"q": {}})
    tape.close()
    recs = list(read_tape(tmp_path / "t.jsonl"))
    assert [r["type"] for r in recs] == ["prompt", "completion", "execution", "reward", "advantage", "curriculum"]
    assert all(r["run_id"] == "run1" and r["step"] == 3 and r["model_revision"] == "model@3" for r in recs)


def test_truncate_moves_uncheckpointed_steps_aside(tmp_path):
    tape = Tape(tmp_path / "t.jsonl", "r", "m")
    for step in range(4):
        _write(tape, step, "p", [("x", 0.0)])
    tape.close()
    with (tmp_path / "t.jsonl").open("a") as fh:
        fh.write('{"type": "compl')  # cut by a kill
    moved = Tape.truncate(tmp_path / "t.jsonl", 2)
    assert {r["step"] for r in read_tape(tmp_path / "t.jsonl")} == {0, 1}
    assert moved == 2 * 5 + 1 and (tmp_path / "t.discarded.jsonl").is_file()


def test_truncate_keeps_a_completion_holding_a_line_separator(tmp_path):
    with Tape(tmp_path / "t.jsonl", "r", "m") as tape:
        _write(tape, 0, "p", [("\n    s = 'a\u2028b'\n    return x\n", 1.0)])  # U+2028: not a line end in JSONL
        _write(tape, 1, "p", [("x", 0.0)])
    assert Tape.truncate(tmp_path / "t.jsonl", 1) == 5
    [completion] = [r for r in read_tape(tmp_path / "t.jsonl") if r["type"] == "completion"]
    assert "\u2028" in completion["text"]


def test_bad_tape_line_names_file_and_line(tmp_path):
    (tmp_path / "t.jsonl").write_text('{"type": "nonsense", "step": 0, "run_id": "r"}\n')
    with pytest.raises(FormatError, match=r"t.jsonl:1: not a tape step"):
        list(read_tape(tmp_path / "t.jsonl"))


def test_step_without_run_id_names_the_field(tmp_path):
    (tmp_path / "t.jsonl").write_text('{"type": "reward", "run_id": "r", "step": 0, "problem_id": "p", "category": "c", '
                                      '"sample": 0, "value": 1.0}\n{"type": "reward", "step": 1}\n')
    with pytest.raises(FormatError, match=r"t.jsonl:2: not a tape step \(missing field 'run_id'\)"):
        list(read_tape(tmp_path / "t.jsonl"))


def test_missing_tape_is_one_line_error(tmp_path):
    with pytest.raises(FormatError, match="tape not found"):
        read_tape(tmp_path / "none.jsonl")
