"""The demo's `report.md`: funnel, loss curve, pass@k and attribution hits, from the files each
stage wrote (never from a stage's internals), so it can be regenerated from a finished run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def write_report(run_dir: Path, summaries: dict[str, Any]) -> Path:
    """Render `run_dir/report.md` and its pictures; returns the report path."""
    sections = ["# starforge demo report", "",
                f"Run folder: `{run_dir}`. Every number below is read from the files the stages wrote.", ""]
    sections += _data_section(run_dir, summaries)
    sections += _pretrain_section(run_dir, summaries)
    sections += _eval_section(run_dir, summaries)
    sections += _attribution_section(run_dir, summaries)
    sections += _timing_section(summaries)
    path = run_dir / "report.md"
    path.write_text("\n".join(sections) + "\n", encoding="utf-8")
    return path


def plot_funnel(stats: dict[str, Any], path: Path) -> None:
    """Documents left after each curation step, with the removals by reason annotated."""
    labels = ["read"] + [s["step"] for s in stats["steps"]]
    counts = [stats["totals"]["files"]] + [s["kept"] for s in stats["steps"]]
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(labels) + 1.3))
    bars = ax.barh(labels[::-1], counts[::-1], color="#4c72b0")
    for bar, step in zip(bars[::-1][1:], stats["steps"]):
        why = ", ".join(f"-{n} {r}" for r, n in sorted(step["removed"].items(), key=lambda x: -x[1]) if n)
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {int(bar.get_width())}  {why}",
                va="center", fontsize=8)
    bars[-1].axes.text(counts[0], bars[-1].get_y() + bars[-1].get_height() / 2, f" {counts[0]}", va="center",
                       fontsize=8)
    ax.set_xlabel("documents")
    ax.set_title("data funnel")
    ax.set_xlim(0, max(counts) * 1.9 if counts and max(counts) else 1)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_loss(metrics_path: Path, path: Path) -> dict[str, float]:
    """Train (and validation) loss against step from pretrain's metrics.jsonl."""
    train, valid = [], []
    for line in metrics_path.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        if "loss" not in rec:
            continue
        (valid if rec.get("split") == "valid" else train).append((rec["step"], rec["loss"]))
    fig, ax = plt.subplots(figsize=(7, 4))
    if train:
        ax.plot(*zip(*train), label="train", color="#4c72b0")
    if valid:
        ax.plot(*zip(*valid), "o-", label="valid", color="#dd8452")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title("pretraining loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    out = {}
    if train:
        out.update(first_loss=train[0][1], last_loss=train[-1][1], steps=train[-1][0])
    if valid:
        out["last_valid_loss"] = valid[-1][1]
    return out


def _data_section(run_dir: Path, summaries: dict[str, Any]) -> list[str]:
    stats_path = run_dir / "data" / "stats.json"
    if not stats_path.is_file():
        return ["## Data", "", "_no data stats found_", ""]
    stats = json.loads(stats_path.read_text())
    plot_funnel(stats, run_dir / "funnel.png")
    t = stats["totals"]
    lines = ["## Data: curation funnel", "", "![funnel](funnel.png)", "",
             "| step | in | kept | removed (reason: count) |", "|---|---:|---:|---|"]
    for s in stats["steps"]:
        why = ", ".join(f"{r}: {n}" for r, n in s["removed"].items() if n) or "-"
        lines.append(f"| {s['step']} | {s['docs_in']} | {s['kept']} | {why} |")
    lines += ["", f"{t['files']} files ({t['bytes_in'] / 1e6:.1f} MB) read, {t['kept']} kept "
              f"({t['bytes_kept'] / 1e6:.1f} MB). Kept: `data/kept/`, removed with reasons: `data/removed/`.", ""]
    tok = summaries.get("tokenizer", {})
    shards = summaries.get("shards", {})
    if tok:
        lines.append(f"Tokenizer: byte-level BPE, vocabulary {tok.get('vocab_size', '?')}, in `tokenizer/`.")
    if shards:
        lines.append(f"Megatron shards: {shards.get('tokens', '?')} tokens in {shards.get('docs', '?')} "
                     "documents, in `shards/`.")
    return lines + [""]


def _pretrain_section(run_dir: Path, summaries: dict[str, Any]) -> list[str]:
    metrics = run_dir / "pretrain" / "metrics.jsonl"
    if not metrics.is_file():
        return ["## Pretraining", "", "_no metrics found_", ""]
    loss = plot_loss(metrics, run_dir / "loss.png")
    s = summaries.get("pretrain", {})
    hf = summaries.get("hf", {})
    lines = ["## Pretraining (megatron-core, FIM)", "", "![loss](loss.png)", ""]
    if loss:
        lines.append(f"Loss {loss['first_loss']:.3f} at the first logged step -> {loss['last_loss']:.3f} at step "
                     f"{loss['steps']}" + (f"; validation {loss['last_valid_loss']:.3f}." if "last_valid_loss" in loss
                                           else "."))
    if s.get("tokens_per_s"):
        lines.append(f"Throughput {s['tokens_per_s']:.0f} tokens/s on this machine's CPU.")
    if hf:
        lines.append(f"Exported to `hf/` as GPTBigCodeForCausalLM; max |logit difference| against megatron-core: "
                     f"{hf.get('max_abs_diff', float('nan')):.2e} (fp32).")
    return lines + [""]


def _eval_section(run_dir: Path, summaries: dict[str, Any]) -> list[str]:
    path = run_dir / "eval" / "metrics.json"
    if not path.is_file():
        return ["## Evaluation", "", "_no metrics found_", ""]
    metrics = json.loads(path.read_text())
    lines = ["## Evaluation (HumanEval, sandboxed)", "", "| task | metric | value |", "|---|---|---:|"]
    for task, values in metrics.items():
        if task == "config" or not isinstance(values, dict):
            continue
        for name, value in values.items():
            if isinstance(value, (int, float)):
                lines.append(f"| {task} | {name} | {value:.4f} |")
    cfg = metrics.get("config", {})
    lines += ["", f"{cfg.get('n_samples', '?')} samples per problem, temperature {cfg.get('temperature', '?')}; "
              "generations and metrics in the bigcode-evaluation-harness formats under `eval/`. "
              "A tiny model trained for minutes is expected to score near zero."]
    s = summaries.get("eval", {})
    if "canonical_pass" in s:
        n = s["canonical_problems"]
        lines.append(f"The same scorer and sandbox on the canonical solutions: {round(s['canonical_pass'] * n)}/{n} "
                     "passed (`eval/canonical_metrics.json`).")
    return lines + [""]


def _attribution_section(run_dir: Path, summaries: dict[str, Any]) -> list[str]:
    path = run_dir / "attribution" / "hits.json"
    if not path.is_file():
        return ["## Attribution", "", "_no attribution output found_", ""]
    hits = json.loads(path.read_text())
    s = summaries.get("attribution", {})
    lines = ["## Attribution", "",
             f"{s.get('generations_checked', '?')} generations checked against the index of the kept training "
             f"files; {len(hits)} overlap a training file verbatim.", ""]
    if hits:
        lines += ["| problem | sample | membership | repository | training file | lines | licence | match bytes |",
                  "|---:|---:|---:|---|---|---|---|---:|"]
        for hit in sorted(hits, key=lambda h: -h["exact"][0]["length"])[:15]:
            top = hit["exact"][0]
            lines.append(f"| {hit['problem']} | {hit['sample']} | {hit['membership']:.2f} | {top['repo']} | `{top['path']}` | "
                         f"{top['start_line']}-{top['end_line']} | {top['licence']} | {top['length']} |")
    return lines + [""]


def _timing_section(summaries: dict[str, Any]) -> list[str]:
    rows = [f"| {name} | {s.get('_seconds', 0):.1f} |" for name, s in summaries.items()]
    total = sum(s.get("_seconds", 0) for s in summaries.values())
    return ["## Time per step", "", "| step | seconds |", "|---|---:|", *rows, f"| total | {total:.1f} |", ""]
