"""stats.json: the per-task datatrove stats of every curation stage, merged and named.

datatrove writes `logs/<stage>/stats/<rank>.json` as one entry per block of the pipeline, in
pipeline order (`datatrove/utils/stats.py`, `PipelineStats`), under a display name ("🔻 -
FILTER: xml_header"). We read them by position against the blocks `pipelines.py` built for the
run, and name each entry by its block's class (the registry's step, a dedup filter, the PII
step...), never by parsing the display name.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from datatrove.pipeline.base import PipelineStep

from data_pipeline import pipelines
from data_pipeline.dedup.exact import ExactDuplicateFilter, ExactDuplicateFinder
from data_pipeline.dedup.minhash import NearDuplicateFilter
from data_pipeline.dedup.near_clusters import NearDuplicateClusters
from data_pipeline.dedup.near_pairs import NearDuplicatePairs
from data_pipeline.filters.registry import registered_steps
from data_pipeline.format.metadata_prefix import MetadataPrefixStep
from starforge.errors import DataError
from starforge.run_dir import write_summary

log = logging.getLogger(__name__)

Metrics = dict[str, float]


def dropping_step_names() -> dict[type, str]:
    """Class -> step name of every block that removes files (stats.json's `steps`)."""
    names = {s.cls: s.name for s in registered_steps() if s.drops}
    names.update({ExactDuplicateFilter: ExactDuplicateFilter.name, NearDuplicateFilter: NearDuplicateFilter.name})
    return names


def merge_task_stats(logging_dir: Path, pipeline: list[PipelineStep]) -> list[Metrics]:
    """One merged {metric: total} per block of `pipeline`, summed over `logging_dir/stats/<rank>.json`;
    empty dicts when no task finished."""
    merged: list[Metrics] = [{} for _ in pipeline]
    for path in sorted((logging_dir / "stats").glob("*.json")):
        entries = json.loads(path.read_text(encoding="utf-8"))
        if len(entries) != len(pipeline):
            raise DataError(f"{path}: stats of {len(entries)} blocks, but this run's chain has {len(pipeline)}; "
                            "the folder was made by another version of the chain: start over in a new output folder")
        for metrics, entry in zip(merged, entries):
            for metric, value in entry["stats"].items():
                total = value["total"] if isinstance(value, dict) else value
                metrics[metric] = metrics.get(metric, 0) + total
    return [{k: int(v) if float(v).is_integer() else v for k, v in m.items()} for m in merged]


def collect_stats(out: Path, stage_pipelines: dict[str, list[PipelineStep]], wall_s: float | None = None) -> dict:
    """stats.json from the per-task datatrove stats of every stage (complete even after a resume)."""
    merged = {stage: merge_task_stats(out / "logs" / stage, steps) for stage, steps in stage_pipelines.items()}
    dropping = dropping_step_names()
    by_name: dict[str, Metrics] = {}
    other: list[tuple[PipelineStep, Metrics]] = []
    for stage, stage_steps in stage_pipelines.items():  # the near-dedup stages only when near dedup is on
        for block, metrics in zip(stage_steps, merged[stage]):
            name = dropping.get(type(block))
            if name is not None:
                by_name[name] = metrics
            else:
                other.append((block, metrics))
    reader = merged["filter"][0] if merged["filter"] else {}  # the chain opens with its reader
    steps = [_step(name, by_name[name]) for name in pipelines.STEPS if name in by_name]  # absent: switched off
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
    summary.update(_other_blocks(other))
    if wall_s is not None:
        summary["wall_s"] = round(wall_s, 2)
        summary["mb_per_s"] = round(bytes_read / 1e6 / wall_s, 2) if wall_s > 0 else None  # bytes read
    summary["outputs"] = {"kept": str(out / "kept"), "removed": str(out / "removed"),
                          "funnel": str(out / "funnel.json")}
    return summary


def _step(name: str, s: Metrics) -> dict:
    removed = {k.removeprefix("dropped_"): v for k, v in s.items() if k.startswith("dropped_")}
    step = {"step": name, "docs_in": s.get("total", 0), "kept": s.get("forwarded", 0) + s.get("added", 0),
            "removed": removed, "bytes_in": s.get("bytes_in", 0), "bytes_removed": s.get("bytes_dropped", 0),
            "tokens_in": s.get("tokens_in", 0), "tokens_removed": s.get("tokens_dropped", 0),
            "by_language": _by_language(s)}
    if s.get("added"):
        step["added"] = s["added"]
    hits = {k.removeprefix("contaminated/"): v for k, v in s.items() if k.startswith("contaminated/")}
    if hits:
        step["hits"] = hits
    blocking = {k.removeprefix("licence/"): v for k, v in s.items() if k.startswith("licence/")}
    if blocking:  # the licence step's removals per blocking licence id (filters/licence.py)
        step["non_permissive"] = dict(sorted(blocking.items()))
    return step


def _other_blocks(blocks: list[tuple[PipelineStep, Metrics]]) -> dict:
    """The non-dropping blocks stats.json reports: PII redaction, metadata prefixes, dedup finders."""
    out: dict = {}
    for block, s in blocks:
        if isinstance(block, MetadataPrefixStep):
            out["metadata_prefix"] = s
        elif isinstance(block, (ExactDuplicateFinder, NearDuplicatePairs, NearDuplicateClusters)):
            out.setdefault("dedup", {}).update(s)
        elif _is_pii_step(block):
            out["pii"] = {k: v for k, v in s.items() if not k.startswith(("mean", "time"))}
    return out


def _is_pii_step(block: PipelineStep) -> bool:
    from pii.step import PiiRedactionStep  # the one cross-stage import (docs/architecture.md)

    return isinstance(block, PiiRedactionStep)


def _by_language(s: Metrics) -> dict[str, dict[str, int]]:
    langs: dict[str, dict[str, int]] = {}
    names = {"lang_in": "docs_in", "lang_bytes_in": "bytes_in", "lang_tokens_in": "tokens_in",
             "lang_dropped": "removed", "lang_bytes_dropped": "bytes_removed", "lang_tokens_dropped": "tokens_removed"}
    for key, value in s.items():
        kind, sep, lang = key.partition("/")
        if sep and kind in names:
            langs.setdefault(lang, dict.fromkeys(("docs_in", "bytes_in", "tokens_in", "removed", "bytes_removed",
                                                  "tokens_removed"), 0))
            langs[lang][names[kind]] = value
    return dict(sorted(langs.items()))


def write_stats(out: Path, stats: dict, command: str) -> None:
    """`stats.json` (docs/formats.md) and the run's `summary.json`: the same counts in the one
    schema every stage writes (starforge/run_dir.py), which the demo's report reads."""
    (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    write_summary(out, "data", stats, stats.get("outputs"), command=command)
