"""The model card `pretrain export` writes: `HF_DIR/README.md`, the hub's YAML metadata block
(`license`, `library_name`, `pipeline_tag`, `tags`, and a `model-index` of eval results, the
fields the hub reads, https://huggingface.co/docs/hub/model-cards) followed by what StarCoder's
cards state: architecture, parameters, context length, FIM tokens, training data, evaluation.

The training data summary is read from the files the data stage leaves beside the run's shards
(`summary.json` of `starforge data tokenize`: docs and tokens; `funnel.json` of the curate run
it read: documents in and kept, removals per step). Eval results come from a `starforge eval`
metrics file (`{task: {"pass@k": ...}, "config": ...}`) or a folder holding one. What is not
found is left out of the card, never invented.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import yaml

from pretrain.model import ModelConfig

log = logging.getLogger(__name__)

FIM_TOKENS = ("<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>")
# The hub's dataset ids of the eval tasks (bigcode-evaluation-harness's sources).
TASK_DATASETS = {"humaneval": ("openai_humaneval", "HumanEval"), "mbpp": ("mbpp", "MBPP")}


def data_summary(run: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per data source of the run: path, weight, and the counts found beside it."""
    out = []
    for source in (run.get("data") or {}).get("sources") or []:
        path = Path(source.get("path", ""))
        folder = path if path.is_dir() else path.parent
        entry: dict[str, Any] = {"path": str(path), "weight": source.get("weight", 1.0)}
        summary = _read_json(folder / "summary.json")
        if summary:
            entry.update({k: summary[k] for k in ("docs", "tokens") if k in summary})
        config = folder / "config.yaml"
        kept = None
        if config.is_file():
            try:
                kept = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("input")
            except yaml.YAMLError:
                kept = None
        funnel = _read_json(Path(kept).parent / "funnel.json") if kept else None
        if funnel:
            entry["curation"] = {"docs_in": funnel["input"]["docs"], "docs_kept": funnel["kept"]["docs"],
                                 "bytes_in": funnel["input"]["bytes"], "bytes_kept": funnel["kept"]["bytes"],
                                 "steps": {s["step"]: s["docs_in"] - s["docs_out"] for s in funnel["steps"]}}
        out.append(entry)
    return out


def eval_results(eval_dir: Path | None) -> dict[str, dict[str, float]]:
    """{task: {metric: value}} from a `starforge eval` metrics file or a folder holding one."""
    if eval_dir is None:
        return {}
    files = [eval_dir] if eval_dir.is_file() else sorted(eval_dir.glob("*.json"))
    results: dict[str, dict[str, float]] = {}
    for path in files:
        data = _read_json(path)
        if not isinstance(data, dict) or "config" not in data:
            continue
        for task, metrics in data.items():
            if task != "config" and isinstance(metrics, dict):
                results[task] = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
    if not results:
        log.warning("%s: no `starforge eval` metrics file found; the model card has no eval results", eval_dir)
    return results


def write_model_card(output_dir: Path, cfg: ModelConfig, architecture: str, run: dict[str, Any], checkpoint: Path,
                     meta: dict[str, Any], tokenizer: Any, license: str, eval_dir: Path | None, name: str) -> Path:
    fim = {}
    if tokenizer is not None:
        vocab = tokenizer.get_vocab()
        fim = {t: vocab[t] for t in FIM_TOKENS if t in vocab}
    data = data_summary(run)
    results = eval_results(eval_dir)
    metadata: dict[str, Any] = {"license": license, "library_name": "transformers", "pipeline_tag": "text-generation",
                                "tags": ["code", "starforge", "gpt_bigcode" if architecture.startswith("GPTBigCode")
                                         else "starcoder2"]}
    if results:
        metadata["model-index"] = [{"name": name, "results": [
            {"task": {"type": "text-generation"},
             "dataset": {"type": TASK_DATASETS.get(task, (task, task))[0], "name": TASK_DATASETS.get(task, (task, task))[1]},
             "metrics": [{"type": metric, "value": value, "name": metric, "verified": False}
                         for metric, value in metrics.items()]}
            for task, metrics in results.items()]}]
    attention = ("multi-query" if cfg.num_query_groups == 1 else
                 "multi-head" if cfg.num_query_groups == cfg.num_attention_heads else
                 f"grouped-query ({cfg.num_query_groups} key/value heads)")
    lines = ["---", yaml.safe_dump(metadata, sort_keys=False).rstrip(), "---", "", f"# {name}", "",
             f"A {architecture} model trained with starforge (megatron-core) and exported from "
             f"`{checkpoint}` (step {meta.get('step')}).", "", "## Model", "",
             "| | |", "|---|---|",
             f"| architecture | {architecture} |",
             f"| parameters | {cfg.parameters():,} |",
             f"| layers x hidden | {cfg.num_layers} x {cfg.hidden_size} |",
             f"| attention | {cfg.num_attention_heads} heads, {attention} |",
             f"| positions | {'learned absolute' if cfg.position_embedding_type == 'learned_absolute' else 'RoPE, theta ' + format(cfg.rotary_base, 'g')} |",
             f"| context length | {cfg.max_position_embeddings:,} tokens (trained at {cfg.seq_length:,}) |"]
    if cfg.sliding_window:
        lines.append(f"| sliding window | {cfg.sliding_window:,} tokens |")
    lines.append(f"| vocabulary | {cfg.vocab_size:,} |")
    lines.append("| FIM tokens | " + (", ".join(f"`{t}` = {i}" for t, i in fim.items()) if fim else "none") + " |")
    fim_cfg = run.get("fim")
    if fim_cfg:
        lines.append(f"| FIM training | rate {fim_cfg.get('rate')}, SPM share {fim_cfg.get('spm_rate')} |")
    lines += ["", "## Training data", ""]
    if data:
        lines += ["| source | weight | documents | tokens | curation |", "|---|---|---|---|---|"]
        for d in data:
            cur = d.get("curation")
            curation = (f"{cur['docs_kept']:,} of {cur['docs_in']:,} files kept" if cur else "")
            lines.append(f"| `{d['path']}` | {d['weight']} | {d.get('docs', '')} | {d.get('tokens', '')} | {curation} |")
    else:
        lines.append("Not recorded in the run's config (no data sources).")
    lines += ["", "## Evaluation", ""]
    if results:
        lines += ["| task | metric | value |", "|---|---|---|"]
        lines += [f"| {task} | {metric} | {value:.4f} |" for task, metrics in results.items()
                  for metric, value in metrics.items()]
    else:
        lines.append("No evaluation results were given to the export (`--eval-dir`).")
    lines += ["", "## Licence", "", f"`{license}`.", ""]
    path = output_dir / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _read_json(path: Path) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        log.warning("%s: not valid JSON; left out of the model card", path)
        return None
