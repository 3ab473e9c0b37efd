"""`starforge demo`: every stage once, end to end, on the embedded corpus, in minutes on a CPU.

The demo is only an orchestrator: each step calls one stage's public API with paths, and the
stages meet through the files they write (docs/formats.md), exactly as separate
`starforge <stage>` commands would. A finished step leaves `DONE` in its folder, so re-running
the demo resumes after the last finished step (`--set fresh=true` starts over).

    runs/demo/
      data/         kept/ removed/<step>/ stats.json      (data_pipeline)
      tokenizer/    Hugging Face tokenizer directory       (data_pipeline)
      shards/       Megatron .bin/.idx                     (data_pipeline)
      pretrain/     metrics.jsonl loss.png checkpoints/    (pretrain)
      hf/           GPTBigCodeForCausalLM + tokenizer      (pretrain export)
      eval/         generations + metrics JSON             (eval)
      attribution/  index/ hits.json                       (attribution)
      report.md     funnel, loss curve, pass@k, attribution hits
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starforge.config import add_config_args, describe, load_config, save_config
from starforge.errors import EvalError

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class DemoConfig:
    output: Path = Path("runs/demo")
    """Where every stage writes; one sub-folder per stage."""
    corpus: str = "builtin:stdlib"
    """Training corpus: the interpreter's standard library (PSF-2.0), or a folder of repositories."""
    workers: int = 2
    """Parallel datatrove workers (the demo targets a 2-core machine)."""
    vocab_size: int = 8192
    """BPE vocabulary: small, so the output layer does not dominate a tiny model."""
    pretrain_config: Path = REPO_ROOT / "configs" / "runs" / "pretrain-tiny.yaml"
    """Run preset for the tiny StarCoder-shaped model."""
    pretrain_overrides: list[str] = field(default_factory=list)
    """Extra `key=value` overrides for the pretrain run config."""
    eval_config: Path = REPO_ROOT / "configs" / "eval" / "demo.yaml"
    """Eval preset: HumanEval, n samples per problem, sandboxed execution."""
    eval_overrides: list[str] = field(default_factory=list)
    """Extra `key=value` overrides for the eval config."""
    attribution_min_len: int = 32
    """Shortest verbatim span (bytes) reported as an overlap with a training file."""
    limit: int | None = None
    """Evaluate only the first N HumanEval problems (None: all 164)."""
    fresh: bool = False
    """Delete the output folder and start over instead of resuming."""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="starforge demo", description=__doc__.splitlines()[0])
    add_config_args(parser)
    parser.add_argument("--help-config", action="store_true", help="list every config key with its default")
    args = parser.parse_args(argv)
    if args.help_config:
        print("\n".join(describe(DemoConfig)))
        return 0
    cfg = load_config(DemoConfig, args.config, args.overrides)
    run_demo(cfg)
    return 0


def run_demo(cfg: DemoConfig) -> dict[str, Any]:
    out = cfg.output
    if cfg.fresh and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")

    steps: list[tuple[str, Callable[[DemoConfig], dict[str, Any]]]] = [
        ("data", _data),
        ("tokenizer", _tokenizer),
        ("shards", _shards),
        ("pretrain", _pretrain),
        ("hf", _export),
        ("eval", _eval),
        ("attribution", _attribution),
    ]
    summaries: dict[str, Any] = {}
    timings: dict[str, float] = {}
    for name, fn in steps:
        done = out / name / "DONE"
        if done.exists():
            summaries[name] = json.loads(done.read_text())
            timings[name] = summaries[name].get("_seconds", 0.0)
            log.info("demo: %s already done (%s), skipping", name, done)
            continue
        log.info("demo: step %s", name)
        t0 = time.perf_counter()
        summary = fn(cfg)
        timings[name] = summary["_seconds"] = round(time.perf_counter() - t0, 1)
        (out / name).mkdir(parents=True, exist_ok=True)
        done.write_text(json.dumps(summary, indent=2, default=str))
        summaries[name] = summary
        log.info("demo: %s done in %.1f s", name, timings[name])

    from starforge.report import write_report

    report = write_report(out, summaries)
    total = sum(timings.values())
    log.info("demo finished in %.1f s: %s", total, ", ".join(f"{k} {v:.0f}s" for k, v in timings.items()))
    log.info("report: %s", report)
    return summaries


# Each step: call one stage's public API with paths only.

def _data(cfg: DemoConfig) -> dict[str, Any]:
    from data_pipeline.curate import CurateConfig, curate

    return curate(CurateConfig(input=cfg.corpus, output=cfg.output / "data", workers=cfg.workers, tasks=cfg.workers))


def _tokenizer(cfg: DemoConfig) -> dict[str, Any]:
    from data_pipeline.tokenize.train import TrainTokenizerConfig, train_tokenizer

    return train_tokenizer(TrainTokenizerConfig(input=cfg.output / "data" / "kept", output=cfg.output / "tokenizer",
                                                vocab_size=cfg.vocab_size))


def _shards(cfg: DemoConfig) -> dict[str, Any]:
    from data_pipeline.tokenize.shards import TokenizeConfig, tokenize

    return tokenize(TokenizeConfig(input=cfg.output / "data" / "kept", tokenizer=cfg.output / "tokenizer",
                                   output=cfg.output / "shards", workers=cfg.workers, tasks=cfg.workers))


def _pretrain(cfg: DemoConfig) -> dict[str, Any]:
    from pretrain.config import load_train_config
    from pretrain.train import train

    overrides = [f"data.sources=[{{path: {cfg.output / 'shards'}}}]", f"tokenizer={cfg.output / 'tokenizer'}",
                 f"out_dir={cfg.output / 'pretrain'}", *cfg.pretrain_overrides]
    return train(load_train_config(cfg.pretrain_config, overrides))


def _export(cfg: DemoConfig) -> dict[str, Any]:
    from pretrain.export import export

    # export() itself refuses a model whose logits differ from megatron-core's by >= 1e-4.
    return export(cfg.output / "pretrain" / "checkpoints", cfg.output / "hf")


def _eval(cfg: DemoConfig) -> dict[str, Any]:
    from eval.config import EvalConfig
    from eval.evaluate import evaluate

    eval_dir = cfg.output / "eval"
    overrides = [f"model={cfg.output / 'hf'}", f"save_generations_path={eval_dir / 'generations.json'}",
                 f"metric_output_path={eval_dir / 'metrics.json'}", "allow_code_execution=true"]
    if cfg.limit is not None:
        overrides.append(f"limit={cfg.limit}")
    result = evaluate(load_config(EvalConfig, cfg.eval_config, [*overrides, *cfg.eval_overrides]))
    # The same scorer and sandbox on the canonical solutions: it must give 164/164 (every problem
    # selected), or the pass@k above means nothing.
    reference = evaluate(load_config(EvalConfig, cfg.eval_config, [
        *overrides, *cfg.eval_overrides, "check_references=true", "n_samples=1",
        f"metric_output_path={eval_dir / 'canonical_metrics.json'}"]))
    canonical = reference["metrics"]["humaneval"]["pass@1"]
    problems = reference["stats"]["humaneval"]["problems"]
    if canonical != 1.0:
        raise EvalError(f"the scorer passed only {canonical:.1%} of the {problems} canonical HumanEval solutions; "
                        "the sandbox is misconfigured (see docs/eval.md)")
    return {"metrics": result["metrics"], "paths": {k: str(v) for k, v in result["paths"].items()},
            "stats": result.get("stats", {}), "canonical_pass": canonical, "canonical_problems": problems}


def _attribution(cfg: DemoConfig) -> dict[str, Any]:
    from attribution import Attributor, build_index
    from attribution.config import AttributionConfig

    index_dir = cfg.output / "attribution" / "index"
    # 32-byte spans (about one line of code): a minutes-old model rarely copies more than a line.
    summary = build_index(load_config(AttributionConfig, None, [f"input={cfg.output / 'data'}", f"output={index_dir}",
                                                                f"exact.min_len={cfg.attribution_min_len}"]))
    generations = json.loads((cfg.output / "eval" / "generations_humaneval.json").read_text())
    hits = []
    with Attributor(index_dir) as attributor:
        for problem, samples in enumerate(generations):
            for sample, text in enumerate(samples):
                result = attributor.check(text)
                if result["exact"]:
                    hits.append({"problem": problem, "sample": sample, "membership": result["membership"],
                                 "exact": result["exact"][:3]})
    (cfg.output / "attribution" / "hits.json").write_text(json.dumps(hits, indent=2))
    checked = sum(len(s) for s in generations)
    return {**summary, "generations_checked": checked, "generations_with_hits": len(hits),
            "hits_path": str(cfg.output / "attribution" / "hits.json")}
