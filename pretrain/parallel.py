"""Process groups for a run: gloo on the CPU (world size 1 in-process, or under torchrun), NCCL
on GPUs, then megatron-core's tensor/pipeline/data-parallel groups."""

from __future__ import annotations

import datetime
import logging
import os
import socket
from dataclasses import dataclass

import torch

from pretrain import cpu_patches
from pretrain.model import ModelConfig
from starforge.errors import PretrainError

log = logging.getLogger(__name__)


@dataclass
class ParallelConfig:
    tensor_parallel: int = 1
    """Tensor-parallel size (Megatron TP); must divide the attention heads and the KV groups."""
    pipeline_parallel: int = 1
    """Pipeline stages; must divide the layers (megatron-core's 1F1B schedule, `pretrain/step.py`)."""
    sequence_parallel: bool = False
    """Megatron sequence parallelism for LayerNorm/dropout activations (with TP > 1)."""


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def check_layout(model: ModelConfig, par: ParallelConfig, world: int, on_gpu: bool) -> int:
    """Raise a one-line PretrainError when the numbers disagree; return the data-parallel size."""
    tp, pp = par.tensor_parallel, par.pipeline_parallel
    if tp < 1 or pp < 1:
        raise PretrainError(f"parallel.tensor_parallel={tp} and parallel.pipeline_parallel={pp} must be >= 1")
    if model.num_attention_heads % tp:
        raise PretrainError(f"model.num_attention_heads={model.num_attention_heads} is not divisible by "
                            f"parallel.tensor_parallel={tp}")
    if model.num_query_groups % tp and tp % model.num_query_groups:
        raise PretrainError(f"model.num_query_groups={model.num_query_groups} and parallel.tensor_parallel={tp}: "
                            "one must divide the other")
    if model.num_layers % pp:
        raise PretrainError(f"model.num_layers={model.num_layers} is not divisible by parallel.pipeline_parallel={pp}")
    if world % (tp * pp):
        raise PretrainError(f"world size {world} does not factor into tensor_parallel={tp} x "
                            f"pipeline_parallel={pp} x data_parallel")
    return world // (tp * pp)


def init_parallel(model: ModelConfig, par: ParallelConfig, seed: int) -> tuple[bool, int]:
    """Start torch.distributed and megatron-core's parallel state; returns (on_gpu, dp size).

    Patches megatron-core for the CPU (`cpu_patches`) when CUDA is absent.
    """
    from megatron.core import parallel_state, rerun_state_machine, tensor_parallel

    on_gpu = torch.cuda.is_available()
    world = world_size()
    dp = check_layout(model, par, world, on_gpu)
    if par.sequence_parallel and par.tensor_parallel > 1 and not (on_gpu and _has_transformer_engine()):
        raise PretrainError("parallel.sequence_parallel=true needs TransformerEngine on GPUs: the local layer "
                            "spec's torch LayerNorm does not support it; set parallel.sequence_parallel=false")
    cpu_patches.apply(on_gpu)
    if not torch.distributed.is_initialized():
        rank = int(os.environ.get("RANK", "0"))
        # Under torchrun MASTER_ADDR/PORT are set (env://); in-process we pick a free local port
        # without touching os.environ, so child processes do not inherit it.
        init = "env://" if "MASTER_ADDR" in os.environ else f"tcp://127.0.0.1:{_free_port()}"
        if on_gpu:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        torch.distributed.init_process_group("nccl" if on_gpu else "gloo", init_method=init, rank=rank,
                                             world_size=world, timeout=datetime.timedelta(minutes=10))
    if parallel_state.model_parallel_is_initialized():
        parallel_state.destroy_model_parallel()
    parallel_state.initialize_model_parallel(par.tensor_parallel, par.pipeline_parallel)
    tensor_parallel.model_parallel_cuda_manual_seed(seed)
    rerun_state_machine.destroy_rerun_state_machine()  # its NaN check (`pretrain/health.py`), default mode
    rerun_state_machine.initialize_rerun_state_machine()
    log.info("parallel: world %d = tensor %d x pipeline %d x data %d, backend %s", world, par.tensor_parallel,
             par.pipeline_parallel, dp, torch.distributed.get_backend())
    return on_gpu, dp


def shutdown() -> None:
    """Tear down the groups so another run (a test, a resume) can start in the same process."""
    from megatron.core import parallel_state

    if parallel_state.model_parallel_is_initialized():
        parallel_state.destroy_model_parallel()
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def _has_transformer_engine() -> bool:
    try:
        import transformer_engine  # noqa: F401
    except ImportError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
