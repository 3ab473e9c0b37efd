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
tasks datatrove marked complete and reuses the saved listing; the listing is fingerprinted
(`work/sources.fingerprint.json`: each file's entry, size and mtime), and a re-run whose input
changed since (a file added, removed or modified) is refused naming the change, as is a
different config on the same DIR, so a run never mixes two corpora or two configs. Opt-out
lists saved in the run (`opt_out/`, data_pipeline/optout.py) are applied again after the stages.
A run that keeps nothing is a result (stats.json's `result` says so), not an error. `dry_run` prints the plan (stages, steps, tasks,
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
from data_pipeline.optout import apply_saved_lists, with_opt_out_step
from data_pipeline.readers.inputs import input_format
from data_pipeline.readers.sources import input_changes, list_sources, listing_fingerprint, load_listing, save_listing
from data_pipeline.stats import collect_stats, write_stats
from starforge.errors import ConfigError, DataError
from starforge.executors import preload_workers
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
    if cfg.executor == "local" and min(cfg.workers, cfg.tasks) > 1 and not cfg.dry_run:
        # the last stage's PII step is the costly import: load it while the files are listed
        preload_workers(["data_pipeline.pipelines"] + (["pii.step"] if cfg.pii is not None else []))
    files = None
    if fmt == "repositories":
        files = list_sources(cfg.input, cfg.include_site_packages, cfg.site_packages, cfg.licence_threshold)
        if not files:
            raise DataError(f"input '{cfg.input}': no files found; point --input at a folder of repositories")
    elif fmt == "stack" and not Path(cfg.input).exists():
        raise DataError(f"input '{cfg.input}': no such file or folder")

    stage_pipelines = pipelines.stage_pipelines(cfg, out)
    if cfg.dry_run:
        plan = describe_plan(cfg, out, stage_pipelines)
        print(plan)
        return {"dry_run": True, "plan": plan}

    if files is not None:
        check_unchanged(out, listing_fingerprint(files))
    prepare(out, cfg, inputs=[] if fmt == "hf" or cfg.input.startswith("builtin:") else [cfg.input],
            command="data curate", neutral=RESUME_NEUTRAL)
    if files is not None:
        if not listing.is_file():  # a resumed run keeps the listing its finished tasks used
            save_listing(files, listing)
            fingerprint_path(out).write_text(json.dumps(listing_fingerprint(files)), encoding="utf-8")
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
    if apply_saved_lists(out) is not None:  # opt-out lists saved in the run apply to every re-run
        stats = with_opt_out_step(stats, out)
    if stats["totals"]["kept"] == 0:  # a result, not an error (issue 16): every file is in removed/ with its reason
        stats["result"] = (f"nothing kept: all {stats['totals']['files']} files removed, "
                           "see removed/<step>/ for the reasons")
    write_stats(out, stats, "data curate")
    write_funnel(stats, out)
    _log_summary(stats, out)
    return stats


def fingerprint_path(out: Path) -> Path:
    return out / pipelines.LISTING.replace(".jsonl", ".fingerprint.json")


def check_unchanged(out: Path, now: dict[str, str]) -> None:
    """Refuse to resume a run whose input changed since its listing was saved (a new, removed or
    modified file): its finished tasks read the old files, so the outputs would mix two corpora."""
    path = fingerprint_path(out)
    if path.is_file():
        change = input_changes(json.loads(path.read_text(encoding="utf-8")), now)
    elif (out / pipelines.LISTING).is_file():  # a run from before fingerprints: compare the ids at least
        change = input_changes({f.id: "" for f in load_listing(out / pipelines.LISTING)}, dict.fromkeys(now, ""))
    else:
        return
    if change:
        raise DataError(f"{out}: the input changed since this run listed it ({change}); pass a new --output "
                        "to curate the corpus as it is now, or delete the folder to start over")


def _log_summary(stats: dict, out: Path) -> None:
    t = stats["totals"]
    reasons = ", ".join(f"{r} {n}" for r, n in sorted(t["removed_by_reason"].items(), key=lambda x: -x[1]))
    log.info("curate: %d files (%.1f MB, %.1f MB read) in, %d kept (%.1f MB, %.2fM tokens), %d removed (%s)",
             t["files"], t["bytes_in"] / 1e6, t["bytes_read"] / 1e6, t["kept"], t["bytes_kept"] / 1e6,
             t.get("tokens_kept", 0) / 1e6, t["removed"], reasons or "none")
    if "result" in stats:
        log.info("curate: %s", stats["result"])
    if "wall_s" in stats:
        log.info("curate: %.1f s, %.1f MB/s; outputs: %s/kept, %s/removed, %s/stats.json, %s/funnel.png",
                 stats["wall_s"], stats["mb_per_s"] or 0, out, out, out, out)
