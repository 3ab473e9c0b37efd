"""`starforge finetune`: problems, sft, rl, sft-rl, tapes-to-sft, continue.

    starforge finetune problems --output runs/ft/problems --tiny-model runs/ft/tiny
    starforge finetune sft --model runs/ft/tiny --data runs/ft/problems/train.jsonl --output runs/ft/sft
    starforge finetune rl --model runs/ft/sft --problems runs/ft/problems/train.jsonl --output runs/ft/rl \\
        --set heldout=runs/ft/problems/heldout.jsonl --set curriculum.tau=0.1
    starforge finetune sft-rl --model runs/ft/tiny --data ... --problems ... --output ... --rl-share 0.4
    starforge finetune tapes-to-sft runs/ft/rl/tape.jsonl --output more_sft.jsonl
    starforge finetune continue --from CKPT --config configs/finetune/continue-tiny.yaml

Each command's flags are its config dataclass's fields (`starforge.commands`), with `--config
FILE` and `--set key=value` (`--help-config`). `continue` is pretrain's trainer: the dispatcher
(starforge/cli.py) runs `starforge pretrain train --init-from CKPT ...`, so this stage imports
nothing of pretrain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from starforge.commands import Command, extend, narrow, run_commands
from starforge.errors import FinetuneError

CONTINUE_HELP = "continued pretraining with pretrain's trainer (`starforge pretrain train --init-from CKPT`)"


@dataclass
class ProblemsCommand:
    output: Path | None = None
    """Folder for train.jsonl and heldout.jsonl."""
    n_train: int = 600
    """Training problems."""
    n_heldout: int = 150
    """Held-out problems."""
    seed: int = 0
    """Seed of the problem family."""
    tiny_model: Path | None = None
    """Also write a tiny GPTBigCode + BPE here."""
    model_config: Path | None = None
    """YAML for the tiny model (configs/finetune/tiny-gptbigcode.yaml)."""


@dataclass
class TapesToSftCommand:
    tapes: list[Path] | None = None
    """Tapes written by `finetune rl` or `eval --tape_path`."""
    output: Path | None = None
    """SFT JSONL file to write (never one of the tapes)."""
    min_reward: float = 1.0
    """Rollouts with at least this reward are kept."""
    decontaminate: str = "humaneval,mbpp"
    """Eval tasks whose prompts/solutions must not appear (comma list; empty: none)."""


def _problems(cfg: ProblemsCommand) -> int:
    from finetune.problems import generate_problems, iter_texts, write_problems

    probs = generate_problems(cfg.n_train, cfg.n_heldout, cfg.seed)
    train = write_problems([p for p in probs if p.split == "train"], cfg.output / "train.jsonl")
    held = write_problems([p for p in probs if p.split == "heldout"], cfg.output / "heldout.jsonl")
    result = {"train": str(train), "heldout": str(held), "problems": len(probs)}
    if cfg.tiny_model:
        from finetune.tiny import load_tiny_config, make_tiny_model

        make_tiny_model(cfg.tiny_model, iter_texts([p for p in probs if p.split == "train"]),
                        load_tiny_config(cfg.model_config))
        result["tiny_model"] = str(cfg.tiny_model)
    print(json.dumps(result))
    return 0


def _sft_config() -> type:
    from finetune.sft import SFTConfig

    return extend(SFTConfig, "SftCommand", [
        ("model", Path | None, None, "base model: a Hugging Face model directory"),
        ("data", Path | None, None, "SFT data JSONL (prompt/solution or instruction/response)"),
        ("output", Path | None, None, "output folder (never the model's)")])


def _sft(cfg) -> int:
    from finetune.sft import SFTConfig, sft

    print(json.dumps(sft(cfg.model, cfg.data, cfg.output, narrow(cfg, SFTConfig))))
    return 0


def _rl_config() -> type:
    from finetune.rl import RLConfig

    return extend(RLConfig, "RlCommand", [
        ("model", Path | None, None, "policy to start from: a Hugging Face model directory"),
        ("problems", str | None, None, "problems JSONL or an eval task with tests"),
        ("output", Path | None, None, "output folder (checkpoints, tape, metrics)")])


def _rl(cfg, resume: bool = False) -> int:
    from finetune.rl import RLConfig, rl

    print(json.dumps(rl(cfg.model, cfg.problems, cfg.output, narrow(cfg, RLConfig), resume=resume)))
    return 0


def _sft_rl_config() -> type:
    from finetune.schedule import SftRlConfig

    return extend(SftRlConfig, "SftRlCommand", [
        ("model", Path | None, None, "base model: a Hugging Face model directory"),
        ("data", Path | None, None, "SFT data JSONL"),
        ("problems", str | None, None, "problems JSONL or an eval task with tests"),
        ("output", Path | None, None, "output folder")])


def _sft_rl(cfg) -> int:
    from finetune.schedule import SftRlConfig, sft_rl

    print(json.dumps(sft_rl(cfg.model, cfg.data, cfg.problems, cfg.output, narrow(cfg, SftRlConfig))))
    return 0


def _tapes_to_sft(cfg: TapesToSftCommand) -> int:
    missing = [str(t) for t in cfg.tapes if not Path(t).is_file()]
    if missing:  # before the benchmarks are loaded (MBPP may try the hub)
        raise FinetuneError(f"{missing[0]}: no such tape file; pass tapes written by `finetune rl`")
    from finetune.tapes import contamination_texts, tapes_to_sft

    tasks = [t for t in cfg.decontaminate.split(",") if t.strip()]
    print(json.dumps(tapes_to_sft(cfg.tapes, cfg.output, cfg.min_reward, contamination_texts(tasks))))
    return 0


COMMANDS = [
    Command("problems", ProblemsCommand, _problems, "write the generated problem family (train/heldout JSONL)",
            required=("output",), inputs=("model_config",), outputs=("output", "tiny_model")),
    Command("sft", _sft_config, _sft, "instruction tuning on TRL's SFTTrainer (full or LoRA)",
            required=("model", "data", "output"), inputs=("model", "data", "valid_file"), outputs=("output",)),
    Command("rl", _rl_config, _rl, "GRPO from execution feedback with the self-evolving curriculum",
            required=("model", "problems", "output"), inputs=("model", "problems", "heldout"), outputs=("output",),
            extras=(("resume", bool, False, "continue from the last checkpoint and the tape"),)),
    Command("sft-rl", _sft_rl_config, _sft_rl, "SFT then RL at one compute budget (arXiv 2507.04103)",
            required=("model", "data", "problems", "output"), inputs=("model", "data", "problems"),
            outputs=("output",)),
    Command("tapes-to-sft", TapesToSftCommand, _tapes_to_sft, "successful rollouts of tapes as SFT data",
            positional=("tapes",), required=("tapes", "output"), inputs=("tapes",), output_files=("output",)),
]


def main(argv: list[str] | None = None) -> int:
    return run_commands("starforge finetune", COMMANDS, argv,
                        description=__doc__.split("\n")[0] + f"\n\n(continue: {CONTINUE_HELP})")
