"""`starforge data curate`: a corpus of repositories in, kept/ and removed/<step>/ JSONL out.

    DIR/kept/<rank>.jsonl.gz             files to train on (format: data_pipeline/records.py)
    DIR/removed/<step>/<rank>.jsonl.gz   every other input file, with metadata.reason
    DIR/stats.json                       counts and bytes per step, totals
    DIR/config.yaml                      the resolved CurateConfig
    DIR/logs/<stage>/                    datatrove logs, per-task stats and completion markers
    DIR/work/sources.jsonl               the input files, listed once (all tasks read this list)
    DIR/work/filtered/, work/dedup/      intermediates of exact dedup

Re-running with the same config skips the tasks datatrove marked complete and reuses the saved
listing (files added to the input since are not picked up: use a new DIR for a fresh run); a
different config on the same DIR is refused, so a run never mixes two configs.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from data_pipeline import pipelines
from data_pipeline.executor import run_pipeline
from data_pipeline.readers.sources import BUILTIN_STDLIB, list_sources, load_listing, save_listing
from data_pipeline.run_dir import prepare_run_dir
from starforge.errors import ConfigError, DataError

log = logging.getLogger(__name__)

STAGES = ("filter", "dedup_find", "dedup_filter")


@dataclass
class CurateConfig:
    input: str = BUILTIN_STDLIB
    """A folder with one repository per sub-folder, or `builtin:stdlib` (this interpreter's standard library)."""
    output: Path | None = None
    """Output folder (kept/, removed/, stats.json, config.yaml, logs/)."""
    tasks: int = 2
    """datatrove tasks (shards of the corpus); the same number resumes a run."""
    workers: int = 2
    """Tasks run at once (processes); 1 runs them in this process."""
    max_file_bytes: int = 1_000_000
    """Files larger than this are removed as `too_large` without being read (The Stack: 1 MB)."""
    binary_probe_bytes: int = 8192
    """A NUL byte in this many leading bytes marks a file `binary` (git looks at 8000)."""
    include_site_packages: bool = False
    """With builtin:stdlib, also read installed distributions whose metadata licence is permissive."""
    site_packages: list[str] | None = None
    """Only these distribution names (with include_site_packages); None for all permissive ones."""

    def __post_init__(self):
        if self.tasks < 1 or self.workers < 1:
            raise ConfigError(f"tasks and workers must be >= 1, got tasks={self.tasks} workers={self.workers}")
        if self.max_file_bytes < 1 or self.binary_probe_bytes < 1:
            raise ConfigError("max_file_bytes and binary_probe_bytes must be >= 1")


def curate(cfg: CurateConfig) -> dict:
    """Run the three curation stages; returns (and writes to stats.json) the summary."""
    if cfg.output is None:
        raise ConfigError("curate needs an output folder: pass --output DIR (or set output: in the config)")
    out = Path(cfg.output)
    if not cfg.input.startswith("builtin:") and out.resolve().is_relative_to(Path(cfg.input).resolve()):
        raise DataError(f"output '{out}' is inside input '{cfg.input}': it would be read as input; "
                        "choose an output folder outside it")
    files = list_sources(cfg.input, cfg.include_site_packages, cfg.site_packages)
    if not files:
        raise DataError(f"input '{cfg.input}': no files found; point --input at a folder of repositories")
    prepare_run_dir(cfg, out)
    listing = out / pipelines.LISTING
    if not listing.is_file():  # a resumed run keeps the listing its finished tasks used
        save_listing(files, listing)
    else:
        files = load_listing(listing)
    log.info("curating %d files from %s into %s (%d tasks, %d workers)", len(files), cfg.input, out,
             cfg.tasks, cfg.workers)

    started = time.perf_counter()
    stage_pipelines = (pipelines.filter_stage(cfg, out), pipelines.dedup_find_stage(cfg, out),
                       pipelines.dedup_filter_stage(cfg, out))
    for stage, pipeline in zip(STAGES, stage_pipelines):
        if stage == "dedup_filter" and not any((out / "work" / "filtered").glob("*.jsonl")):
            break  # stage 1 let nothing through: nothing to deduplicate (datatrove's reader would fail)
        tasks = 1 if stage == "dedup_find" else cfg.tasks
        run_pipeline(pipeline, tasks, cfg.workers, str(out / "logs" / stage))
    wall = time.perf_counter() - started

    stats = collect_stats(out, wall)
    (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    _log_summary(stats, out)
    if stats["totals"]["kept"] == 0:
        raise DataError(f"input '{cfg.input}': no file kept out of {stats['totals']['files']}; "
                        f"see {out / 'removed'} for the reasons")
    return stats


def collect_stats(out: Path, wall_s: float | None = None) -> dict:
    """stats.json from the per-task datatrove stats of every stage (complete even after a resume)."""
    merged = {stage: _merge_task_stats(out / "logs" / stage) for stage in STAGES}
    reader = merged["filter"].get("repositories", {})
    steps = []
    for name in pipelines.FILTER_STEPS:
        stage = "dedup_filter" if name == "exact_dedup" else "filter"
        s = merged[stage].get(name, {})
        removed = {k.removeprefix("dropped_"): v for k, v in s.items() if k.startswith("dropped_")}
        steps.append({"step": name, "docs_in": s.get("total", 0), "kept": s.get("forwarded", 0),
                      "removed": removed, "bytes_in": s.get("bytes_in", 0),
                      "bytes_removed": s.get("bytes_dropped", 0)})
    by_reason: dict[str, int] = {}
    for step in steps:
        for reason, count in step["removed"].items():
            by_reason[reason] = by_reason.get(reason, 0) + count
    files, bytes_in = reader.get("documents", 0), reader.get("bytes", 0)
    kept = steps[-1]["kept"]
    bytes_kept = steps[-1]["bytes_in"] - steps[-1]["bytes_removed"]
    bytes_read = steps[2]["bytes_in"]  # what reached the binary filter: too_large/unreadable files are not read
    totals = {"files": files, "kept": kept, "removed": sum(by_reason.values()), "removed_by_reason": by_reason,
              "bytes_in": bytes_in, "bytes_read": bytes_read, "bytes_kept": bytes_kept}
    if files != kept + totals["removed"]:
        log.warning("stats do not add up: %d files read, %d kept + %d removed", files, kept, totals["removed"])
    summary: dict = {"steps": steps, "totals": totals}
    if wall_s is not None:
        summary["wall_s"] = round(wall_s, 2)
        summary["mb_per_s"] = round(bytes_read / 1e6 / wall_s, 2) if wall_s > 0 else None  # bytes read
    summary["outputs"] = {"kept": str(out / "kept"), "removed": str(out / "removed")}
    return summary


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
    log.info("curate: %d files (%.1f MB, %.1f MB read) in, %d kept (%.1f MB), %d removed (%s)", t["files"],
             t["bytes_in"] / 1e6, t["bytes_read"] / 1e6, t["kept"], t["bytes_kept"] / 1e6, t["removed"],
             reasons or "none")
    if "wall_s" in stats:
        log.info("curate: %.1f s, %.1f MB/s; outputs: %s/kept, %s/removed, %s/stats.json",
                 stats["wall_s"], stats["mb_per_s"] or 0, out, out, out)
