"""`starforge pretrain train|describe|import|export|launch`.

Every command's flags come from its config dataclass (`starforge.commands`); `train` and
`launch` read a run config (`configs/runs/`, the model starting from its `preset:`), with every
top-level key as a flag and `--set optim.lr=3e-4` for the sections. `finetune continue` is
`train` reached through the dispatcher (starforge/cli.py), with `--from` setting `init_from`.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from starforge.commands import Command, run_commands
from starforge.errors import ConfigError


@dataclass
class DescribeCommand:
    preset: str | None = None
    """Preset name in configs/models/ or a YAML path."""
    json: bool = False
    """One JSON object."""


def _describe(cfg: DescribeCommand) -> int:
    from pretrain.model import load_preset

    model = load_preset(cfg.preset)
    if model.vocab_size is None:
        model.vocab_size = 49152  # the tokenizer decides at train time; describe with StarCoder's
    info = {"preset": cfg.preset, **model.summary()}
    if cfg.json:
        print(json.dumps(info))
    else:
        width = max(map(len, info))
        for key, value in info.items():
            shown = f"{value:,}" if isinstance(value, int) else value
            print(f"{key.ljust(width)}  {shown}")
    return 0


def _export(cfg) -> int:
    from pretrain.export import export

    report = export(cfg.checkpoint, cfg.output, cfg.tokenizer, cfg.check_tokens, cfg.license, cfg.eval_dir,
                    cfg.model_name)
    print(json.dumps(report, indent=2))
    return 0


def _import(cfg) -> int:
    from pretrain.hf_import import import_hf

    report = import_hf(cfg)
    if os.environ.get("RANK", "0") == "0":
        print(json.dumps(report, indent=2))
    return 0


def _train(cfg, resume: bool = False) -> int:
    from pretrain.train import train

    print(json.dumps(train(cfg, resume=resume), indent=2, default=str))
    return 0


def _launch(cfg, *, slurm: bool, nodes: int | None, gpus_per_node: int, job_name: str, partition: str | None,
            time: str, output: Path | None, dry_run: bool, submit: bool, overwrite: bool, config_path,
            overrides) -> int:
    from pretrain.launch.slurm import launch
    from starforge.executors import check_job_name

    if not slurm:
        raise ConfigError("starforge pretrain launch: --slurm is required (Slurm is the only launcher)")
    if nodes is None:
        raise ConfigError("starforge pretrain launch: --nodes is required")
    if dry_run and submit:
        raise ConfigError("starforge pretrain launch: --dry-run and --submit exclude each other")
    check_job_name(job_name)  # before anything is written: a newline would add an #SBATCH line of its own
    if output is not None and Path(output).is_dir():
        raise ConfigError(f"--output {output} is a folder; give the path of the sbatch script to write")
    if not dry_run:  # the run folder is the job's `pretrain train` folder (its Slurm logs land there first)
        from starforge.run_dir import claim_outputs

        claim_outputs("pretrain train", {"--out-dir": Path(cfg.out_dir)},
                      {k: Path(v) for k, v in (("--tokenizer", cfg.tokenizer), ("--init-from", cfg.init_from)) if v},
                      overwrite=overwrite)
    script = launch(cfg, config_path, overrides, nodes=nodes, gpus_per_node=gpus_per_node, job_name=job_name,
                    partition=partition, time_limit=time, output=output, dry_run=dry_run, submit=submit)
    if dry_run:
        sys.stdout.write(script)
    return 0


COMMANDS = [
    Command("train", "pretrain.config:TrainConfig", _train,
            "train (in-process, or one process per rank under torchrun)", load="pretrain.config:load_train_config",
            inputs=("tokenizer", "init_from"), outputs=("out_dir",),
            extras=(("resume", bool, False, "continue from OUT/checkpoints/latest"),)),
    Command("describe", DescribeCommand, _describe, "parameters and FLOPs per token of a model preset",
            positional=("preset",), required=("preset",)),
    Command("import", "pretrain.hf_import:ImportConfig", _import,
            "Hugging Face GPTBigCode / Starcoder2 directory -> checkpoint, logits checked",
            required=("hf", "output"), inputs=("hf",), outputs=("output",)),
    Command("export", "pretrain.export:ExportConfig", _export,
            "checkpoint -> Hugging Face GPTBigCode / Starcoder2 + model card, logits checked",
            required=("checkpoint", "output"), inputs=("checkpoint", "tokenizer", "eval_dir"), outputs=("output",)),
    Command("launch", "pretrain.config:TrainConfig", _launch,
            "write (and submit) a Slurm sbatch script running torchrun per node",
            load="pretrain.config:load_train_config", pass_source=True, extras=(
                ("slurm", bool, False, "target Slurm (the only launcher; required)"),
                ("nodes", int, None, "nodes to allocate (required)"),
                ("gpus_per_node", int, 8, "GPUs per node"),
                ("job_name", str, "starforge-pretrain", "Slurm job name (letters, digits, . _ -)"),
                ("partition", str, None, "Slurm partition"),
                ("time", str, "48:00:00", "Slurm time limit"),
                ("output", Path, None, "where to write the sbatch script (default OUT/launch.sbatch)"),
                ("dry_run", bool, False, "print the script, write and submit nothing"),
                ("submit", bool, False, "run sbatch on the written script"),
                ("overwrite", bool, False, "use an --out-dir that `pretrain train` did not make (the output rule)"))),
]


def main(argv: list[str] | None = None) -> int:
    return run_commands("starforge pretrain", COMMANDS, argv,
                        description="StarCoder-family pretraining on megatron-core")
