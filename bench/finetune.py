"""SFT only vs RL only vs SFT->RL (several RL shares) vs SFT->RL with the self-evolving or a
random curriculum, at one compute budget (samples generated + tokens trained), over seeds.

Setting (issue 10, after arXiv 2507.04103): the SFT data are demonstrations of a weaker
teacher — gold on levels 1-2, gold on only part of level 3, and some wrong demonstrations —
while RL's rewards come from the tests of all levels. Held-out pass rate = greedy completion
passes every test, on the held-out split (unseen constants and compositions).

    python -m bench.finetune                      # full: 3 seeds, shares 0.2 0.4 0.6
    python -m bench.finetune --seeds 0 --shares 0.4 --budget 150000   # reduced

The default budget (600,000) is where SFT on the weak teacher has flattened; below ~300 SFT
steps the tiny model solves next to nothing (docs/finetune.md, "Why the first runs scored ~0").

Runs are independent processes (`--jobs` at once, each on one torch thread with its own
sandbox): phase 1 is SFT only, RL only and SFT->RL at every share for every seed; phase 2 is
the curriculum pair at the share with the best mean. The last line is one JSON object: sft,
rl, sft_rl (best share), sft_rl_curriculum, random_curriculum, spread, seeds, compute,
best_rl_share (and per-run figures).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from finetune.curriculum import CurriculumConfig
from finetune.problems import generate_problems, iter_texts, read_problems, write_problems
from finetune.rl import RLConfig
from finetune.schedule import SftRlConfig, plan
from finetune.sft import SFTConfig
from finetune.tiny import TinyModelConfig, make_tiny_model

SFT_ARGS = dict(lr=2e-3, batch_size=16, eval_steps=10_000, early_stopping_patience=None, valid_share=0.0)
RL_ARGS = dict(lr=1e-4, num_generations=8, prompts_per_step=4, max_completion_length=48, save_steps=10_000)
"""RL lr 1e-4: FACTS found 5e-5 learning and 2e-4 unstable over 300 steps; the runs here have
25-150 RL steps, where 2e-4 stayed stable and 5e-5 barely moved (docs/finetune.md)."""


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


def _quiet() -> None:
    import torch
    from transformers.utils import logging as hf_logging

    torch.set_num_threads(1)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    try:
        import datasets

        datasets.disable_progress_bars()
    except ImportError:
        pass


def _pass_rate(model_dir: Path, heldout: Path) -> float:
    from finetune.rewards import evaluate_problems
    from finetune.sft import load_model_and_tokenizer
    from starforge.sandbox import Sandbox, SandboxConfig

    model, tok = load_model_and_tokenizer(model_dir)
    with Sandbox(SandboxConfig(timeout=2.0, workers=1)) as box:
        return evaluate_problems(model, tok, read_problems(heldout), box, RL_ARGS["max_completion_length"])["pass_rate"]


def run(work: str, seed: int, sft_steps: int, rl_steps: int, curriculum: str | None, name: str) -> dict:
    """One schedule in a worker process: SFT for `sft_steps` (a model per (seed, steps) is
    reused), then RL for `rl_steps` from it (`curriculum`: None = TRL's sampler, "sec", "random"),
    then the held-out pass rate."""
    _quiet()
    with contextlib.redirect_stdout(io.StringIO()):  # the HF Trainer prints every log row
        return _run(Path(work), seed, sft_steps, rl_steps, curriculum, name)


def _run(root: Path, seed: int, sft_steps: int, rl_steps: int, curriculum: str | None, name: str) -> dict:
    from finetune.rl import rl
    from finetune.sft import sft
    from starforge.sandbox import SandboxConfig

    t0 = time.monotonic()
    model, extra = root / "tiny", {}
    if sft_steps > 0:
        model = root / f"s{seed}_sft{sft_steps}"
        if not (model / "summary.json").is_file():
            sft(root / "tiny", root / f"teacher{seed}.jsonl", model,
                SFTConfig(**SFT_ARGS, max_steps=sft_steps, seed=seed))
    if rl_steps > 0:
        cur = None if curriculum is None else CurriculumConfig(update=curriculum == "sec")
        out = root / f"s{seed}_{name}"
        extra = rl(model, root / "train.jsonl", out, RLConfig(**RL_ARGS, max_steps=rl_steps, seed=seed, curriculum=cur,
                                                       sandbox=SandboxConfig(timeout=2.0, workers=1)))
        model = out
        rewards = [json.loads(x).get("reward") for x in (out / "metrics.jsonl").read_text().splitlines()]
        rewards = [r for r in rewards if r is not None]
        extra = {"train_reward_first10": statistics.mean(rewards[:10]), "train_reward_last10": statistics.mean(rewards[-10:]),
                 "curriculum": extra.get("curriculum")}
    return {"name": name, "seed": seed, "pass": _pass_rate(model, root / "heldout.jsonl"),
            "sft_steps": sft_steps, "rl_steps": rl_steps, "seconds": round(time.monotonic() - t0, 1), **extra}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--shares", type=float, nargs="+", default=[0.2, 0.4, 0.6])
    ap.add_argument("--budget", type=int, default=600_000, help="samples generated + tokens trained")
    ap.add_argument("--jobs", type=int, default=2, help="runs at once (one torch thread each)")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    _quiet()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_finetune_"))
    probs = generate_problems(600, 150, seed=0)
    train = [p for p in probs if p.split == "train"]
    train_file = write_problems(train, work / "train.jsonl")
    write_problems([p for p in probs if p.split == "heldout"], work / "heldout.jsonl")
    base = make_tiny_model(work / "tiny", iter_texts(train), TinyModelConfig())
    for seed in args.seeds:
        data = weak_teacher(train, seed)
        (work / f"teacher{seed}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in data))

    def steps_at(seed: int, share: float) -> dict:
        return plan(base, work / f"teacher{seed}.jsonl", train_file, SftRlConfig(
            budget=args.budget, rl_share=share, sft=SFTConfig(batch_size=SFT_ARGS["batch_size"]),
            rl=RLConfig(**RL_ARGS)))

    results: dict[str, list[float]] = {}
    runs: list[dict] = []
    t0 = time.monotonic()

    def execute(jobs: list[tuple]) -> None:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=ctx) as pool:
            futures = [pool.submit(run, str(work), *job) for job in jobs]
            for fut in as_completed(futures):
                r = fut.result()
                runs.append(r)
                results.setdefault(r["name"], []).append(r["pass"])
                print(f"{r['name']} seed {r['seed']}: {r['pass']:.3f} ({r['sft_steps']} SFT + {r['rl_steps']} RL steps, "
                      f"{r['seconds']:.0f}s; {time.monotonic() - t0:.0f}s elapsed)", flush=True)

    phase1 = []
    for seed in args.seeds:
        # RL only gets the whole budget from the untrained model: every reward 0 (FACTS)
        phase1.append((seed, 0, steps_at(seed, 1.0)["rl_steps"], None, "rl"))
        for share in args.shares:  # TRL's own sampler: problems uniformly
            p = steps_at(seed, share)
            phase1.append((seed, p["sft_steps"], p["rl_steps"], None, f"sft_rl@{share}"))
        phase1.append((seed, steps_at(seed, 0.0)["sft_steps"], 0, None, "sft"))
    execute(phase1)
    best = max(args.shares, key=lambda s: statistics.mean(results[f"sft_rl@{s}"]))
    phase2 = []
    for seed in args.seeds:
        p = steps_at(seed, best)
        phase2.append((seed, p["sft_steps"], p["rl_steps"], "sec", "sft_rl_curriculum"))
        phase2.append((seed, p["sft_steps"], p["rl_steps"], "random", "random_curriculum"))
    execute(phase2)

    def mean(k):
        return statistics.mean(results[k])

    def sd(k):
        return statistics.stdev(results[k]) if len(results[k]) > 1 else 0.0

    keys = {"sft": "sft", "rl": "rl", "sft_rl": f"sft_rl@{best}", "sft_rl_curriculum": "sft_rl_curriculum",
            "random_curriculum": "random_curriculum"}
    p = steps_at(args.seeds[0], best)
    summary = {
        **{k: round(mean(v), 4) for k, v in keys.items()},
        "spread": {k: round(sd(v), 4) for k, v in keys.items()},
        "seeds": args.seeds, "compute": args.budget, "best_rl_share": best,
        "steps_at_best": {"sft": p["sft_steps"], "rl": p["rl_steps"]},
        "by_run": {k: {"mean": round(mean(k), 4), "sd": round(sd(k), 4), "runs": results[k]} for k in sorted(results)},
        "seconds": round(time.monotonic() - t0, 1),
    }
    (work / "runs.json").write_text(json.dumps(runs, indent=1))
    print(f"per-run details: {work / 'runs.json'}")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
