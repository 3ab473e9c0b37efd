"""`starforge pretrain train|describe|export|launch`."""

from __future__ import annotations

import argparse
import json
import sys

from starforge.config import add_config_args


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="starforge pretrain", description="StarCoder-family pretraining on megatron-core")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train (in-process, or one process per rank under torchrun)")
    add_config_args(train)
    train.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/latest")
    describe = sub.add_parser("describe", help="parameters and FLOPs per token of a model preset")
    describe.add_argument("preset", help="preset name in configs/models/ or a YAML path")
    describe.add_argument("--json", action="store_true", help="one JSON object")
    export = sub.add_parser("export", help="checkpoint -> Hugging Face GPTBigCodeForCausalLM, logits checked")
    export.add_argument("--checkpoint", required=True, help="an iter_* directory or OUT/checkpoints")
    export.add_argument("--output", required=True, help="HF model directory to write")
    export.add_argument("--tokenizer", default=None, help="tokenizer directory (default: the run's)")
    launch = sub.add_parser("launch", help="write (and submit) a Slurm sbatch script running torchrun per node")
    add_config_args(launch)
    launch.add_argument("--slurm", action="store_true", required=True, help="target Slurm (the only launcher)")
    launch.add_argument("--nodes", type=int, required=True)
    launch.add_argument("--gpus-per-node", type=int, default=8)
    launch.add_argument("--job-name", default="starforge-pretrain")
    launch.add_argument("--partition", default=None)
    launch.add_argument("--time", default="48:00:00", help="Slurm time limit")
    launch.add_argument("--output", default=None, help="where to write the sbatch script (default OUT/launch.sbatch)")
    mode = launch.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the script, write and submit nothing")
    mode.add_argument("--submit", action="store_true", help="run sbatch on the written script")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "describe":
        from pretrain.model import load_preset

        cfg = load_preset(args.preset)
        if cfg.vocab_size is None:
            cfg.vocab_size = 49152  # the tokenizer decides at train time; describe with StarCoder's
        info = {"preset": args.preset, **cfg.summary()}
        if args.json:
            print(json.dumps(info))
        else:
            width = max(map(len, info))
            for key, value in info.items():
                shown = f"{value:,}" if isinstance(value, int) else value
                print(f"{key.ljust(width)}  {shown}")
        return 0
    if args.command == "export":
        from pretrain.export import export

        report = export(args.checkpoint, args.output, args.tokenizer)
        print(json.dumps(report, indent=2))
        return 0
    from pretrain.config import load_train_config

    cfg = load_train_config(args.config, args.overrides)
    if args.command == "launch":
        from pretrain.launch.slurm import launch

        script = launch(cfg, args.config, args.overrides, nodes=args.nodes, gpus_per_node=args.gpus_per_node,
                        job_name=args.job_name, partition=args.partition, time_limit=args.time,
                        output=args.output, dry_run=args.dry_run, submit=args.submit)
        if args.dry_run:
            sys.stdout.write(script)
        return 0
    from pretrain.train import train

    summary = train(cfg, resume=args.resume)
    print(json.dumps(summary, indent=2))
    return 0
