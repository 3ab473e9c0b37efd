"""The CUDA-only spots megatron-core 0.16 hits when a `GPTModel` trains on the CPU.

With the local layer spec, `use_cpu_initialization=True` and gloo, megatron-core runs on the CPU
except in the places below, patched here and only when CUDA is absent (`apply(False)`):

1. `GlobalMemoryBuffer.get_tensor` allocates the attention-score scratch buffer with
   `device=torch.cuda.current_device()` (`megatron/core/utils.py`); `DotProductAttention`
   feeds it to `torch.baddbmm(..., beta=0.0)`, so only its shape and dtype matter. On the CPU we
   allocate it on the CPU.
2. `CudaRNGStatesTracker` (`megatron/core/tensor_parallel/random.py`) keeps named CUDA RNG
   states: `add` reads `torch.cuda.get_rng_state()` (raised by `model_parallel_cuda_manual_seed`)
   and `fork` swaps the CUDA generator around attention dropout and tensor-parallel weight
   init. On the CPU the same named states are CPU generator states and `fork` swaps
   `torch`'s CPU generator instead, so dropout inside a fork is still seeded per TP rank.
3. `tensor_parallel/mappings.py` allocates the outputs of its all-gather and reduce-scatter
   helpers on `torch.cuda.current_device()`. Tensor parallelism with fewer key/value groups
   than ranks (MQA at TP 2: each rank all-gathers the fused QKV output) and sequence
   parallelism go through them. On the CPU, `_gather_along_last_dim`, `_gather_along_first_dim`
   and `_reduce_scatter_along_first_dim` are replaced by list-based gloo collectives (an
   all-reduce then this rank's slice for the reduce-scatter), same results, CPU tensors.

4. Pipeline parallelism (`pretrain/step.py` drives megatron-core's
   `forward_backward_pipelining_without_interleaving`):
   a. `pipeline_parallel/schedules.py` starts every schedule with
      `total_num_tokens = torch.zeros([], dtype=torch.int, device="cuda")`, and
      `pipeline_parallel/p2p_communication.py` allocates its receive buffers on
      `torch.cuda.current_device()` (and calls `torch.cuda.synchronize()` after batched p2p).
      Both modules' global name `torch` is pointed at `_CpuTorch`, which is `torch` except that
      `zeros(device="cuda")` allocates on the CPU, `cuda.current_device()` answers "cpu" and
      `cuda.synchronize()` does nothing. The sends and receives themselves are gloo's.
   b. `LanguageModule.setup_embeddings_and_output_layer` (`models/common/language_module/`)
      moves the last stage's copy of the tied embedding to CUDA (`weight.data.cuda()`) before
      all-reducing it with the first stage's; on the CPU it runs with `Tensor.cuda` returning
      the tensor itself, for the length of that call only.

5. `fusions/fused_softmax.py` builds the sliding-window mask of the local softmax with
   `transformer/utils.get_sliding_window_causal_mask`, which allocates on "cuda"; on the CPU the
   same band is built on the CPU (StarCoder2's window, `attention=local`, only where it binds).
6. `models/common/embeddings/rotary_pos_embedding.py`: `RotaryEmbedding.get_emb` moves its
   inverse frequencies to `torch.cuda.current_device()` on the first forward (RoPE, StarCoder2);
   that module's global `torch` is the same proxy as in 4a, so they stay on the CPU.
7. `rerun_state_machine.py`: `RerunStateMachine.validate_result`, megatron-core's NaN/Inf check
   that `pretrain/health.py` runs on every step's loss and gradient norm, names the device with
   `torch.cuda.current_device()` in its error; same proxy, so on the CPU it says "cpu".

Four more CUDA-only calls are avoided rather than patched: the default causal mask
(`transformer/utils.get_default_causal_mask`, we pass our own mask, `pretrain/step.py`),
`finalize_model_grads` and `get_grad_norm_fp32` (we all-reduce data-parallel and tied-embedding
gradients and compute the norm ourselves, `pretrain/step.py`, `pretrain/optim.py`), and the
checkpoint writer's `torch.cuda.synchronize()` (`pretrain/checkpoint.py` saves through torch's
synchronous `FileSystemWriter`).
"""

from __future__ import annotations

import contextlib
import logging
import operator
import types
from collections.abc import Callable, Iterator
from functools import reduce
from typing import Any

import torch
from megatron.core import rerun_state_machine as mcore_rerun
from megatron.core import utils as mcore_utils
from megatron.core.fusions import fused_softmax as mcore_fused_softmax
from megatron.core.models.common.embeddings import rotary_pos_embedding as mcore_rotary
from megatron.core.models.common.language_module import language_module as mcore_language_module
from megatron.core.pipeline_parallel import p2p_communication as mcore_p2p
from megatron.core.pipeline_parallel import schedules as mcore_schedules
from megatron.core.tensor_parallel import mappings as mcore_mappings
from megatron.core.tensor_parallel import random as mcore_random

from pretrain.attention import sliding_window_band

log = logging.getLogger(__name__)

_ORIGINALS: dict[str, Callable[..., Any]] = {}
_MAPPINGS = ("_gather_along_last_dim", "_gather_along_first_dim", "_reduce_scatter_along_first_dim")


def apply(cuda_available: bool | None = None) -> bool:
    """Patch megatron-core for the CPU unless CUDA is available. Returns whether it patched.

    Idempotent; `cuda_available` defaults to `torch.cuda.is_available()`.
    """
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    if cuda_available:
        return False
    if is_applied():
        return True
    _ORIGINALS["get_tensor"] = mcore_utils.GlobalMemoryBuffer.get_tensor
    _ORIGINALS["add"] = mcore_random.CudaRNGStatesTracker.add
    _ORIGINALS["fork"] = mcore_random.CudaRNGStatesTracker.fork
    for name in _MAPPINGS:
        _ORIGINALS[name] = getattr(mcore_mappings, name)
        setattr(mcore_mappings, name, globals()[f"_cpu{name}"])
    _ORIGINALS["setup_embeddings"] = mcore_language_module.LanguageModule.setup_embeddings_and_output_layer
    mcore_language_module.LanguageModule.setup_embeddings_and_output_layer = _cpu_setup_embeddings_and_output_layer
    mcore_schedules.torch = mcore_p2p.torch = mcore_rotary.torch = mcore_rerun.torch = _CPU_TORCH
    _ORIGINALS["window_mask"] = mcore_fused_softmax.get_sliding_window_causal_mask
    mcore_fused_softmax.get_sliding_window_causal_mask = _cpu_sliding_window_causal_mask
    mcore_utils.GlobalMemoryBuffer.get_tensor = _cpu_get_tensor
    mcore_random.CudaRNGStatesTracker.add = _cpu_add
    mcore_random.CudaRNGStatesTracker.fork = _cpu_fork
    log.debug("megatron-core patched for CPU: attention scratch buffer, RNG tracker add/fork, TP collectives, "
              "pipeline schedules and p2p buffers, tied-embedding setup, sliding-window mask, RoPE frequencies, "
              "rerun-state-machine device")
    return True


def is_applied() -> bool:
    return mcore_utils.GlobalMemoryBuffer.get_tensor is _cpu_get_tensor


def revert() -> None:
    """Undo `apply` (tests use it to leave megatron-core as they found it)."""
    if not is_applied():
        return
    mcore_utils.GlobalMemoryBuffer.get_tensor = _ORIGINALS.pop("get_tensor")
    mcore_random.CudaRNGStatesTracker.add = _ORIGINALS.pop("add")
    mcore_random.CudaRNGStatesTracker.fork = _ORIGINALS.pop("fork")
    for name in _MAPPINGS:
        setattr(mcore_mappings, name, _ORIGINALS.pop(name))
    mcore_language_module.LanguageModule.setup_embeddings_and_output_layer = _ORIGINALS.pop("setup_embeddings")
    mcore_schedules.torch = mcore_p2p.torch = mcore_rotary.torch = mcore_rerun.torch = torch
    mcore_fused_softmax.get_sliding_window_causal_mask = _ORIGINALS.pop("window_mask")


def _cpu_get_tensor(self: Any, tensor_shape: tuple[int, ...], dtype: torch.dtype, name: str,
                    mem_alloc_context: Callable[..., Any] | None = None) -> torch.Tensor:
    # Same caching as upstream, CPU allocation instead of torch.cuda.current_device().
    required_len = reduce(operator.mul, tensor_shape, 1)
    buf = self.buffer.get((name, dtype))
    if buf is None or buf.numel() < required_len:
        buf = self.buffer[(name, dtype)] = torch.empty(required_len, dtype=dtype, device="cpu")
    return buf[0:required_len].view(*tensor_shape)


def _cpu_sliding_window_causal_mask(sq: int, skv: int, window_size: tuple[int, int]) -> torch.Tensor:
    # Upstream's [sq, skv] mask (True = masked), allocated on the CPU.
    return ~sliding_window_band(sq, skv, window_size, torch.device("cpu"))


def _cpu_add(self: Any, name: str, seed: int) -> None:
    # Upstream seeds the CUDA generator and stores its state; we store a CPU generator state.
    self._is_initialized = True
    if seed in self.seeds_:
        raise Exception(f"seed {seed} already exists")
    if name in self.states_:
        raise Exception(f"rng state {name} already exists")
    self.seeds_.add(seed)
    self.states_[name] = torch.Generator().manual_seed(seed).get_state()


@contextlib.contextmanager
def _cpu_fork(self: Any, name: str = mcore_random._MODEL_PARALLEL_RNG_TRACKER_NAME) -> Iterator[None]:
    # Upstream swaps the CUDA generator; here the default CPU generator takes the named state.
    if name not in self.states_:
        raise Exception(f"rng state {name} is not added")
    outer = torch.get_rng_state()
    torch.set_rng_state(self.states_[name])
    try:
        yield
    finally:
        self.states_[name] = torch.get_rng_state()
        torch.set_rng_state(outer)



def _cpu_gather_along_last_dim(input_: torch.Tensor, group: Any) -> torch.Tensor:
    # [.., x] on each rank -> [.., world * x], rank order (upstream: all_gather_into_tensor on CUDA).
    if group.size() == 1:
        return input_
    parts = [torch.empty_like(input_) for _ in range(group.size())]
    torch.distributed.all_gather(parts, input_.contiguous(), group=group)
    return torch.cat(parts, dim=-1).contiguous()


def _cpu_gather_along_first_dim(input_: torch.Tensor, group: Any, output_split_sizes: list[int] | None = None,
                                use_global_buffer: bool = False) -> torch.Tensor:
    if group.size() == 1:
        return input_
    if output_split_sizes is None:
        parts = [torch.empty_like(input_) for _ in range(group.size())]
        torch.distributed.all_gather(parts, input_.contiguous(), group=group)
        return torch.cat(parts, dim=0)
    parts = [input_.new_empty((n, *input_.shape[1:])) for n in output_split_sizes]
    torch.distributed.all_gather(parts, input_.contiguous(), group=group)
    return torch.cat(parts, dim=0)


def _cpu_reduce_scatter_along_first_dim(input_: torch.Tensor, group: Any, input_split_sizes: list[int] | None = None,
                                        use_global_buffer: bool = False) -> torch.Tensor:
    # Sum over ranks, keep this rank's rows (upstream: reduce_scatter_tensor on CUDA).
    world = group.size()
    if world == 1:
        return input_
    summed = input_.contiguous().clone()
    torch.distributed.all_reduce(summed, group=group)
    sizes = input_split_sizes or [input_.shape[0] // world] * world
    return torch.split(summed, sizes, dim=0)[group.rank()].contiguous()


class _CpuCuda:
    """`torch.cuda` for the pipeline modules: the current device is the CPU, nothing to sync."""

    def __getattr__(self, name: str) -> Any:
        return getattr(torch.cuda, name)

    @staticmethod
    def current_device() -> str:
        return "cpu"

    @staticmethod
    def synchronize(device: Any = None) -> None:
        return None


class _CpuTorch(types.ModuleType):
    """`torch` as seen by megatron's schedules and p2p module on the CPU (see 4a above)."""

    cuda = _CpuCuda()

    def __getattr__(self, name: str) -> Any:
        return getattr(torch, name)

    @staticmethod
    def zeros(*size: Any, device: Any = None, **kwargs: Any) -> torch.Tensor:
        return torch.zeros(*size, device="cpu" if device == "cuda" else device, **kwargs)


_CPU_TORCH = _CpuTorch("torch")


def _cpu_setup_embeddings_and_output_layer(self: Any) -> None:
    # Upstream: `weight.data = weight.data.cuda()` then all-reduce over the embedding group.
    original_cuda = torch.Tensor.cuda
    torch.Tensor.cuda = lambda tensor, *args, **kwargs: tensor  # type: ignore[method-assign]
    try:
        _ORIGINALS["setup_embeddings"](self)
    finally:
        torch.Tensor.cuda = original_cuda  # type: ignore[method-assign]
