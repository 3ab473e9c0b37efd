"""AdamW, cosine learning rate with linear warmup, model-parallel-aware gradient clipping.

The optimizer is `torch.optim.AdamW`, not megatron-core's `get_megatron_optimizer`: the latter
needs models wrapped in megatron-core's `DistributedDataParallel`, whose contiguous gradient
buffers are allocated with `torch.cuda.current_device()` (`distributed/param_and_grad_buffer.py`),
so it cannot run on the CPU. Its `get_grad_norm_fp32` also allocates on "cuda", so the norm is
computed here the same way: squares summed over parameters that are not tensor-parallel
duplicates (megatron-core's `param_is_not_tensor_parallel_duplicate`) nor the last pipeline
stage's copy of the tied embedding (`param_is_not_shared`), all-reduced over the
model-parallel group, so clipping matches Megatron's at any TP/PP size.
Weight decay is not applied to biases, LayerNorm and position/word embeddings' 1-D neighbours
(any parameter with one dimension), as in Megatron.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass
class OptimConfig:
    lr: float = 3e-4
    """Peak learning rate (StarCoder: 3e-4)."""
    min_lr: float = 3e-5
    """Floor of the cosine decay (StarCoder: 3e-5)."""
    warmup_steps: int = 10
    """Linear warmup from 0 to `lr` (StarCoder: 2,000 iterations)."""
    decay_steps: int | None = None
    """Cosine decay length; None means the run's train_steps."""
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    clip_grad: float | None = 1.0
    """Global gradient-norm clip; None turns clipping off."""


def build_optimizer(model: torch.nn.Module, cfg: OptimConfig) -> torch.optim.AdamW:
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() <= 1]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    # foreach=False: the same per-parameter arithmetic whatever the parameter count, so a
    # tensor-parallel shard updates exactly like its slice of the full tensor.
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, foreach=False)


def init_state(optimizer: torch.optim.Optimizer) -> None:
    """Create AdamW's (zero) state so a checkpoint has tensors to load into."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            if p not in optimizer.state or not optimizer.state[p]:
                optimizer.state[p] = {"step": torch.tensor(0.0), "exp_avg": torch.zeros_like(p),
                                      "exp_avg_sq": torch.zeros_like(p)}


def lr_at(step: int, cfg: OptimConfig, train_steps: int) -> float:
    """Learning rate for the update after `step` completed updates (0-based)."""
    if cfg.warmup_steps > 0 and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    decay = (cfg.decay_steps or train_steps) - cfg.warmup_steps
    if decay <= 0:
        return cfg.lr
    progress = min(1.0, (step - cfg.warmup_steps) / decay)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1.0 + math.cos(math.pi * progress))


def clip_gradients(model: torch.nn.Module, max_norm: float | None) -> float:
    """Global gradient norm over all model-parallel ranks (before clipping); clips in place."""
    from megatron.core import parallel_state
    from megatron.core.tensor_parallel import param_is_not_tensor_parallel_duplicate

    params = [p for p in model.parameters() if p.grad is not None]
    squares = torch.zeros((), dtype=torch.float64, device=params[0].grad.device if params else "cpu")
    for p in params:
        # `shared`: the last pipeline stage's copy of the tied embedding, counted on the first.
        if param_is_not_tensor_parallel_duplicate(p) and not getattr(p, "shared", False):
            squares += p.grad.detach().double().pow(2).sum()
    if torch.distributed.get_world_size(parallel_state.get_model_parallel_group()) > 1:
        torch.distributed.all_reduce(squares, group=parallel_state.get_model_parallel_group())
    norm = float(squares.sqrt())
    if max_norm is not None and norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for p in params:
            p.grad.mul_(scale)
    return norm
