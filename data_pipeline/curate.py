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
from data_pipeline.stats import collect_stats
from starforge.errors import ConfigError, DataError
from starforge.run_dir import prepare

log = logging.getLogger(__name__)

STAGES = pipelines.STAGES
__all__ = ["CurateConfig", "curate", "collect_stats"]  # CurateConfig lives in config.py (no cycle)

RESUME_NEUTRAL = ("workers", "batch_size", "executor", "dry_run", "slurm")
"""Keys that may change between a run and its resumption (they do not change any output)."""


def curate(cfg: CurateConfig) -> dict:
    """Run the three curation stages; returns (and writes to stats.json) the summary."""
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

    stage_pipelines = {"filter": pipelines.filter_stage(cfg, out), "dedup_find": pipelines.dedup_find_stage(cfg, out),
                       "dedup_filter": pipelines.dedup_filter_stage(cfg, out)}
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

    stats = collect_stats(out, stage_pipelines, wall)
    (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    write_funnel(stats, out)
    _log_summary(stats, out)
    if stats["totals"]["kept"] == 0:
        raise DataError(f"input '{cfg.input}': no file kept out of {stats['totals']['files']}; "
                        f"see {out / 'removed'} for the reasons")
    return stats


def _log_summary(stats: dict, out: Path) -> None:
    t = stats["totals"]
    reasons = ", ".join(f"{r} {n}" for r, n in sorted(t["removed_by_reason"].items(), key=lambda x: -x[1]))
    log.info("curate: %d files (%.1f MB, %.1f MB read) in, %d kept (%.1f MB, %.2fM tokens), %d removed (%s)",
             t["files"], t["bytes_in"] / 1e6, t["bytes_read"] / 1e6, t["kept"], t["bytes_kept"] / 1e6,
             t.get("tokens_kept", 0) / 1e6, t["removed"], reasons or "none")
    if "wall_s" in stats:
        log.info("curate: %.1f s, %.1f MB/s; outputs: %s/kept, %s/removed, %s/stats.json, %s/funnel.png",
                 stats["wall_s"], stats["mb_per_s"] or 0, out, out, out, out)
