"""The curation steps, in order, as plain lists of datatrove blocks (as in datatrove's
`examples/fineweb.py`), built from the registry: a new filter is one file in `filters/` with a
`@register_filter` class (data_pipeline/filters/registry.py; docs/data_pipeline.md shows one).

The stages run one after the other, because deduplication needs every task's signatures
before any task can drop a copy:

    filter              (N tasks)  read; unreadable, too_large, binary, invalid_utf8, empty;
                                   language; licence; Jupyter conversion; StarCoder's quality
                                   filters; exact and MinHash signatures; write work/filtered/
    dedup_find          (1 task)   exact duplicates
    near_dedup_pairs    (M tasks)  band collisions among the rest, verified (dedup/near_pairs.py)
    near_dedup_clusters (1 task)   clusters of the verified links, one file kept per cluster
    dedup_filter        (N tasks)  drop exact, then near duplicates; decontamination; PII
                                   redaction; metadata prefixes; write kept/

Decontamination runs after dedup (fewer files to scan) and before PII redaction (which rewrites
text a benchmark snippet could otherwise match).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.readers.jsonl import JsonlReader

from data_pipeline.dedup.exact import ContentHashSignature, ExactDuplicateFilter, ExactDuplicateFinder
from data_pipeline.dedup.minhash import MinHashSignature, NearDuplicateFilter
from data_pipeline.dedup.stages import near_dedup_stages
from data_pipeline.filters.registry import registered_steps
from data_pipeline.format.metadata_prefix import MetadataPrefixStep
from data_pipeline.readers.inputs import input_reader
from starforge.formats.records import records_writer

if TYPE_CHECKING:
    from data_pipeline.config import CurateConfig

LISTING = "work/sources.jsonl"
"""The input files, listed once by `curate` before stage 1 (folder and built-in inputs)."""

STAGES = ("filter", "dedup_find", "near_dedup_pairs", "near_dedup_clusters", "dedup_filter")

DEDUP_STEPS = (ExactDuplicateFilter.name, NearDuplicateFilter.name)
"""The dropping steps of deduplication, first in stage 3 (wired by hand below: they need stage 2)."""


def _steps() -> dict[str, str]:
    names = {s.name: s.stage for s in registered_steps("filter") if s.drops}
    names.update(dict.fromkeys(DEDUP_STEPS, "dedup_filter"))
    names.update({s.name: s.stage for s in registered_steps("dedup_filter") if s.drops})
    return names


STEPS: dict[str, str] = _steps()
"""Every dropping step's name, in chain order, and its stage; the name is also its
`removed/<name>/` folder. Steps switched off by the config are absent from a run's stats."""

FILTER_STEPS = tuple(STEPS)


def registered_blocks(cfg: CurateConfig, stage: str, removed: Path) -> list[PipelineStep]:
    """The registered steps of `stage` that `cfg` switches on, in order, each dropping step
    with its exclusion writer `removed/<name>/`."""
    blocks: list[PipelineStep] = []
    for step in registered_steps(stage):
        block = step.cls.from_config(cfg, records_writer(removed / step.name) if step.drops else None)
        if block is not None:
            blocks.extend(block if isinstance(block, list) else [block])
    return blocks


def filter_stage(cfg: CurateConfig, out: Path) -> list[PipelineStep]:
    """Stage 1 (N tasks): read, drop what cannot be training text, sign what remains."""
    steps: list[PipelineStep] = [input_reader(cfg, out / LISTING),
                                 *registered_blocks(cfg, "filter", out / "removed")]
    steps.append(ContentHashSignature(str(out / "work" / "dedup")))
    if cfg.near_dedup is not None:
        nd = cfg.near_dedup
        steps.append(MinHashSignature(str(out / "work" / "dedup"), nd.num_perm, nd.bands, nd.rows, nd.ngram, nd.seed,
                                      store_texts=nd.threshold is not None))
    steps.append(records_writer(out / "work" / "filtered", compression=None))
    return steps


def dedup_find_stage(cfg: CurateConfig, out: Path) -> list[PipelineStep]:
    """Stage 2 (1 task): decide which copy of each content to keep."""
    return [ExactDuplicateFinder(str(out / "work" / "dedup"))]


def stage_pipelines(cfg: CurateConfig, out: Path) -> dict[str, list[PipelineStep]]:
    """{stage: steps} in run order; the near-dedup stages only when near dedup is on."""
    return {"filter": filter_stage(cfg, out), "dedup_find": dedup_find_stage(cfg, out),
            **near_dedup_stages(cfg.near_dedup, str(out / "work" / "dedup")),
            "dedup_filter": dedup_filter_stage(cfg, out)}


def _filtered_reader(out: Path) -> JsonlReader:
    return JsonlReader(str(out / "work" / "filtered"), glob_pattern="*.jsonl", recursive=False, add_file_path=False)


def dedup_filter_stage(cfg: CurateConfig, out: Path) -> list[PipelineStep]:
    """Stage 3 (N tasks): drop the other copies, contaminated files; redact; write kept/."""
    removed = out / "removed"
    steps: list[PipelineStep] = [
        _filtered_reader(out),
        ExactDuplicateFilter(str(out / "work" / "dedup"), exclusion_writer=records_writer(removed / "exact_dedup")),
    ]
    if cfg.near_dedup is not None:
        steps.append(NearDuplicateFilter(str(out / "work" / "dedup"),
                                         exclusion_writer=records_writer(removed / "near_dedup")))
    steps.extend(registered_blocks(cfg, "dedup_filter", removed))
    if cfg.pii is not None:
        from pii.step import PiiRedactionStep  # the one cross-stage import STYLE.md allows

        steps.append(PiiRedactionStep(cfg.pii))
    if cfg.metadata_prefix is not None:
        steps.append(MetadataPrefixStep(cfg.metadata_prefix.probability, cfg.metadata_prefix.seed))
    steps.append(records_writer(out / "kept"))
    return steps
