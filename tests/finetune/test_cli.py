import json

from finetune.rewards import Execution
from starforge.cli import main
from starforge.formats.tapes import Tape


def test_problems_command_writes_train_and_heldout(tmp_path, capsys):
    assert main(["finetune", "problems", "--output", str(tmp_path), "--n-train", "300", "--n-heldout", "60"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["problems"] == 360
    rec = json.loads((tmp_path / "heldout.jsonl").read_text().splitlines()[0])
    assert {"prompt", "tests", "category"} <= set(rec)


def test_sft_on_a_bad_line_is_a_one_line_error(tiny_model, tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "def f():", "solution": "\\n    return 1\\n"}\n{"instruction": 7, "response": "x"}\n')
    code = main(["finetune", "sft", "--model", str(tiny_model), "--data", str(data), "--output", str(tmp_path / "o")])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and last.startswith("error: ") and "d.jsonl:2" in last


def test_rl_with_a_model_dir_that_does_not_load(problem_files, tmp_path, capsys):
    (tmp_path / "m").mkdir()  # a folder, but no model (the output lies beside it: the output rule)
    code = main(["finetune", "rl", "--model", str(tmp_path / "m"), "--problems", str(problem_files["train"]),
                 "--output", str(tmp_path / "o")])
    assert code == 2 and "not a Hugging Face model directory" in capsys.readouterr().err


def test_tapes_to_sft_command(tmp_path, capsys):
    tape = Tape(tmp_path / "t.jsonl", "r", "m")
    tape.sample(0, "p", "level1", "def solve(x):", "\n    return x\n", Execution(1.0, [], "ok"), sample=0)
    tape.close()
    assert main(["finetune", "tapes-to-sft", str(tmp_path / "t.jsonl"), "--output", str(tmp_path / "s.jsonl"),
                 "--decontaminate", ""]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["kept"] == 1


def test_continue_from_a_missing_checkpoint_is_one_line_error(tmp_path, capsys):
    assert main(["finetune", "continue", "--from", str(tmp_path / "nope"), "--config",
                 "configs/finetune/continue-tiny.yaml", "--set", f"out_dir={tmp_path / 'out'}",
                 "--set", f"tokenizer={tmp_path / 'no-tokenizer'}"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "nope: checkpoint directory not found" in errors[0]
