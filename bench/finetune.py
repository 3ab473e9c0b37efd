"""SFT only vs RL only vs SFT->RL (several RL shares) vs SFT->RL with the self-evolving or a
random curriculum, at one compute budget (samples generated + tokens trained), over seeds.

Setting (issue 10, after arXiv 2507.04103): the SFT data are demonstrations of a weaker
teacher — gold on levels 1-2, gold on only part of level 3, and some wrong demonstrations —
while RL's rewards come from the tests of all levels. Held-out pass rate = greedy completion
passes every test, on the held-out split (unseen constants and compositions).

    .venv/bin/python bench/finetune.py                      # full: 3 seeds, shares 0.2 0.4 0.6
    .venv/bin/python bench/finetune.py --seeds 0 --shares 0.4 --budget 150000   # reduced

The last line is one JSON object: sft, rl, sft_rl (best share), sft_rl_curriculum,
random_curriculum, spread, seeds, compute, best_rl_share (and per-seed figures).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from eval.sandbox import Sandbox, SandboxConfig  # noqa: E402
from finetune.curriculum import CurriculumConfig  # noqa: E402
from finetune.problems import generate_problems, iter_texts, write_problems  # noqa: E402
from finetune.rewards import evaluate_problems  # noqa: E402
from finetune.rl import RLConfig, rl  # noqa: E402
from finetune.schedule import SftRlConfig, plan  # noqa: E402
from finetune.sft import SFTConfig, load_model_and_tokenizer, sft  # noqa: E402
from finetune.tiny import TinyModelConfig, make_tiny_model  # noqa: E402


def weak_teacher(problems, seed: int, hard_share: float = 0.4, wrong_share: float = 0.15):
    """Gold demonstrations for levels 1-2, for `hard_share` of level 3; `wrong_share` of all kept
    demonstrations get a corrupted step (a dropped line)."""
    rng = random.Random(seed)
    out = []
    for p in problems:
        if p.level == 3 and rng.random() > hard_share:
            continue
        solution = p.solution
        if rng.random() < wrong_share:
            lines = solution.split("\n")
            body = [i for i, line in enumerate(lines) if line.strip() and not line.strip().startswith("return")]
            if len(body) > 1:
                del lines[rng.choice(body)]
                solution = "\n".join(lines)
            else:
                solution = solution.replace("+", "-", 1) if "+" in solution else solution.replace("-", "+", 1)
        out.append({"prompt": p.prompt, "solution": solution, "category": p.category})
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--shares", type=float, nargs="+", default=[0.2, 0.4, 0.6])
    ap.add_argument("--budget", type=int, default=250_000, help="samples generated + tokens trained")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_finetune_"))
    probs = generate_problems(600, 150, seed=0)
    train = [p for p in probs if p.split == "train"]
    heldout = [p for p in probs if p.split == "heldout"]
    train_file = write_problems(train, work / "train.jsonl")
    write_problems(heldout, work / "heldout.jsonl")
    base = make_tiny_model(work / "tiny", iter_texts(train), TinyModelConfig())
    sft_cfg = SFTConfig(lr=2e-3, batch_size=16, eval_steps=10_000, early_stopping_patience=None, valid_share=0.0)
    rl_base = dict(lr=5e-5, num_generations=8, prompts_per_step=4, max_completion_length=48, save_steps=10_000)
    sandbox = Sandbox(SandboxConfig(timeout=2.0, workers=2))
    results: dict[str, list[float]] = {}
    t0 = time.monotonic()

    def pass_rate(model_dir: Path) -> float:
        model, tok = load_model_and_tokenizer(model_dir)
        return evaluate_problems(model, tok, heldout, sandbox, 48)["pass_rate"]

    def record(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)
        print(f"{name}: {value:.3f} ({time.monotonic() - t0:.0f}s)", flush=True)

    sft_models: dict[tuple[int, int], Path] = {}

    def data_for(seed: int) -> Path:
        data = work / f"teacher{seed}.jsonl"
        if not data.exists():
            data.write_text("".join(json.dumps(r) + "\n" for r in weak_teacher(train, seed)))
        return data

    def sft_for(seed: int, steps: int) -> Path:
        if (seed, steps) not in sft_models:
            cfg = SFTConfig(**{**sft_cfg.__dict__, "max_steps": steps, "seed": seed})
            sft(base, data_for(seed), work / f"s{seed}_sft{steps}", cfg)
            sft_models[seed, steps] = work / f"s{seed}_sft{steps}"
        return sft_models[seed, steps]

    def rl_from(seed: int, start: Path, steps: int, name: str, update: bool | None) -> float:
        cfg = RLConfig(**rl_base, max_steps=steps, seed=seed,
                       curriculum=None if update is None else CurriculumConfig(update=update))
        out = work / f"s{seed}_{name}"
        rl(start, train_file, out, cfg)
        return pass_rate(out)

    def steps_at(seed: int, share: float) -> dict:
        return plan(base, data_for(seed), train_file, SftRlConfig(
            budget=args.budget, rl_share=share, sft=SFTConfig(batch_size=16), rl=RLConfig(**rl_base)))

    for seed in args.seeds:
        record("sft", pass_rate(sft_for(seed, steps_at(seed, 0.0)["sft_steps"])))
        record("rl", rl_from(seed, base, steps_at(seed, 1.0)["rl_steps"], "rl_only", None))
        for share in args.shares:  # TRL's own sampler: problems uniformly
            p = steps_at(seed, share)
            record(f"sft_rl@{share}", rl_from(seed, sft_for(seed, p["sft_steps"]), p["rl_steps"], f"rl{share}", None))
    best = max(args.shares, key=lambda s: statistics.mean(results[f"sft_rl@{s}"]))
    for seed in args.seeds:
        p = steps_at(seed, best)
        start = sft_for(seed, p["sft_steps"])
        record("sft_rl_curriculum", rl_from(seed, start, p["rl_steps"], f"sec{best}", True))
        record("random_curriculum", rl_from(seed, start, p["rl_steps"], f"rand{best}", False))
    sandbox.close()

    def mean(k):
        return statistics.mean(results[k])

    def sd(k):
        return statistics.pstdev(results[k]) if len(results[k]) > 1 else 0.0

    keys = {"sft": "sft", "rl": "rl", "sft_rl": f"sft_rl@{best}", "sft_rl_curriculum": "sft_rl_curriculum",
            "random_curriculum": "random_curriculum"}
    summary = {
        **{k: mean(v) for k, v in keys.items()},
        "spread": {k: sd(v) for k, v in keys.items()},
        "seeds": args.seeds, "compute": args.budget, "best_rl_share": best,
        "by_share": {k: {"mean": mean(k), "sd": sd(k), "runs": results[k]} for k in sorted(results)},
        "seconds": round(time.monotonic() - t0, 1),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
