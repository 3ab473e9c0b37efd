"""The curation steps, in order, as plain lists of datatrove blocks (as in datatrove's
`examples/fineweb.py`). A new step is one class and one line here.

Three stages run one after the other (exact dedup needs every task's hashes before any task can
drop a duplicate): `filter_stage` reads and filters, `dedup_find_stage` groups hashes in one
task, `dedup_filter_stage` drops duplicates and writes `kept/`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.readers.jsonl import JsonlReader

from data_pipeline.dedup.exact import ContentHashSignature, ExactDuplicateFilter, ExactDuplicateFinder
from data_pipeline.filters.binary import BinaryFilter
from data_pipeline.filters.empty import EmptyFilter
from data_pipeline.filters.too_large import TooLargeFilter
from data_pipeline.filters.unreadable import UnreadableFilter
from data_pipeline.filters.utf8 import Utf8Filter
from data_pipeline.readers.repositories import RepositoryReader
from data_pipeline.records import records_writer

if TYPE_CHECKING:
    from data_pipeline.curate import CurateConfig

LISTING = "work/sources.jsonl"
"""The input files, listed once by `curate` before stage 1."""

FILTER_STEPS = ("unreadable", "too_large", "binary", "invalid_utf8", "empty", "exact_dedup")
"""Every dropping step's name, in pipeline order; also its `removed/<name>/` folder."""


def filter_stage(cfg: CurateConfig, out: Path) -> list[PipelineStep]:
    """Stage 1 (N tasks): read, drop what cannot be training text, hash what remains."""
    removed = out / "removed"
    return [
        RepositoryReader(cfg.input, cfg.max_file_bytes, cfg.include_site_packages, cfg.site_packages,
                         listing=str(out / LISTING)),
        UnreadableFilter(exclusion_writer=records_writer(removed / "unreadable")),
        TooLargeFilter(cfg.max_file_bytes, exclusion_writer=records_writer(removed / "too_large")),
        BinaryFilter(cfg.binary_probe_bytes, exclusion_writer=records_writer(removed / "binary")),
        Utf8Filter(exclusion_writer=records_writer(removed / "invalid_utf8")),
        EmptyFilter(exclusion_writer=records_writer(removed / "empty")),
        ContentHashSignature(str(out / "work" / "dedup")),
        records_writer(out / "work" / "filtered", compression=None),
    ]


def dedup_find_stage(cfg: CurateConfig, out: Path) -> list[PipelineStep]:
    """Stage 2 (1 task): decide which copy of each content to keep."""
    return [ExactDuplicateFinder(str(out / "work" / "dedup"))]


def dedup_filter_stage(cfg: CurateConfig, out: Path) -> list[PipelineStep]:
    """Stage 3 (N tasks): drop the other copies; write kept/."""
    return [
        JsonlReader(str(out / "work" / "filtered"), glob_pattern="*.jsonl", recursive=False, add_file_path=False),
        ExactDuplicateFilter(str(out / "work" / "dedup"),
                             exclusion_writer=records_writer(out / "removed" / "exact_dedup")),
        records_writer(out / "kept"),
    ]
