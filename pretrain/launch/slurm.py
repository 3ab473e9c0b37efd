"""`starforge pretrain launch --slurm`: an sbatch script running one torchrun per node.

Every node runs `torchrun --nnodes N --nproc-per-node G` with a c10d rendezvous on the first node
of the allocation (`scontrol show hostnames`), keyed by the job id, so all N x G ranks join one
world. The layout is checked before anything is written (heads vs tensor-parallel, world size
vs TP x PP x DP). Requeued jobs continue from `OUT/checkpoints/latest`; Slurm sends SIGTERM two
minutes before the time limit (`--signal`), on which the trainer checkpoints and stops.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
from pathlib import Path

from pretrain.config import TrainConfig
from pretrain.parallel import check_layout
from starforge import executors
from starforge.errors import PretrainError

log = logging.getLogger(__name__)

RDZV_PORT = 29500


def sbatch_script(cfg: TrainConfig, config_path: str | Path | None, overrides: list[str], nodes: int,
                  gpus_per_node: int, job_name: str = "starforge-pretrain", partition: str | None = None,
                  time_limit: str = "48:00:00", cpus_per_node: int | None = None) -> str:
    if nodes < 1 or gpus_per_node < 1:
        raise PretrainError(f"--nodes {nodes} and --gpus-per-node {gpus_per_node} must be >= 1")
    world = nodes * gpus_per_node
    dp = check_layout(cfg.model, cfg.parallel, world, on_gpu=True)
    tp, pp = cfg.parallel.tensor_parallel, cfg.parallel.pipeline_parallel
    if tp > gpus_per_node:
        raise PretrainError(f"parallel.tensor_parallel={tp} exceeds --gpus-per-node {gpus_per_node}; "
                            "tensor parallelism must stay inside a node (NVLink)")
    out = Path(cfg.out_dir)
    train_args = ["-m", "starforge", "pretrain", "train"]
    if config_path is not None:
        train_args += ["--config", str(Path(config_path).resolve())]
    for item in overrides:
        train_args += ["--set", item]
    global_batch = cfg.micro_batch_size * cfg.grad_accum * dp
    header = ["#!/bin/bash", *executors.sbatch_lines({
        "job-name": executors.check_job_name(job_name), "nodes": nodes, "ntasks-per-node": 1,
        "gpus-per-node": gpus_per_node, "cpus-per-task": cpus_per_node or 8 * gpus_per_node})]
    header.append("#SBATCH --exclusive")
    header += executors.sbatch_lines({"time": time_limit, "signal": "TERM@120"})
    header.append("#SBATCH --requeue")
    header += executors.sbatch_lines({"output": f"{out}/slurm-%j.out", "partition": partition or None})
    body = f"""
# starforge pretrain: {cfg.model.num_layers} layers, hidden {cfg.model.hidden_size}, {cfg.model.num_attention_heads} heads, {cfg.model.num_query_groups} kv group(s), {cfg.model.parameters():,} parameters
# layout: world {world} = tensor_parallel {tp} x pipeline_parallel {pp} x data_parallel {dp}; global batch {global_batch} sequences of {cfg.model.seq_length}
set -euo pipefail
mkdir -p {shlex.quote(str(out))}
MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
export MASTER_ADDR
export MASTER_PORT={RDZV_PORT}
export OMP_NUM_THREADS=8
export CUDA_DEVICE_MAX_CONNECTIONS=1
RESUME=""
if [ -f {shlex.quote(str(out / "checkpoints" / "latest"))} ]; then RESUME="--resume"; fi

srun --kill-on-bad-exit=1 torchrun \\
  --nnodes={nodes} \\
  --nproc-per-node={gpus_per_node} \\
  --rdzv-id="$SLURM_JOB_ID" \\
  --rdzv-backend=c10d \\
  --rdzv-endpoint="$MASTER_ADDR:$MASTER_PORT" \\
  {shlex.join(train_args)} $RESUME
"""
    return "\n".join(header) + "\n" + body


def launch(cfg: TrainConfig, config_path: str | Path | None, overrides: list[str], nodes: int, gpus_per_node: int,
           job_name: str = "starforge-pretrain", partition: str | None = None, time_limit: str = "48:00:00",
           output: str | Path | None = None, dry_run: bool = False, submit: bool = False) -> str:
    """Build the script; write it (unless dry_run) and submit it with sbatch (if submit)."""
    script = sbatch_script(cfg, config_path, overrides, nodes, gpus_per_node, job_name, partition, time_limit)
    if dry_run:
        return script
    path = Path(output) if output else Path(cfg.out_dir) / "launch.sbatch"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script, encoding="utf-8")
    log.info("launch: wrote %s (%d nodes x %d GPUs)", path, nodes, gpus_per_node)
    if submit:
        try:
            proc = subprocess.run(["sbatch", str(path)], capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise PretrainError("--submit: `sbatch` is not on PATH; run this on a Slurm login node") from None
        if proc.returncode != 0:
            raise PretrainError(f"sbatch {path} failed: {proc.stderr.strip()[:300]}")
        log.info("launch: %s", proc.stdout.strip())
    return script
