import json

import pytest

from finetune.rewards import Execution
from finetune.tapes import Tape, read_tape, tapes_to_sft
from starforge.errors import FormatError

PROMPT = 'def solve(x: int) -> int:\n    """Add 2."""'


def _write(tape: Tape, step: int, pid: str, completions: list[tuple[str, float]]) -> None:
    for k, (text, reward) in enumerate(completions):
        tape.sample(step, pid, "level1", PROMPT, text, Execution(reward, [], "ok"), sample=k, advantage=0.0)


def test_tapes_to_sft_keeps_successes_once_and_drops_contaminated(tmp_path):
    tape = Tape(tmp_path / "t.jsonl", "run1", "m")
    _write(tape, 0, "p1", [("\n    return x + 2\n", 1.0), ("\n    return x\n", 0.25), ("\n    return x + 2\n", 1.0)])
    _write(tape, 1, "p1", [("\n    return x + 2\n\ndef junk", 1.0)])  # same solution after the stop word
    tape.close()
    stats = tapes_to_sft([tmp_path / "t.jsonl"], tmp_path / "sft.jsonl")
    assert stats["kept"] == 1 and stats["duplicate"] == 2 and stats["below_threshold"] == 1
    [rec] = [json.loads(x) for x in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert rec["prompt"] == PROMPT and rec["solution"] == "\n    return x + 2\n"
    stats = tapes_to_sft([tmp_path / "t.jsonl"], tmp_path / "sft2.jsonl", decontaminate=[PROMPT], window=20)
    assert stats["kept"] == 0 and stats["contaminated"] == 1


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


def test_bad_tape_line_names_file_and_line(tmp_path):
    (tmp_path / "t.jsonl").write_text('{"type": "nonsense", "step": 0, "run_id": "r"}\n')
    with pytest.raises(FormatError, match=r"t.jsonl:1: not a tape step"):
        list(read_tape(tmp_path / "t.jsonl"))
