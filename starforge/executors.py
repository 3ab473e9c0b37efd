"""datatrove's executors as every stage runs them: local runs without loguru's per-task chatter,
and Slurm jobs built in one place (data curate's stages, attribution's index build, pretrain's
torchrun launch all take their `#SBATCH` lines from here).

datatrove logs through loguru, not `logging`, so `starforge -v` cannot reach it: each local task
would print its pipeline, every input file and a stats table. Unless the caller asks for verbose
output, tasks print only warnings; the full logs still go to `<logging_dir>/logs/task_<rank>.log`.

Every value that becomes an `#SBATCH` line is checked to be one line: a job name or an extra
argument with a newline would otherwise add lines of its own to the script (issue #18 section 5).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datatrove.executor.local import LocalPipelineExecutor
from datatrove.pipeline.base import PipelineStep
from loguru import logger

from starforge.errors import ConfigError

JOB_NAME = re.compile(r"[A-Za-z0-9._-]{1,128}")
"""Slurm job names we write: letters, digits, '.', '_', '-'."""


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


def preload_workers(modules: list[str]) -> None:
    """Start now the forkserver that datatrove's local executor forks its workers from, with
    `modules` imported in it: the import overlaps what the caller does meanwhile (curate's
    listing runs on one core), and every worker of every stage is forked with them loaded
    instead of importing them itself (presidio imports transformers and torch: 7.7 s a worker,
    a gap of that length before curate's last stage; docs/data_pipeline.md, "Benchmark").
    No effect once a forkserver runs in this process."""
    import multiprocess
    import multiprocess.forkserver

    multiprocess.get_context("forkserver").set_forkserver_preload([*modules, "starforge.gc_freeze"])
    multiprocess.forkserver.ensure_running()


def check_job_name(name: str, flag: str = "--job-name") -> str:
    if not JOB_NAME.fullmatch(name):
        raise ConfigError(f"{flag} {name!r}: use 1-128 letters, digits, '.', '_' or '-' (it becomes an #SBATCH line)")
    return name


def check_sbatch_value(key: str, value: Any) -> str:
    """`value` as the text of one `#SBATCH --key=value` line, refused if it would be more."""
    text = str(value)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", key):
        raise ConfigError(f"sbatch argument {key!r}: not an option name (letters, digits and '-')")
    if any(c in text for c in "\n\r\0"):
        raise ConfigError(f"sbatch argument {key}={text!r}: a value must be one line")
    return text


def sbatch_lines(options: Mapping[str, Any]) -> list[str]:
    """`#SBATCH --key=value` per option (None values left out), each checked to be one line."""
    return [f"#SBATCH --{key}={check_sbatch_value(key, value)}" for key, value in options.items() if value is not None]


def slurm_executor(pipeline: list[PipelineStep], slurm: SlurmConfig, *, tasks: int, job_name: str,
                   logging_dir: str, depends: Any = None, executor_class: type | None = None, **kwargs: Any):
    """datatrove's `SlurmPipelineExecutor` (or `executor_class`) from a `SlurmConfig`, its
    #SBATCH values checked first."""
    from datatrove.executor.slurm import SlurmPipelineExecutor

    check_job_name(job_name, "job name")
    for key, value in {"partition": slurm.partition, "time": slurm.time, **slurm.sbatch_args}.items():
        check_sbatch_value(key, value)
    cls = executor_class or SlurmPipelineExecutor
    return cls(pipeline, tasks=tasks, time=slurm.time, partition=slurm.partition, cpus_per_task=slurm.cpus_per_task,
               mem_per_cpu_gb=slurm.mem_per_cpu_gb, job_name=job_name, venv_path=slurm.venv_path,
               sbatch_args=dict(slurm.sbatch_args), depends=depends, logging_dir=logging_dir, **kwargs)


def sbatch_script(executor, depends_on: str | None = None) -> str:
    """The sbatch script datatrove would submit for `executor` (without writing or submitting it)."""
    ranks = executor.tasks
    max_array = min(ranks, executor.max_array_size) if executor.max_array_size != -1 else ranks
    run = f"srun -l -n {executor.nodes_per_task} launch_pickled_pipeline " \
          f"{executor.logging_dir.resolve_paths('executor.pik')}"
    script = executor.get_launch_file_contents(executor.get_sbatch_args(max_array), run)
    if depends_on:
        script = script.replace("#SBATCH", f"#SBATCH --dependency=afterok:<{depends_on} job id>\n#SBATCH", 1)
    return script


def write_slurm_job(executor) -> Path:
    """The files `SlurmPipelineExecutor.launch_job` writes before it calls sbatch (executor.pik,
    ranks_to_run.json, launch_script.slurm), and no sbatch; returns the script's path. Each
    array element runs `launch_pickled_pipeline executor.pik` with SLURM_ARRAY_TASK_ID set."""
    import dill

    with executor.logging_dir.open("executor.pik", "wb") as fh:
        dill.dump(executor, fh, fmode=dill.CONTENTS_FMODE)
    executor.save_executor_as_json()
    with executor.logging_dir.open("ranks_to_run.json", "w") as fh:
        json.dump(list(range(executor.tasks)), fh)
    with executor.logging_dir.open("launch_script.slurm", "w") as fh:
        fh.write(sbatch_script(executor))
    return Path(executor.logging_dir.resolve_paths("launch_script.slurm"))
