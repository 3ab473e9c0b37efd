"""datatrove's executors as every stage runs them: local runs without loguru's per-task chatter,
and one Slurm job config.

datatrove logs through loguru, not `logging`, so `starforge -v` cannot reach it: each local task
would print its pipeline, every input file and a stats table. Unless the caller asks for verbose
output, tasks print only warnings; the full logs still go to `<logging_dir>/logs/task_<rank>.log`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from datatrove.executor.local import LocalPipelineExecutor
from datatrove.pipeline.base import PipelineStep
from loguru import logger


@dataclass
class SlurmConfig:
    partition: str = "cpu"
    """Slurm partition of the job array."""
    time: str = "12:00:00"
    """Wall-time limit of each task."""
    cpus_per_task: int = 1
    """CPUs per datatrove task."""
    mem_per_cpu_gb: int = 2
    """Memory per CPU (GB)."""
    venv_path: str | None = None
    """Activate script (`.venv/bin/activate`) each job sources; None: the job's environment as is."""
    sbatch_args: dict[str, str] = field(default_factory=dict)
    """Extra `#SBATCH --key=value` lines (account, qos, ...)."""


class QuietLocalExecutor(LocalPipelineExecutor):
    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1):
        # datatrove gives a task's stderr sink INFO only when local_rank == 0 (it uses local_rank
        # for nothing else), and restores a DEBUG sink after each task (in worker processes too).
        quiet_loguru()
        try:
            return super()._run_for_rank(rank, local_rank=1, node_rank=node_rank)
        finally:
            quiet_loguru()


def quiet_loguru() -> None:
    logger.remove()
    logger.add(sys.stderr, level="WARNING")


def run_local(pipeline: list[PipelineStep], tasks: int, workers: int, logging_dir: str, *,
              verbose: bool = False, skip_completed: bool = True) -> None:
    """Run `pipeline` as `tasks` datatrove tasks, `workers` at a time (completed ones skipped)."""
    workers = min(workers, tasks)
    if verbose:
        LocalPipelineExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=logging_dir,
                              skip_completed=skip_completed).run()
        return
    quiet_loguru()
    try:
        QuietLocalExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=logging_dir,
                           skip_completed=skip_completed).run()
    finally:
        logger.remove()
        logger.add(sys.stderr)  # datatrove's default sink, as found
