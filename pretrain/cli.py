"""`starforge pretrain train|describe|import|export|launch`."""

from __future__ import annotations

import argparse
import json
import os
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
    export = sub.add_parser("export", help="checkpoint -> Hugging Face GPTBigCode / Starcoder2 + model card, "
                            "logits checked")
    export.add_argument("--checkpoint", required=True, help="an iter_* directory or OUT/checkpoints")
    export.add_argument("--output", required=True, help="HF model directory to write")
    export.add_argument("--tokenizer", default=None, help="tokenizer directory (default: the run's)")
    export.add_argument("--license", default="other", help="the model card's licence id (default: other)")
    export.add_argument("--eval-dir", default=None, help="a `starforge eval` metrics file or folder for the card")
    export.add_argument("--model-name", default=None, help="the model card's title (default: the output's name)")
    imp = sub.add_parser("import", help="Hugging Face GPTBigCode / Starcoder2 directory -> checkpoint, logits checked")
    imp.add_argument("--hf", required=True, help="Hugging Face model directory (config.json, safetensors, tokenizer)")
    imp.add_argument("--output", required=True, help="checkpoint root to write (init_from / export read it)")
    imp.add_argument("--preset", default=None, help="model preset the shape must equal (default: pick or write one)")
    imp.add_argument("--tensor-parallel", type=int, default=1, help="TP size (run under torchrun with TP x PP ranks)")
    imp.add_argument("--pipeline-parallel", type=int, default=1, help="pipeline stages")
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
        from pretrain.export import ExportConfig, export

        ex = ExportConfig(checkpoint=args.checkpoint, output=args.output, tokenizer=args.tokenizer,
                          license=args.license, eval_dir=args.eval_dir, model_name=args.model_name)
        report = export(ex.checkpoint, ex.output, ex.tokenizer, ex.check_tokens, ex.license, ex.eval_dir, ex.model_name)
        print(json.dumps(report, indent=2))
        return 0
    if args.command == "import":
        from pathlib import Path

        from pretrain.hf_import import ImportConfig, import_hf

        report = import_hf(ImportConfig(hf=Path(args.hf), output=Path(args.output), preset=args.preset,
                                        tensor_parallel=args.tensor_parallel, pipeline_parallel=args.pipeline_parallel))
        if os.environ.get("RANK", "0") == "0":
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
