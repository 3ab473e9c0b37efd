"""The near-dedup stages between exact dedup's finder and the dropping stage, for
`data_pipeline/pipelines.py`: pair tasks (as many as `near_dedup.tasks`), then one clustering task."""

from __future__ import annotations

from typing import TYPE_CHECKING

from datatrove.pipeline.base import PipelineStep

from data_pipeline.dedup.near_clusters import NearDuplicateClusters
from data_pipeline.dedup.near_pairs import NearDuplicatePairs

if TYPE_CHECKING:
    from data_pipeline.config import NearDedupConfig

PAIRS_STAGE, CLUSTERS_STAGE = "near_dedup_pairs", "near_dedup_clusters"
STAGES = (PAIRS_STAGE, CLUSTERS_STAGE)


def near_dedup_stages(nd: NearDedupConfig | None, dedup_folder: str) -> dict[str, list[PipelineStep]]:
    """{stage: steps}; empty when near dedup is off."""
    if nd is None:
        return {}
    return {PAIRS_STAGE: [NearDuplicatePairs(dedup_folder, nd.threshold, nd.ngram, nd.batch_bytes, nd.margin)],
            CLUSTERS_STAGE: [NearDuplicateClusters(dedup_folder)]}


def near_dedup_tasks(nd: NearDedupConfig | None, stage: str, default: int) -> int | None:
    """Tasks of a near-dedup stage (None for other stages): `near_dedup.tasks` pair tasks (or
    `default`), one clustering task."""
    if stage == CLUSTERS_STAGE:
        return 1
    if stage == PAIRS_STAGE:
        return (nd.tasks if nd is not None and nd.tasks else default)
    return None
