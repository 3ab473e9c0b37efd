"""`starforge eval --tape_path`: every executed sample on a tape in finetune's format, which
`finetune tapes-to-sft` turns back into SFT data."""

from __future__ import annotations

import json

from eval.config import EvalConfig
from eval.evaluate import evaluate
from starforge.cli import main as starforge_main
from starforge.formats.tapes import read_tape

WRONG = "\n    return None\n"


def _generations(tmp_path, humaneval, n: int = 2):
    """Canonical solution then a wrong one for the first `n` HumanEval problems (harness format)."""
    problems = humaneval.problems()[:n]
    gens = [[humaneval.canonical_generation(p), humaneval.prompt(p) + WRONG] for p in problems]
    path = tmp_path / "generations_humaneval.json"
    path.write_text(json.dumps(gens))
    return problems, path


def test_eval_appends_every_sample_with_verdict_and_reward(tmp_path, humaneval, capsys):
    problems, gens = _generations(tmp_path, humaneval)
    tape = tmp_path / "eval_tape.jsonl"
    rc = starforge_main(["eval", "--tasks", "humaneval", "--n_samples", "2", "--limit", "2", "--allow_code_execution",
                         "--load_generations_path", str(gens), "--tape_path", str(tape),
                         "--metric_output_path", str(tmp_path / "m.json")])
    assert rc == 0 and str(tape) in capsys.readouterr().out
    steps = list(read_tape(tape))
    assert len({s["run_id"] for s in steps}) == 1
    assert all(s["step"] == 0 and s["category"] == "humaneval" and s["model_revision"] == gens.name for s in steps)
    for p in problems:
        mine = [s for s in steps if s["problem_id"] == p.task_id]
        [prompt] = [s for s in mine if s["type"] == "prompt"]
        assert prompt["text"] == humaneval.prompt(p)  # the harness's prompt: stripped
        completions = {s["sample"]: s for s in mine if s["type"] == "completion"}
        assert prompt["text"] + completions[0]["text"] == humaneval.canonical_generation(p)
        assert completions[0]["text"].strip() == p.canonical_solution.strip() and completions[1]["text"] == WRONG
        assert {s["kind"] for s in completions.values()} == {"eval"}
        rewards = {s["sample"]: s["value"] for s in mine if s["type"] == "reward"}
        assert rewards == {0: 1.0, 1: 0.0}
        execs = {s["sample"]: s for s in mine if s["type"] == "execution"}
        assert {e["status"] for e in execs.values()} == {"ok"}
        [passed], [failed] = execs[0]["tests"], execs[1]["tests"]
        assert passed["passed"] and passed["result"] == "passed" and passed["test"] == humaneval.reference(p)
        assert not failed["passed"] and failed["result"].startswith("failed")
        assert passed["seconds"] >= 0


def test_a_second_eval_appends_to_the_tape(tmp_path, humaneval):
    _, gens = _generations(tmp_path, humaneval, n=1)
    cfg = EvalConfig(tasks="humaneval", n_samples=2, limit=1, allow_code_execution=True,
                     load_generations_path=str(gens), tape_path=str(tmp_path / "t.jsonl"),
                     metric_output_path=str(tmp_path / "m.json"))
    evaluate(cfg)
    evaluate(cfg)
    steps = list(read_tape(tmp_path / "t.jsonl"))
    assert len({s["run_id"] for s in steps}) == 2
    assert sum(s["type"] == "reward" for s in steps) == 4


def test_tapes_to_sft_keeps_passing_eval_samples_and_decontaminates_them(tmp_path, humaneval, capsys):
    problems, gens = _generations(tmp_path, humaneval)
    tape = tmp_path / "eval_tape.jsonl"
    evaluate(EvalConfig(tasks="humaneval", n_samples=2, limit=2, allow_code_execution=True,
                        load_generations_path=str(gens), tape_path=str(tape),
                        metric_output_path=str(tmp_path / "m.json")))
    out = tmp_path / "sft.jsonl"
    assert starforge_main(["finetune", "tapes-to-sft", str(tape), "--output", str(out), "--decontaminate", ""]) == 0
    counts = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (counts["samples"], counts["kept"], counts["below_threshold"]) == (4, 2, 2)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["problem_id"] for r in records] == [p.task_id for p in problems]
    assert all(r["prompt"] == humaneval.prompt(p) and r["solution"].strip() == p.canonical_solution.strip()
               for r, p in zip(records, problems))
    # HumanEval's own problems are exactly what decontamination against humaneval removes
    assert starforge_main(["finetune", "tapes-to-sft", str(tape), "--output", str(out),
                           "--decontaminate", "humaneval"]) == 0
    counts = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (counts["kept"], counts["contaminated"]) == (0, 2)


def test_generated_samples_go_to_the_tape(tmp_path, tiny_model_dir):
    tape = tmp_path / "t.jsonl"
    out = evaluate(EvalConfig(model=str(tiny_model_dir), tasks="humaneval", n_samples=2, batch_size=2, limit=2,
                              max_length_generation=300, temperature=0.8, seed=3, device="cpu",
                              allow_code_execution=True, save_generations=True,
                              save_generations_path=str(tmp_path / "g.json"), tape_path=str(tape),
                              metric_output_path=str(tmp_path / "m.json")))
    gens = json.loads((tmp_path / "g_humaneval.json").read_text())
    steps = list(read_tape(tape))
    assert out["paths"]["tape"] == str(tape)
    assert {s["model_revision"] for s in steps} == {tiny_model_dir.name}
    prompts = {s["problem_id"]: s["text"] for s in steps if s["type"] == "prompt"}
    texts = [(s["problem_id"], s["sample"], s["text"]) for s in steps if s["type"] == "completion"]
    assert len(texts) == 4
    for pid, k, text in texts:  # the tape's prompt + completion is the saved harness generation
        index = int(pid.split("/")[1])
        assert prompts[pid] + text == gens[index][k]
