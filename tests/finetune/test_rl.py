import json
import shutil

import pytest

from finetune.report import curriculum_states
from finetune.rl import RLConfig, rl
from finetune.sft import SFTConfig, sft
from starforge.formats.tapes import read_tape


def _small_rl(**kw) -> RLConfig:
    base = dict(max_steps=4, save_steps=2, num_generations=4, prompts_per_step=2, max_completion_length=24, seed=0)
    base.update(kw)
    return RLConfig(**base)


@pytest.mark.slow
def test_killed_rl_run_resumes_tape_and_curriculum_exactly(tiny_model, problem_files, tmp_path):
    out = tmp_path / "rl"
    rl(tiny_model, problem_files["train"], out, _small_rl())
    first = [r for r in read_tape(out / "tape.jsonl")]
    # the run "dies" after step 3's rollouts were written but before checkpoint-4
    shutil.rmtree(out / "trainer" / "checkpoint-4")
    summary = rl(tiny_model, problem_files["train"], out, _small_rl(), resume=True)
    resumed = list(read_tape(out / "tape.jsonl"))
    prompts_per_step = {}
    for r in resumed:
        if r["type"] == "prompt":
            prompts_per_step[r["step"]] = prompts_per_step.get(r["step"], 0) + 1
    assert prompts_per_step == {0: 2, 1: 2, 2: 2, 3: 2}  # nothing repeated, nothing lost
    assert {r["run_id"] for r in resumed} == {first[0]["run_id"]}
    curr_first = [r["state"] for r in first if r["type"] == "curriculum"]
    curr_resumed = [r["state"] for r in resumed if r["type"] == "curriculum"]
    assert curr_resumed == curr_first and summary["curriculum"]["updates"] == 4
    assert [s for _, s in curriculum_states(out / "tape.jsonl")] == curr_resumed  # the report's curves
    assert (out / "report.png").is_file()
    discarded = [json.loads(x) for x in (out / "tape.discarded.jsonl").read_text().splitlines()]
    assert {r["step"] for r in discarded} == {2, 3}
    ckpt_state = json.loads((out / "trainer" / "checkpoint-2" / "curriculum.json").read_text())
    assert ckpt_state["updates"] == 2


@pytest.mark.slow
def test_rl_from_sft_warm_start_raises_heldout_reward(tiny_model, problem_files, tmp_path):
    sft(tiny_model, problem_files["train"], tmp_path / "sft",
        SFTConfig(max_steps=150, lr=2e-3, batch_size=16, valid_share=0.0, seed=0))
    cfg = RLConfig(max_steps=40, save_steps=1000, lr=5e-5, num_generations=8, prompts_per_step=4,
                   max_completion_length=48, heldout=problem_files["heldout"], seed=0)
    summary = rl(tmp_path / "sft", problem_files["train"], tmp_path / "rl", cfg)
    start, end = summary["heldout_start"]["mean_reward"], summary["heldout_end"]["mean_reward"]
    assert end > start, (start, end)
    assert (tmp_path / "rl" / "report.png").is_file()


@pytest.mark.slow
def test_sft_rl_splits_one_budget_between_stages(tiny_model, problem_files, tmp_path):
    from finetune.schedule import SftRlConfig, sft_rl

    cfg = SftRlConfig(budget=3000, rl_share=0.5, sft=SFTConfig(batch_size=8, valid_share=0.0),
                      rl=_small_rl(max_completion_length=24))
    summary = sft_rl(tiny_model, problem_files["train"], problem_files["train"], tmp_path / "o", cfg)
    plan = summary["plan"]
    assert plan["sft_steps"] > 0 and plan["rl_steps"] > 0
    spent = plan["sft_steps"] * plan["sft_step_cost"] + plan["rl_steps"] * plan["rl_step_cost"]
    assert spent <= cfg.budget
    assert summary["sft"]["steps"] == plan["sft_steps"] and summary["rl"]["steps"] == plan["rl_steps"]
    assert (tmp_path / "o" / "model" / "config.json").is_file()
    assert summary["report"] == str(tmp_path / "o" / "report.png") and (tmp_path / "o" / "report.png").is_file()
