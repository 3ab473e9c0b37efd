"""`starforge data curate`: a corpus in, kept/ and removed/<step>/ JSONL out, StarCoder's chain.

    DIR/kept/<rank>.jsonl.gz             files to train on (format: starforge/formats/records.py)
    DIR/removed/<step>/<rank>.jsonl.gz   every other input file, with metadata.reason
    DIR/stats.json                       counts and bytes per step, totals
    DIR/funnel.json, DIR/funnel.png      docs and bytes left after each step, per language
    DIR/config.yaml                      the resolved CurateConfig
    DIR/logs/<stage>/                    datatrove logs, per-task stats and completion markers
    DIR/work/sources.jsonl               the input files, listed once (folder inputs)
    DIR/work/filtered/, work/dedup/      intermediates of deduplication

The steps and their order are in `pipelines.py`. Re-running with the same config skips the
tasks datatrove marked complete and reuses the saved listing (files added to the input since
are not picked up: use a new DIR for a fresh run); a different config on the same DIR is
refused, so a run never mixes two configs. `dry_run` prints the plan (stages, steps, tasks,
and for Slurm the sbatch scripts) and runs nothing.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from data_pipeline import pipelines
from data_pipeline.config import CurateConfig
from data_pipeline.executor import build_executors, describe_plan, run_stages
from data_pipeline.funnel import write_funnel
from data_pipeline.readers.inputs import input_format
from data_pipeline.readers.sources import list_sources, load_listing, save_listing
from starforge.errors import ConfigError, DataError
from starforge.run_dir import prepare

log = logging.getLogger(__name__)

STAGES = pipelines.STAGES
__all__ = ["CurateConfig", "curate", "collect_stats"]  # CurateConfig lives in config.py (no cycle)

RESUME_NEUTRAL = ("workers", "batch_size", "executor", "dry_run", "slurm")
"""Keys that may change between a run and its resumption (they do not change any output)."""


def curate(cfg: CurateConfig) -> dict:
    """Run the curation stages (pipelines.STAGES); returns (and writes to stats.json) the summary."""
    if cfg.output is None:
        raise ConfigError("curate needs an output folder: pass --output DIR (or set output: in the config)")
    out = Path(cfg.output)
    fmt = input_format(cfg)
    if fmt != "hf" and not cfg.input.startswith("builtin:") and out.resolve().is_relative_to(
            Path(cfg.input).resolve()):
        raise DataError(f"output '{out}' is inside input '{cfg.input}': it would be read as input; "
                        "choose an output folder outside it")
    listing = out / pipelines.LISTING
    files = None
    if fmt == "repositories":
        files = list_sources(cfg.input, cfg.include_site_packages, cfg.site_packages)
        if not files:
            raise DataError(f"input '{cfg.input}': no files found; point --input at a folder of repositories")
    elif fmt == "stack" and not Path(cfg.input).exists():
        raise DataError(f"input '{cfg.input}': no such file or folder")

    stage_pipelines = pipelines.stage_pipelines(cfg, out)
    if cfg.dry_run:
        plan = describe_plan(cfg, out, stage_pipelines)
        print(plan)
        return {"dry_run": True, "plan": plan}

    prepare(out, cfg, inputs=[] if fmt == "hf" or cfg.input.startswith("builtin:") else [cfg.input],
            command="data curate", neutral=RESUME_NEUTRAL)
    if files is not None:
        if not listing.is_file():  # a resumed run keeps the listing its finished tasks used
            save_listing(files, listing)
        else:
            files = load_listing(listing)
        log.info("curating %d files from %s into %s (%d tasks, %d workers, %s)", len(files), cfg.input, out,
                 cfg.tasks, cfg.workers, cfg.executor)
    else:
        log.info("curating %s (%s) into %s (%d tasks, %d workers, %s)", cfg.input, fmt, out, cfg.tasks,
                 cfg.workers, cfg.executor)

    started = time.perf_counter()
    executors = build_executors(cfg, out, stage_pipelines)
    if not run_stages(cfg, out, executors):
        log.info("curate: jobs submitted to %s; run the same command again when they finish to write stats.json",
                 cfg.executor)
        return {"submitted": True}
    wall = time.perf_counter() - started

    stats = collect_stats(out, wall)
    (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    write_funnel(stats, out)
    _log_summary(stats, out)
    if stats["totals"]["kept"] == 0:
        raise DataError(f"input '{cfg.input}': no file kept out of {stats['totals']['files']}; "
                        f"see {out / 'removed'} for the reasons")
    return stats


def collect_stats(out: Path, wall_s: float | None = None) -> dict:
    """stats.json from the per-task datatrove stats of every stage (complete even after a resume)."""
    merged = {stage: _merge_task_stats(out / "logs" / stage) for stage in STAGES}
    reader_stats = merged["filter"]
    reader = next((s for name, s in reader_stats.items() if "documents" in s and name not in pipelines.STEPS), {})
    steps = []
    for name, stage in pipelines.STEPS.items():
        if name not in merged[stage]:
            continue  # switched off in this run
        s = merged[stage][name]
        removed = {k.removeprefix("dropped_"): v for k, v in s.items() if k.startswith("dropped_")}
        step = {"step": name, "docs_in": s.get("total", 0), "kept": s.get("forwarded", 0) + s.get("added", 0),
                "removed": removed, "bytes_in": s.get("bytes_in", 0), "bytes_removed": s.get("bytes_dropped", 0),
                "tokens_in": s.get("tokens_in", 0), "tokens_removed": s.get("tokens_dropped", 0),
                "by_language": _by_language(s)}
        if s.get("added"):
            step["added"] = s["added"]
        extra = {k: v for k, v in s.items() if k.startswith("contaminated/")}
        if extra:
            step["hits"] = {k.removeprefix("contaminated/"): v for k, v in extra.items()}
        steps.append(step)
    by_reason: dict[str, int] = {}
    for step in steps:
        for reason, count in step["removed"].items():
            by_reason[reason] = by_reason.get(reason, 0) + count
    files = reader.get("documents", 0)
    bytes_in = reader.get("bytes", reader.get("doc_len", 0))
    kept = steps[-1]["kept"] if steps else 0
    bytes_kept = steps[-1]["bytes_in"] - steps[-1]["bytes_removed"] if steps else 0
    tokens_kept = steps[-1]["tokens_in"] - steps[-1]["tokens_removed"] if steps else 0
    bytes_read = next((s["bytes_in"] for s in steps if s["step"] == "binary"), bytes_in)
    added = sum(s.get("added", 0) for s in steps)
    totals = {"files": files, "kept": kept, "removed": sum(by_reason.values()), "removed_by_reason": by_reason,
              "bytes_in": bytes_in, "bytes_read": bytes_read, "bytes_kept": bytes_kept, "tokens_kept": tokens_kept}
    if added:
        totals["added_by_conversion"] = added
    if files + added != kept + totals["removed"]:
        log.warning("stats do not add up: %d files read (+%d from conversion), %d kept + %d removed", files, added,
                    kept, totals["removed"])
    summary: dict = {"steps": steps, "totals": totals}
    other = {name: s for stage in STAGES[1:] for name, s in merged[stage].items()
             if name not in pipelines.STEPS and "reader" not in name.lower()}
    for name, s in other.items():
        if "redact" in name.lower():
            summary["pii"] = {k: v for k, v in s.items() if not k.startswith(("mean", "time"))}
        elif "prefix" in name.lower():
            summary["metadata_prefix"] = s
        elif "finder" in name.lower() or "pairs" in name.lower():
            summary.setdefault("dedup", {}).update(s)
    if wall_s is not None:
        summary["wall_s"] = round(wall_s, 2)
        summary["mb_per_s"] = round(bytes_read / 1e6 / wall_s, 2) if wall_s > 0 else None  # bytes read
    summary["outputs"] = {"kept": str(out / "kept"), "removed": str(out / "removed"),
                          "funnel": str(out / "funnel.json")}
    return summary


def _by_language(s: dict) -> dict[str, dict[str, int]]:
    langs: dict[str, dict[str, int]] = {}
    for key, value in s.items():
        kind, sep, lang = key.partition("/")
        names = {"lang_in": "docs_in", "lang_bytes_in": "bytes_in", "lang_tokens_in": "tokens_in",
                 "lang_dropped": "removed", "lang_bytes_dropped": "bytes_removed",
                 "lang_tokens_dropped": "tokens_removed"}
        if sep and kind in names:
            langs.setdefault(lang, dict.fromkeys(("docs_in", "bytes_in", "tokens_in", "removed", "bytes_removed",
                                                  "tokens_removed"), 0))
            field_name = names[kind]
            langs[lang][field_name] = value
    return dict(sorted(langs.items()))


def _merge_task_stats(logging_dir: Path) -> dict[str, dict[str, float]]:
    """{step name: {metric: total}} summed over `logging_dir/stats/<rank>.json`."""
    merged: dict[str, dict[str, float]] = {}
    for path in sorted((logging_dir / "stats").glob("*.json")):
        for step in json.loads(path.read_text(encoding="utf-8")):
            name = step["name"].split(": ", 1)[-1]
            metrics = merged.setdefault(name, {})
            for metric, value in step["stats"].items():
                total = value["total"] if isinstance(value, dict) else value
                metrics[metric] = metrics.get(metric, 0) + total
    return {name: {k: int(v) if float(v).is_integer() else v for k, v in m.items()} for name, m in merged.items()}


def _log_summary(stats: dict, out: Path) -> None:
    t = stats["totals"]
    reasons = ", ".join(f"{r} {n}" for r, n in sorted(t["removed_by_reason"].items(), key=lambda x: -x[1]))
    log.info("curate: %d files (%.1f MB, %.1f MB read) in, %d kept (%.1f MB, %.2fM tokens), %d removed (%s)",
             t["files"], t["bytes_in"] / 1e6, t["bytes_read"] / 1e6, t["kept"], t["bytes_kept"] / 1e6,
             t.get("tokens_kept", 0) / 1e6, t["removed"], reasons or "none")
    if "wall_s" in stats:
        log.info("curate: %.1f s, %.1f MB/s; outputs: %s/kept, %s/removed, %s/stats.json, %s/funnel.png",
                 stats["wall_s"], stats["mb_per_s"] or 0, out, out, out, out)
