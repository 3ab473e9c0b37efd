"""`starforge finetune`: problems, sft, rl, sft-rl, tapes-to-sft, continue.

    starforge finetune problems --output runs/ft/problems --tiny-model runs/ft/tiny
    starforge finetune sft --model runs/ft/tiny --data runs/ft/problems/train.jsonl --output runs/ft/sft
    starforge finetune rl --model runs/ft/sft --problems runs/ft/problems/train.jsonl --output runs/ft/rl \\
        --set heldout=runs/ft/problems/heldout.jsonl --set curriculum.tau=0.1
    starforge finetune sft-rl --model runs/ft/tiny --data ... --problems ... --output ... --rl-share 0.4
    starforge finetune tapes-to-sft runs/ft/rl/tape.jsonl --output more_sft.jsonl

Each command takes `--config FILE` and `--set key=value` over its dataclass (`--help-config`).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from starforge.config import add_config_args, describe, load_config

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="starforge finetune", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("problems", help="write the generated problem family (train/heldout JSONL)")
    g.add_argument("--output", type=Path, required=True)
    g.add_argument("--n-train", type=int, default=600)
    g.add_argument("--n-heldout", type=int, default=150)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--tiny-model", type=Path, default=None, help="also write a tiny GPTBigCode + BPE here")
    g.add_argument("--model-config", type=Path, default=None, help="YAML for the tiny model "
                   "(configs/finetune/tiny-gptbigcode.yaml)")

    s = sub.add_parser("sft", help="instruction tuning on TRL's SFTTrainer (full or LoRA)")
    s.add_argument("--model", type=Path, required=True)
    s.add_argument("--data", type=Path, required=True)
    s.add_argument("--output", type=Path, required=True)
    add_config_args(s)
    s.add_argument("--help-config", action="store_true")

    r = sub.add_parser("rl", help="GRPO from execution feedback with the self-evolving curriculum")
    r.add_argument("--model", type=Path, required=True)
    r.add_argument("--problems", required=True, help="problems JSONL or an eval task with tests")
    r.add_argument("--output", type=Path, required=True)
    r.add_argument("--resume", action="store_true", help="continue from the last checkpoint and the tape")
    add_config_args(r)
    r.add_argument("--help-config", action="store_true")

    b = sub.add_parser("sft-rl", help="SFT then RL at one compute budget (arXiv 2507.04103)")
    b.add_argument("--model", type=Path, required=True)
    b.add_argument("--data", type=Path, required=True)
    b.add_argument("--problems", required=True)
    b.add_argument("--output", type=Path, required=True)
    b.add_argument("--rl-share", type=float, default=None, help="share of the budget given to RL")
    add_config_args(b)
    b.add_argument("--help-config", action="store_true")

    t = sub.add_parser("tapes-to-sft", help="successful rollouts of tapes as SFT data")
    t.add_argument("tapes", nargs="+", type=Path)
    t.add_argument("--output", type=Path, required=True)
    t.add_argument("--min-reward", type=float, default=1.0)
    t.add_argument("--decontaminate", default="humaneval,mbpp",
                   help="eval tasks whose prompts/solutions must not appear (comma list; empty: none)")

    c = sub.add_parser("continue", help="continued pretraining with pretrain's trainer (see docs/finetune.md)")
    c.add_argument("--from", dest="from_ckpt", type=Path, required=True)
    add_config_args(c)
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.command == "problems":
        from finetune.problems import generate_problems, iter_texts, write_problems

        probs = generate_problems(args.n_train, args.n_heldout, args.seed)
        train = write_problems([p for p in probs if p.split == "train"], args.output / "train.jsonl")
        held = write_problems([p for p in probs if p.split == "heldout"], args.output / "heldout.jsonl")
        result = {"train": str(train), "heldout": str(held), "problems": len(probs)}
        if args.tiny_model:
            from finetune.tiny import load_tiny_config, make_tiny_model

            make_tiny_model(args.tiny_model, iter_texts([p for p in probs if p.split == "train"]),
                            load_tiny_config(args.model_config))
            result["tiny_model"] = str(args.tiny_model)
        print(json.dumps(result))
        return 0
    if args.command == "sft":
        from finetune.sft import SFTConfig, sft

        if args.help_config:
            print("\n".join(describe(SFTConfig)))
            return 0
        print(json.dumps(sft(args.model, args.data, args.output, load_config(SFTConfig, args.config, args.overrides))))
        return 0
    if args.command == "rl":
        from finetune.rl import RLConfig, rl

        if args.help_config:
            print("\n".join(describe(RLConfig)))
            return 0
        cfg = load_config(RLConfig, args.config, args.overrides)
        print(json.dumps(rl(args.model, args.problems, args.output, cfg, resume=args.resume)))
        return 0
    if args.command == "sft-rl":
        from finetune.schedule import SftRlConfig, sft_rl

        if args.help_config:
            print("\n".join(describe(SftRlConfig)))
            return 0
        cfg = load_config(SftRlConfig, args.config, args.overrides)
        if args.rl_share is not None:
            cfg.rl_share = args.rl_share
        print(json.dumps(sft_rl(args.model, args.data, args.problems, args.output, cfg)))
        return 0
    if args.command == "tapes-to-sft":
        from finetune.tapes import contamination_texts, tapes_to_sft

        tasks = [t for t in args.decontaminate.split(",") if t.strip()]
        print(json.dumps(tapes_to_sft(args.tapes, args.output, args.min_reward, contamination_texts(tasks))))
        return 0
    if args.command == "continue":
        # StarCoder's recipe: pretrain's own trainer, weights from the base checkpoint, fresh optimizer.
        from pretrain.config import load_train_config
        from pretrain.train import train

        cfg = load_train_config(args.config, [*args.overrides, f"init_from={args.from_ckpt}"])
        print(json.dumps(train(cfg), default=str))
        return 0
    return 2
