"""`starforge demo`: every stage once, end to end, on the embedded corpus, in minutes on a CPU.

The demo is a recipe: a list of the stages' own command lines, run through `starforge.cli.main`
exactly as a user would type them (each is printed before it runs, so it can be copied), meeting
only through the files they write (docs/formats.md). After each command the demo leaves
`<step>/DONE` (the command line and its seconds), so re-running it resumes after the last
finished step (`--fresh` starts over). The report (`starforge/report.py`) is drawn from each
step's `summary.json` and the pictures the stages wrote.

    runs/demo/
      data/         kept/ removed/<step>/ stats.json funnel.png   starforge data curate
      tokenizer/    Hugging Face tokenizer directory              starforge data train-tokenizer
      shards/       Megatron .bin/.idx                            starforge data tokenize
      pretrain/     metrics.jsonl loss.png checkpoints/           starforge pretrain train
      hf/           GPTBigCodeForCausalLM + tokenizer             starforge pretrain export
      eval/         generations + metrics JSON                    starforge eval
      eval-canonical/  the scorer on the canonical solutions      starforge eval --check_references
      index/        the attribution index of data/kept            starforge attribution index
      attribution/  hits.json                                     starforge attribution check-generations
      summary.json  the recipe: each step's command and seconds
      report.md     funnel, loss curve, pass@k, attribution hits
"""

from __future__ import annotations

import json
import logging
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starforge.commands import Command, run_commands
from starforge.errors import EvalError, StarforgeError
from starforge.run_dir import claim_outputs, made_by_command, write_summary

log = logging.getLogger(__name__)

@dataclass
class DemoConfig:
    output: Path = Path("runs/demo")
    """Where every stage writes; one sub-folder per step."""
    corpus: str = "builtin:stdlib"
    """Training corpus: the interpreter's standard library (PSF-2.0), or a folder of repositories."""
    workers: int = 2
    """Parallel datatrove workers (the demo targets a 2-core machine)."""
    vocab_size: int = 8192
    """BPE vocabulary: small, so the output layer does not dominate a tiny model."""
    pretrain_config: Path = Path("configs/runs/pretrain-tiny.yaml")
    """Run preset for the tiny StarCoder-shaped model (a file, or a shipped preset as the docs name it)."""
    pretrain_overrides: list[str] = field(default_factory=list)
    """Extra `key=value` overrides for the pretrain run config (each becomes a `--set`)."""
    eval_config: Path = Path("configs/eval/demo.yaml")
    """Eval preset: HumanEval, n samples per problem, sandboxed execution (a file or a shipped preset)."""
    eval_overrides: list[str] = field(default_factory=list)
    """Extra `key=value` overrides for the eval config (each becomes a `--set`)."""
    attribution_min_len: int = 32
    """Shortest verbatim span (bytes) reported as an overlap with a training file."""
    limit: int | None = None
    """Evaluate only the first N HumanEval problems (None: all 164)."""
    fresh: bool = False
    """Delete the demo's output folder (only one the demo made) and start over instead of resuming."""


@dataclass(frozen=True)
class Step:
    name: str
    """The step's folder under the output; its `summary.json` is what the report reads."""
    argv: tuple[str, ...]
    """The command line after `starforge`, as a user types it."""

    def command_line(self) -> str:
        return "starforge " + shlex.join(self.argv)


def recipe(cfg: DemoConfig) -> list[Step]:
    """The demo's command lines, in order; each reads only files the ones before it wrote."""
    out = cfg.output
    data, tokenizer, shards, pretrain, hf = out / "data", out / "tokenizer", out / "shards", out / "pretrain", out / "hf"
    workers = str(cfg.workers)
    eval_common = ["eval", "--config", str(cfg.eval_config), "--model", str(hf), "--allow_code_execution",
                   *([] if cfg.limit is None else ["--limit", str(cfg.limit)]),
                   *_sets(cfg.eval_overrides)]
    return [
        Step("data", ("data", "curate", "--input", cfg.corpus, "--output", str(data), "--workers", workers,
                      "--tasks", workers)),
        Step("tokenizer", ("data", "train-tokenizer", "--input", str(data / "kept"), "--output", str(tokenizer),
                           "--vocab-size", str(cfg.vocab_size))),
        Step("shards", ("data", "tokenize", "--input", str(data / "kept"), "--tokenizer", str(tokenizer),
                        "--output", str(shards), "--workers", workers, "--tasks", workers)),
        Step("pretrain", ("pretrain", "train", "--config", str(cfg.pretrain_config), "--tokenizer", str(tokenizer),
                          "--out-dir", str(pretrain), "--set", f"data.sources=[{{path: {shards}}}]",
                          *_sets(cfg.pretrain_overrides))),
        # export itself refuses a model whose logits differ from megatron-core's by >= 1e-4
        Step("hf", ("pretrain", "export", "--checkpoint", str(pretrain / "checkpoints"), "--output", str(hf))),
        Step("eval", (*eval_common, "--save_generations", "--save_generations_path",
                      str(out / "eval" / "generations.json"), "--metric_output_path",
                      str(out / "eval" / "metrics.json"))),
        # The same scorer and sandbox on the canonical solutions: it must pass every selected
        # problem, or the pass@k above means nothing (`check_canonical`).
        Step("eval-canonical", (*eval_common, "--check_references", "--n_samples", "1", "--metric_output_path",
                                str(out / "eval-canonical" / "metrics.json"))),
        # 32-byte spans (about one line of code): a minutes-old model rarely copies more than a line
        Step("index", ("attribution", "index", "--input", str(data), "--output", str(out / "index"),
                       "--set", f"exact.min_len={cfg.attribution_min_len}")),
        Step("attribution", ("attribution", "check-generations", str(out / "eval" / "generations_humaneval.json"),
                             "--index", str(out / "index"), "--output", str(out / "attribution"))),
    ]


def _sets(overrides: list[str]) -> list[str]:
    return [arg for item in overrides for arg in ("--set", item)]


def run_demo(cfg: DemoConfig) -> dict[str, Any]:
    """Run the recipe (resuming after the last finished step), then write the report; returns
    the demo's summary (each step's command line and seconds)."""
    from starforge import cli
    from starforge.report import write_report

    out = cfg.output
    if cfg.fresh and out.exists():
        if made_by_command(out) != "demo":
            raise StarforgeError(f"--fresh: {out} was not made by `starforge demo`; it is left alone (give another "
                                 "--output)")
        shutil.rmtree(out)
    claim_outputs("demo", {"--output": out}, {})
    steps = recipe(cfg)
    done: dict[str, dict[str, Any]] = {}
    for step in steps:
        marker = out / step.name / "DONE"
        if marker.is_file():
            done[step.name] = json.loads(marker.read_text(encoding="utf-8"))
            log.info("demo: %s already done, skipping (%s)", step.name, marker)
            continue
        print(f"$ {step.command_line()}", flush=True)
        started = time.perf_counter()
        code = cli.main(list(step.argv))
        if code != 0:
            raise StarforgeError(f"demo step {step.name} failed (exit {code}): {step.command_line()}; fix the cause "
                                 "above and run `starforge demo` again to resume from this step")
        if step.name == "eval-canonical":
            check_canonical(out / step.name / "metrics.json")
        done[step.name] = {"command": step.command_line(), "seconds": round(time.perf_counter() - started, 1)}
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(done[step.name], indent=2) + "\n", encoding="utf-8")
        log.info("demo: %s done in %.1f s", step.name, done[step.name]["seconds"])
    summary = write_summary(out, "demo", {"steps": [{"step": s.name, **done[s.name]} for s in steps],
                                          "seconds": round(sum(d["seconds"] for d in done.values()), 1)},
                            {"report": out / "report.md"}, command="demo")
    report = write_report(out, [s.name for s in steps])
    log.info("demo finished in %.1f s: %s", summary["seconds"],
             ", ".join(f"{s.name} {done[s.name]['seconds']:.0f}s" for s in steps))
    log.info("report: %s", report)
    return summary


def check_canonical(metrics_path: Path) -> None:
    """The canonical solutions must all pass under the demo's sandbox (a misconfigured sandbox
    otherwise scores every model zero)."""
    from starforge.formats.generations import read_metrics

    passed = read_metrics(metrics_path).get("humaneval", {}).get("pass@1")
    if passed != 1.0:
        raise EvalError(f"{metrics_path}: the scorer passed only {passed or 0:.1%} of the canonical HumanEval "
                        "solutions; the sandbox is misconfigured (see docs/eval.md)")


def _run(cfg: DemoConfig) -> int:
    run_demo(cfg)
    return 0


COMMAND = Command("", DemoConfig, _run, "run every stage end to end on the embedded corpus, as a recipe of "
                  "the stages' own commands")


def main(argv: list[str] | None = None) -> int:
    return run_commands("starforge demo", [COMMAND], list(sys.argv[1:] if argv is None else argv))
