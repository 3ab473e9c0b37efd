"""On-policy RL from execution feedback on TRL's `GRPOTrainer`, with the Self-Evolving
Curriculum and tapes.

Reward: fraction of a problem's unit tests passing in the shared sandbox, judged outside the
completion's interpreter where the test allows it (`finetune/rewards.py`). Problems come from a
problems file (`starforge/formats/problems.py`); `--problems humaneval` (a task name, not a
file) has `starforge eval --save_problems` write that file first, as a separate command.
GRPO's group-normalised advantages and its optional KL to the reference (`beta`) are TRL's.

The one extension point (documented in docs/finetune.md): `CurriculumGRPOTrainer` subclasses
`GRPOTrainer` and overrides two methods, calling TRL's own code inside:
- `_get_train_sampler` returns a `CurriculumSampler` that keeps TRL's `RepeatSampler` index
  pattern (each prompt `num_generations` times in a row, the batch repeated
  `num_iterations x steps_per_generation` times) but picks each batch's problems by drawing
  categories from the curriculum (TRL exposes no hook for choosing the next problems);
- `_generate_and_score_completions` calls TRL's, then reads the per-sample `advantages` it
  returns (callbacks never see them) to update the curriculum and write the tape.
accelerate prefetches one batch, so a curriculum update after step k shapes the draw of step
k+2 (FACTS).

Resume: the curriculum state is saved in every `checkpoint-N/curriculum.json`; `resume`
restores the trainer (weights, optimizer, RNG) and the curriculum from the last checkpoint and
moves tape lines of steps >= N to `tape.discarded.jsonl`, so each step's rollouts appear once.
"""

from __future__ import annotations

import json
import logging
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finetune.curriculum import Curriculum, CurriculumConfig
from finetune.problems import GenProblem, read_problems
from finetune.report import write_report
from finetune.rewards import evaluate_problems, score
from finetune.sft import load_model_and_tokenizer
from starforge.config import save_config
from starforge.errors import FinetuneError
from starforge.formats.tapes import Tape
from starforge.run_dir import write_summary
from starforge.sandbox import Sandbox, SandboxConfig

log = logging.getLogger(__name__)


@dataclass
class RLConfig:
    max_steps: int = 100
    lr: float = 5e-5
    """FACTS: 5e-5 learns on the tiny model; 2e-4 was unstable."""
    num_generations: int = 8
    """Completions per problem (the GRPO group)."""
    prompts_per_step: int = 4
    max_completion_length: int = 48
    temperature: float = 1.0
    beta: float = 0.0
    """KL coefficient to the reference model; 0 turns the KL term (and the reference) off."""
    curriculum: CurriculumConfig | None = field(default_factory=CurriculumConfig)
    """Self-evolving curriculum over `category`; null samples problems uniformly (TRL's sampler)."""
    save_steps: int = 50
    seed: int = 0
    threads: int | None = 1
    heldout: Path | None = None
    """Problems JSONL evaluated greedily before and after training (pass rate, mean reward)."""
    sandbox: SandboxConfig = field(default_factory=lambda: SandboxConfig(timeout=2.0, workers=2))


def load_rl_problems(spec: str | Path, workdir: str | Path | None = None) -> list[GenProblem]:
    """A problems file, or an eval task with Python tests (humaneval, mbpp): then
    `starforge eval --tasks SPEC --save_problems` writes the file (under `workdir`, else a
    temporary folder) in a subprocess, a command a user could type; stages meet through files."""
    path = Path(spec)
    if path.suffix == ".jsonl" or path.exists():
        return read_problems(path)
    if workdir is None:
        import tempfile

        workdir = tempfile.mkdtemp(prefix="starforge-problems-")
    out = Path(workdir) / f"problems_{path.name}.jsonl"
    argv = [sys.executable, "-m", "starforge", "eval", "--tasks", str(spec), "--save_problems", str(out)]
    log.info("rl: %s is not a file; writing it as a task's problems: %s", spec, " ".join(argv[1:]))
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0 or not out.is_file():
        lines = [x for x in (done.stderr or done.stdout).strip().splitlines() if x.strip()]
        why = lines[-1].removeprefix("error: ") if lines else f"exit status {done.returncode}"
        raise FinetuneError(f"--problems {spec}: not a problems file, and `starforge eval --save_problems` "
                            f"failed: {why}")
    return read_problems(out)


class CurriculumSampler:
    """TRL's `RepeatSampler` index pattern with each batch's problems chosen by the curriculum."""

    def __init__(self, categories: list[str], curriculum: Curriculum, prompts_per_batch: int,
                 num_generations: int, repeat_count: int, num_batches: int, seed: int):
        self.by_cat: dict[str, list[int]] = {}
        for i, c in enumerate(categories):
            self.by_cat.setdefault(c, []).append(i)
        self.curriculum = curriculum
        self.prompts_per_batch = prompts_per_batch
        self.num_generations = num_generations
        self.repeat_count = repeat_count
        self.num_batches = num_batches
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        for b in range(self.num_batches):
            rng = random.Random(self.seed * 1_000_003 + b)  # batch b's draw does not depend on earlier draws
            chosen = [rng.choice(self.by_cat[self.curriculum.sample(rng)]) for _ in range(self.prompts_per_batch)]
            for _ in range(self.repeat_count):
                for i in chosen:
                    yield from [i] * self.num_generations

    def __len__(self) -> int:
        return self.num_batches * self.prompts_per_batch * self.num_generations * self.repeat_count


class ExecutionReward:
    """TRL reward function: fraction of the problem's tests passing; keeps the last batch's
    executions for the tape."""

    __name__ = "unit_tests"

    def __init__(self, sandbox: Sandbox, problems: list[GenProblem]):
        self.sandbox = sandbox
        self.problems = {p.id: p for p in problems}
        self.last: list[Any] = []

    def __call__(self, prompts, completions, problem_id, **kwargs) -> list[float]:
        self.last = score(self.sandbox, [(self.problems[i], c) for i, c in zip(problem_id, completions)])
        return [e.reward for e in self.last]


def _trainer_class():
    from trl import GRPOTrainer

    class CurriculumGRPOTrainer(GRPOTrainer):
        """GRPOTrainer + curriculum sampling + per-sample advantages to the tape (see module doc)."""

        sec: Curriculum | None = None
        tape: Tape | None = None
        reward_fn: ExecutionReward | None = None
        base_revision: str = "model"

        def _get_train_sampler(self, dataset=None):
            if self.sec is None:
                return super()._get_train_sampler(dataset)
            ds = dataset if dataset is not None else self.train_dataset
            return CurriculumSampler(
                list(ds["category"]), self.sec, self.args.generation_batch_size // self.num_generations,
                self.num_generations, self.num_iterations * self.args.steps_per_generation,
                self.args.max_steps + 2, self.args.seed)

        def _generate_and_score_completions(self, inputs):
            output = super()._generate_and_score_completions(inputs)
            step = self.state.global_step
            if self.tape is not None:  # the weights that generated these rollouts
                self.tape.model_revision = f"{self.base_revision}+rl{step}"
            advantages = output["advantages"].tolist()  # (batch,), same order as `inputs`
            texts = self.processing_class.batch_decode(output["completion_ids"], skip_special_tokens=True)
            gains: dict[str, list[float]] = {}
            sample_no: dict[str, int] = {}
            for x, text, adv, ex in zip(inputs, texts, advantages, self.reward_fn.last):
                k = sample_no[x["problem_id"]] = sample_no.get(x["problem_id"], -1) + 1
                gains.setdefault(x["category"], []).append(abs(adv))
                if self.tape is not None:
                    self.tape.sample(step, x["problem_id"], x["category"], x["prompt"], text, ex,
                                     sample=k, advantage=adv)
            if self.sec is not None:
                self.sec.update({c: sum(v) / len(v) for c, v in gains.items()})
                if self.tape is not None:
                    self.tape.write("curriculum", step, None, None, state=self.sec.state())
            if self.tape is not None:
                self.tape.flush()
            return output

    return CurriculumGRPOTrainer


def _save_callback(sec: Curriculum | None, tape: Tape):
    from transformers import TrainerCallback

    class SaveCurriculum(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            tape.flush()
            if sec is not None and ckpt.is_dir():
                sec.save(ckpt / "curriculum.json")

    return SaveCurriculum()


def last_checkpoint(trainer_dir: Path) -> Path | None:
    ckpts = sorted(trainer_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    return ckpts[-1] if ckpts else None


def rl(model_dir: str | Path, problems: str | Path, output_dir: str | Path, cfg: RLConfig | None = None,
       resume: bool = False) -> dict[str, Any]:
    """GRPO on `problems` from `model_dir`; writes model, tape.jsonl, curriculum.json,
    metrics.jsonl, summary.json and report.png (loss, reward, curriculum; `finetune/report.py`)
    under `output_dir`."""
    import torch
    from datasets import Dataset
    from trl import GRPOConfig

    cfg = cfg or RLConfig()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    probs = load_rl_problems(problems, out)
    if len({p.id for p in probs}) != len(probs):
        raise FinetuneError(f"{problems}: problem ids repeat; each problem needs its own id")
    heldout = read_problems(cfg.heldout) if cfg.heldout else []
    model, tokenizer = load_model_and_tokenizer(model_dir)
    trainer_dir = out / "trainer"
    ckpt = last_checkpoint(trainer_dir) if resume else None
    if resume and ckpt is None:
        log.warning("rl: --resume but no checkpoint in %s; starting from scratch", trainer_dir)
    run_file = out / "run_id"
    run_id = run_file.read_text().strip() if resume and run_file.is_file() else uuid.uuid4().hex[:12]
    run_file.write_text(run_id)
    tape_path = out / "tape.jsonl"
    if resume:
        moved = Tape.truncate(tape_path, int(ckpt.name.split("-")[1]) if ckpt else 0)
        if moved:
            log.info("rl: moved %d tape lines past the checkpoint to %s", moved,
                     tape_path.with_suffix(".discarded.jsonl"))
    elif tape_path.exists():
        tape_path.unlink()
    tape = Tape(tape_path, run_id, model_revision=f"{Path(model_dir).name}+rl")
    sec = Curriculum([p.category for p in probs], cfg.curriculum) if cfg.curriculum is not None else None
    if sec is not None and ckpt is not None and (ckpt / "curriculum.json").is_file():
        sec.load(ckpt / "curriculum.json")
    sandbox = Sandbox(cfg.sandbox)
    reward_fn = ExecutionReward(sandbox, probs)
    batch = cfg.prompts_per_step * cfg.num_generations
    args = GRPOConfig(
        output_dir=str(trainer_dir), max_steps=cfg.max_steps, learning_rate=cfg.lr,
        per_device_train_batch_size=batch, num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length, temperature=cfg.temperature, beta=cfg.beta,
        save_strategy="steps", save_steps=cfg.save_steps, logging_steps=1, report_to=[], seed=cfg.seed,
        use_cpu=True, bf16=False, fp16=False, gradient_checkpointing=False, disable_tqdm=True,
        dataloader_num_workers=0,
    )
    dataset = Dataset.from_list([{"prompt": p.prompt, "tests": p.tests, "category": p.category,
                                  "problem_id": p.id} for p in probs])
    cls = _trainer_class()
    trainer = cls(model=model, reward_funcs=[reward_fn], args=args, train_dataset=dataset,
                  processing_class=tokenizer, callbacks=[_save_callback(sec, tape)])
    trainer.sec, trainer.tape, trainer.reward_fn = sec, tape, reward_fn
    trainer.base_revision = Path(model_dir).name
    summary: dict[str, Any] = {"run_id": run_id, "problems": len(probs)}
    eval_tape = Tape(out / "eval_tape.jsonl", run_id, model_revision=f"{Path(model_dir).name}")
    if heldout and not ckpt:
        summary["heldout_start"] = evaluate_problems(trainer.model, tokenizer, heldout, sandbox,
                                                     cfg.max_completion_length, tape=eval_tape, step=0)
    start = time.monotonic()
    try:
        trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
    finally:
        tape.close()
    seconds = time.monotonic() - start
    trainer.save_model(str(out))
    tokenizer.save_pretrained(out)
    if sec is not None:
        sec.save(out / "curriculum.json")
    if heldout:
        eval_tape.model_revision = f"{Path(model_dir).name}+rl{trainer.state.global_step}"
        summary["heldout_end"] = evaluate_problems(trainer.model, tokenizer, heldout, sandbox,
                                                   cfg.max_completion_length, tape=eval_tape,
                                                   step=trainer.state.global_step)
    eval_tape.close()
    sandbox.close()
    history = trainer.state.log_history
    with (out / "metrics.jsonl").open("w", encoding="utf-8") as fh:
        for row in history:
            fh.write(json.dumps(row) + "\n")
    summary.update({"steps": trainer.state.global_step, "seconds": round(seconds, 2),
                    "samples_generated": trainer.state.global_step * batch,
                    "curriculum": sec.state() if sec else None, "output": str(out)})
    write_summary(out, "finetune", summary, {"model": str(out)}, command="finetune rl")
    write_report(out / "report.png", rl_dir=out)
    log.info("rl: %d steps in %.1fs; output %s", summary["steps"], seconds, out)
    return summary
