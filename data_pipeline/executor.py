"""Running the curation stages on datatrove's Local, Slurm or Ray executors.

Stages run in order, each depending on the one before (`depends=` for Slurm and Ray, one after
the other locally). Stages `dedup_find` and `near_dedup_clusters` are single tasks.

Local runs go through `starforge.executors.run_local` (quiet unless the `data_pipeline` logger is
at DEBUG; full logs in `<logging_dir>/logs/task_<rank>.log`).
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from datatrove.pipeline.base import PipelineStep

from data_pipeline.dedup.stages import near_dedup_tasks
from starforge.errors import ConfigError
from starforge.executors import run_local, sbatch_script, slurm_executor

if TYPE_CHECKING:
    from data_pipeline.config import CurateConfig

log = logging.getLogger("data_pipeline")


def run_pipeline(pipeline: list[PipelineStep], tasks: int, workers: int, logging_dir: str) -> None:
    """Run `pipeline` as `tasks` datatrove tasks, `workers` at a time, resuming completed ones."""
    run_local(pipeline, tasks, workers, logging_dir, verbose=log.isEnabledFor(logging.DEBUG))


def stage_tasks(cfg: CurateConfig, stage: str) -> int:
    near = near_dedup_tasks(cfg.near_dedup, stage, cfg.tasks)
    return near if near is not None else 1 if stage == "dedup_find" else cfg.tasks


def build_executors(cfg: CurateConfig, out: Path, stage_pipelines: dict[str, list[PipelineStep]]) -> dict:
    """{stage: executor}. Local: the pipelines (run_stages runs them one by one); Slurm/Ray: datatrove
    executors chained by `depends`."""
    if cfg.executor == "local":
        return dict(stage_pipelines)
    executors: dict = {}
    previous = None
    for stage, pipeline in stage_pipelines.items():
        logging_dir = str(out / "logs" / stage)
        tasks = stage_tasks(cfg, stage)
        if cfg.executor == "slurm":
            executor = slurm_executor(pipeline, cfg.slurm, tasks=tasks, job_name=f"starforge_{stage}",
                                      depends=previous, logging_dir=logging_dir)
        else:
            from datatrove.executor.ray import RayPipelineExecutor

            if importlib.util.find_spec("ray") is None and not cfg.dry_run:
                raise ConfigError("executor=ray needs the `ray` package: pip install 'ray[default]', then run "
                                  "`ray start --head` (or give RAY_ADDRESS) for a cluster")
            executor = RayPipelineExecutor(pipeline, tasks=tasks, workers=min(cfg.workers, tasks),
                                           depends=previous, logging_dir=logging_dir)
        executors[stage] = executor
        previous = executor
    return executors


def _init_ray(cfg: CurateConfig) -> None:
    """Join the configured Ray cluster, or start one on this machine (datatrove expects `ray.init` done)."""
    import os

    import ray

    if ray.is_initialized():
        return
    address = cfg.ray_address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=False)
    else:  # a private single-machine Ray, sized to the run, shut down with this process
        ray.init(num_cpus=cfg.workers, include_dashboard=False, log_to_driver=False)
    log.info("ray: %s CPUs available", ray.cluster_resources().get("CPU"))


def run_stages(cfg: CurateConfig, out: Path, executors: dict) -> bool:
    """Run every stage; True when all have finished here (False: jobs submitted to Slurm)."""
    if cfg.executor == "local":
        for stage, pipeline in executors.items():
            if stage == "dedup_filter" and not any((out / "work" / "filtered").glob("*.jsonl")):
                break  # stage 1 let nothing through: nothing to deduplicate (datatrove's reader would fail)
            run_pipeline(pipeline, stage_tasks(cfg, stage), cfg.workers, str(out / "logs" / stage))
        return True
    if cfg.executor == "ray":
        _init_ray(cfg)
    last = executors[list(executors)[-1]]
    last.run()  # Slurm: launches the chain of dependent job arrays; Ray: runs dependencies first
    if cfg.executor == "slurm":
        return all(not ex.get_incomplete_ranks() for ex in executors.values())
    return True


def describe_plan(cfg: CurateConfig, out: Path, stage_pipelines: dict[str, list[PipelineStep]]) -> str:
    """Human-readable plan: each stage with its tasks and steps; for Slurm, each sbatch script."""
    lines = [f"curate plan: input {cfg.input} -> {out} (executor {cfg.executor}, {cfg.tasks} tasks, "
             f"{cfg.workers} workers)"]
    previous = None
    executors = build_executors(cfg, out, stage_pipelines) if cfg.executor == "slurm" else {}
    for i, (stage, pipeline) in enumerate(stage_pipelines.items(), start=1):
        dep = f", after {previous}" if previous else ""
        lines.append(f"stage {i} {stage}: {stage_tasks(cfg, stage)} task(s){dep}")
        for step in pipeline:
            lines.append(f"  - {type(step).__name__}: {getattr(step, 'name', '')}")
        if stage in executors:
            lines.append(f"  sbatch script ({out / 'logs' / stage / 'launch_script.slurm'}):")
            lines.extend("    " + line for line in sbatch_script(executors[stage], previous).splitlines())
        previous = stage
    return "\n".join(lines)
