"""Building shards in parallel on datatrove's executors: one `ShardIndexStep` pipeline, N tasks.

Task r of N builds the shards r, r+N, ... of the list still to build (one shard per kept file),
each into its own folder, so tasks never share a file and a new shard never touches the others.
Locally, `LocalPipelineExecutor` runs the tasks `build.workers` at a time; on Slurm the same
pipeline is pickled for datatrove's `launch_pickled_pipeline` and run as a job array, one array
element per task. With `build.dry_run` the job is written under INDEX_DIR/slurm/ exactly as
datatrove's `SlurmPipelineExecutor.launch_job` writes it (executor.pik, ranks_to_run.json,
launch_script.slurm), and nothing is submitted; `sbatch INDEX_DIR/slurm/launch_script.slurm`
submits it by hand. Once the array has finished, rerunning `starforge attribution index` with the
same arguments finds every shard built and writes the manifest.

Completion is our shard marker (`shard.json`), not datatrove's per-rank markers: ranks change
meaning whenever the set of shards to build does, so executors run with `skip_completed=False`
and a task skips a shard whose marker already matches (a requeued Slurm task resumes).

datatrove logs through loguru: unless this module's logger is at DEBUG, tasks print only
warnings; each task's full log is in INDEX_DIR/logs/build/logs/task_NNNNN.log.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from pathlib import Path

from datatrove.data import DocumentsPipeline
from datatrove.executor.base import DistributedEnvVars
from datatrove.executor.slurm import SlurmPipelineExecutor
from datatrove.pipeline.base import PipelineStep

from attribution.config import AttributionConfig
from attribution.corpus import Shard
from attribution.shard import build_shard_if_due
from starforge import executors
from starforge.errors import AttributionError

log = logging.getLogger(__name__)

SLURM_DIR = "slurm"
JOB_NAME = "starforge_attribution_index"


class ShardIndexStep(PipelineStep):
    """Builds this task's share of the shards (every world_size-th, from its rank)."""

    name = "attribution shard index"
    type = "Indexer"

    def __init__(self, shards: Sequence[Shard], shards_dir: Path, cfg: AttributionConfig):
        super().__init__()
        self.shards = list(shards)
        self.shards_dir = Path(shards_dir)
        self.cfg = cfg

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for shard in self.shards[rank::world_size]:
            with self.track_time():
                built = build_shard_if_due(shard, self.shards_dir, self.cfg)
            self.stat_update("shards_built" if built else "shards_up_to_date")
        return data


class _SlurmExecutor(SlurmPipelineExecutor):
    """datatrove's Slurm executor for single-node tasks: it does not ask `scontrol` for the node
    list (each shard build is one process; no task talks to another node)."""

    def get_distributed_env(self, node_rank: int = -1) -> DistributedEnvVars:
        return DistributedEnvVars(
            datatrove_node_ips=os.environ.get("SLURMD_NODENAME", socket.gethostname()),
            datatrove_cpus_per_task=str(self.cpus_per_task), datatrove_mem_per_cpu=str(self.mem_per_cpu_gb),
            datatrove_gpus_on_node="0", datatrove_executor="SLURM")


def run_local(shards: Sequence[Shard], out: Path, cfg: AttributionConfig) -> None:
    """Build `shards` into out/shards/ as min(tasks, shards) datatrove tasks, `workers` at a time."""
    tasks = min(cfg.build.tasks or len(shards), len(shards))
    workers = min(cfg.build.workers, tasks)
    step = ShardIndexStep(shards, out / "shards", cfg)
    logging_dir = str(out / "logs" / "build")
    log.info("building %d shard(s) as %d datatrove task(s), %d at a time", len(shards), tasks, workers)
    executors.run_local([step], tasks, workers, logging_dir, verbose=log.isEnabledFor(logging.DEBUG), skip_completed=False)


def slurm_executor(shards: Sequence[Shard], out: Path, cfg: AttributionConfig) -> SlurmPipelineExecutor:
    s = cfg.build.slurm
    tasks = min(cfg.build.tasks or len(shards), len(shards))
    step = ShardIndexStep(shards, out.resolve() / "shards", cfg)
    return executors.slurm_executor(
        [step], s, tasks=tasks, job_name=JOB_NAME, logging_dir=str(out.resolve() / SLURM_DIR),
        executor_class=_SlurmExecutor, skip_completed=False,
        slurm_logs_folder=str(out.resolve() / SLURM_DIR / "slurm_logs"))


def write_slurm_job(shards: Sequence[Shard], out: Path, cfg: AttributionConfig) -> dict[str, str | int]:
    """The files `SlurmPipelineExecutor.launch_job` writes before it calls sbatch, and no sbatch.

    The job is the one datatrove would submit: each array element runs `launch_pickled_pipeline
    executor.pik` with SLURM_ARRAY_TASK_ID set, which runs its task's shards.
    """
    executor = slurm_executor(shards, out, cfg)
    executors.write_slurm_job(executor)
    folder = out.resolve() / SLURM_DIR
    log.info("slurm job for %d shard(s) in %d task(s) written, not submitted: sbatch %s",
             len(shards), executor.tasks, folder / "launch_script.slurm")
    return {"script": str(folder / "launch_script.slurm"), "executor": str(folder / "executor.pik"),
            "tasks": executor.tasks, "shards": len(shards)}


def submit_slurm(shards: Sequence[Shard], out: Path, cfg: AttributionConfig) -> None:
    executor = slurm_executor(shards, out, cfg)
    try:
        executor.run()
    except FileNotFoundError as exc:
        raise AttributionError(f"build.executor=slurm: cannot submit ({exc.strerror}: {exc.filename}); "
                               "run where `sbatch` exists, or set build.dry_run=true to write the job only") from None
