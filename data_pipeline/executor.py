"""datatrove's local executor, with its console output following starforge's logging.

datatrove logs through loguru, not `logging`, so `starforge -v` / `setup_logging` cannot reach it:
each task would print its pipeline, every input file and a stats table (over a hundred lines
per curate run). Unless the `data_pipeline` logger is at DEBUG, tasks print only errors and the
parent only warnings; full logs still go to `<logging_dir>/logs/task_<rank>.log`.
"""

from __future__ import annotations

import logging
import sys

from datatrove.executor.local import LocalPipelineExecutor
from datatrove.pipeline.base import PipelineStep
from loguru import logger

log = logging.getLogger("data_pipeline")


class QuietLocalExecutor(LocalPipelineExecutor):
    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1):
        # datatrove gives a task's stderr sink INFO only when local_rank == 0 (it uses local_rank
        # for nothing else), and restores a DEBUG sink after each task (in worker processes too).
        _quiet_loguru()
        try:
            return super()._run_for_rank(rank, local_rank=1, node_rank=node_rank)
        finally:
            _quiet_loguru()


def _quiet_loguru() -> None:
    logger.remove()
    logger.add(sys.stderr, level="WARNING")


def run_pipeline(pipeline: list[PipelineStep], tasks: int, workers: int, logging_dir: str) -> None:
    """Run `pipeline` as `tasks` datatrove tasks, `workers` at a time, resuming completed ones."""
    workers = min(workers, tasks)
    if log.isEnabledFor(logging.DEBUG):
        LocalPipelineExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=logging_dir).run()
        return
    _quiet_loguru()
    try:
        QuietLocalExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=logging_dir).run()
    finally:
        logger.remove()
        logger.add(sys.stderr)  # datatrove's default sink, as found
