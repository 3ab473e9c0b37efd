"""The demo's `report.md`: funnel, loss curve, pass@k and attribution hits, read only from each
step's `summary.json` (one schema, `starforge/run_dir.py`'s `write_summary`) and the pictures the
stages drew, so it can be regenerated from a finished run and knows nothing of a stage's insides.

Every step's folder holds a `summary.json` (starforge/run_dir.py's one schema) except eval's:
its summary is the harness's metrics file (docs/formats.md), which `SUMMARY_FILES` names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from starforge.plots import plot_pass_at_k

SUMMARY_FILES: dict[str, tuple[str, ...]] = {
    "eval": ("summary.json", "metrics.json"),
    "eval-canonical": ("summary.json", "metrics.json"),
}
"""Where a step's summary lives (default: its folder's summary.json)."""


def read_summary(run_dir: Path, step: str) -> dict[str, Any]:
    """The summary a step left (an empty dict when it has none, e.g. not run yet)."""
    for name in SUMMARY_FILES.get(step, ("summary.json",)):
        path = run_dir / step / name
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    return {}


def write_report(run_dir: Path, steps: Iterable[str]) -> Path:
    """Render `run_dir/report.md` (and `pass_at_k.png`) from the steps' summaries; returns its path."""
    s = {step: read_summary(run_dir, step) for step in steps}
    demo_summary = run_dir / "summary.json"  # the demo's own: each step's command and seconds
    demo = json.loads(demo_summary.read_text(encoding="utf-8")) if demo_summary.is_file() else {}
    sections = ["# starforge demo report", "",
                f"Run folder: `{run_dir}`. Every number below is read from the `summary.json` each step wrote; "
                "every command is in the table at the end, to be run again by hand.", ""]
    sections += _data_section(run_dir, s)
    sections += _pretrain_section(run_dir, s)
    sections += _eval_section(run_dir, s)
    sections += _attribution_section(s)
    sections += _steps_section(demo)
    path = run_dir / "report.md"
    path.write_text("\n".join(sections) + "\n", encoding="utf-8")
    return path


def _picture(run_dir: Path, rel: str, alt: str) -> list[str]:
    return [f"![{alt}]({rel})", ""] if (run_dir / rel).is_file() else [f"_no {rel}_", ""]


def _data_section(run_dir: Path, s: Mapping[str, dict[str, Any]]) -> list[str]:
    data = s.get("data", {})
    if "totals" not in data:
        return ["## Data", "", "_no data summary found_", ""]
    t = data["totals"]
    lines = ["## Data: curation funnel", "", *_picture(run_dir, "data/funnel.png", "funnel"),
             "| step | in | kept | removed (reason: count) |", "|---|---:|---:|---|"]
    for step in data["steps"]:
        why = ", ".join(f"{r}: {n}" for r, n in step["removed"].items() if n) or "-"
        lines.append(f"| {step['step']} | {step['docs_in']} | {step['kept']} | {why} |")
    lines += ["", f"{t['files']} files ({t['bytes_in'] / 1e6:.1f} MB) read, {t['kept']} kept "
              f"({t['bytes_kept'] / 1e6:.1f} MB). Kept: `data/kept/`, removed with reasons: `data/removed/`.", ""]
    tok, shards = s.get("tokenizer", {}), s.get("shards", {})
    if tok:
        lines.append(f"Tokenizer: byte-level BPE, vocabulary {tok.get('vocab_size', '?')}, in `tokenizer/`.")
    if shards:
        lines.append(f"Megatron shards: {shards.get('tokens', '?')} tokens in {shards.get('docs', '?')} "
                     "documents, in `shards/`.")
    return lines + [""]


def _pretrain_section(run_dir: Path, s: Mapping[str, dict[str, Any]]) -> list[str]:
    p = s.get("pretrain", {})
    if not p:
        return ["## Pretraining", "", "_no pretraining summary found_", ""]
    lines = ["## Pretraining (megatron-core, FIM)", "", *_picture(run_dir, "pretrain/loss.png", "loss")]
    if p.get("first_loss") is not None and p.get("final_loss") is not None:
        lines.append(f"Loss {p['first_loss']:.3f} at the first logged step -> {p['final_loss']:.3f} at step "
                     f"{p.get('steps', '?')}.")
    if p.get("tokens_per_s"):
        lines.append(f"Throughput {p['tokens_per_s']:.0f} tokens/s on this machine's CPU.")
    hf = s.get("hf", {})
    if "max_abs_diff" in hf:
        lines.append(f"Exported to `hf/` as {hf.get('architecture', 'GPTBigCodeForCausalLM')}; max |logit difference| "
                     f"against megatron-core: {hf['max_abs_diff']:.2e} (fp32).")
    return lines + [""]


def eval_metrics(summary: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """{task: {metric: value}} from an eval summary (its `metrics`, or the harness metrics layout)."""
    metrics = summary.get("metrics", summary)
    return {task: values for task, values in metrics.items() if task != "config" and isinstance(values, dict)}


def _problems(summary: Mapping[str, Any], task: str) -> int | None:
    stats = summary.get("stats", {}).get(task, {})
    return stats.get("problems") or summary.get("config", {}).get("limit")


def _eval_section(run_dir: Path, s: Mapping[str, dict[str, Any]]) -> list[str]:
    summary = s.get("eval", {})
    metrics = eval_metrics(summary)
    if not metrics:
        return ["## Evaluation", "", "_no eval summary found_", ""]
    plot_pass_at_k(metrics, run_dir / "pass_at_k.png", title="pass@k (HumanEval, sandboxed)")
    lines = ["## Evaluation (HumanEval, sandboxed)", "", "![pass@k](pass_at_k.png)", "",
             "| task | metric | value |", "|---|---|---:|"]
    for task, values in metrics.items():
        lines += [f"| {task} | {name} | {value:.4f} |" for name, value in values.items()
                  if isinstance(value, (int, float))]
    cfg = summary.get("config", {})
    lines += ["", f"{cfg.get('n_samples', '?')} samples per problem, temperature {cfg.get('temperature', '?')}; "
              "generations and metrics in the bigcode-evaluation-harness formats under `eval/`. "
              "A tiny model trained for minutes is expected to score near zero."]
    canonical = s.get("eval-canonical", {})
    passed = eval_metrics(canonical).get("humaneval", {}).get("pass@1")
    if passed is not None:
        n = _problems(canonical, "humaneval")
        shown = f"{round(passed * n)}/{n}" if n else f"pass@1 {passed:.3f}"
        lines.append(f"The same scorer and sandbox on the canonical solutions: {shown} passed "
                     "(`eval-canonical/metrics.json`).")
    return lines + [""]


def _attribution_section(s: Mapping[str, dict[str, Any]]) -> list[str]:
    a = s.get("attribution", {})
    if "generations_checked" not in a:
        return ["## Attribution", "", "_no attribution summary found_", ""]
    lines = ["## Attribution", "",
             f"{a['generations_checked']} generations checked against the index of the kept training files "
             f"(`index/`); {a['generations_with_hits']} overlap a training file verbatim (`attribution/hits.json`).",
             ""]
    if a.get("top_hits"):
        lines += ["| problem | sample | membership | repository | training file | lines | licence | match bytes |",
                  "|---:|---:|---:|---|---|---|---|---:|"]
        for hit in a["top_hits"]:
            top = hit["exact"][0]
            lines.append(f"| {hit['problem']} | {hit['sample']} | {hit['membership']:.2f} | {top['repo']} | "
                         f"`{top['path']}` | {top['start_line']}-{top['end_line']} | {top['licence']} | "
                         f"{top['length']} |")
    return lines + [""]


def _steps_section(demo: Mapping[str, Any]) -> list[str]:
    steps = demo.get("steps", [])
    rows = [f"| {st['step']} | `{st['command']}` | {st['seconds']:.1f} |" for st in steps]
    return ["## The recipe: commands and time per step", "", "| step | command | seconds |", "|---|---|---:|",
            *rows, f"| total | | {demo.get('seconds', 0):.1f} |", ""]
