"""One optimizer step and one validation pass over megatron-core's `GPTModel`.

Pipeline parallelism is not driven here (see `parallel.check_layout`): on one pipeline stage
megatron-core's schedules add nothing but CUDA-only bookkeeping, so microbatches are a plain
gradient-accumulation loop, and data-parallel gradients are averaged with one all-reduce.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from pretrain.data import PretrainDataset, microbatch_indices


def _inputs(batch: np.ndarray, device: torch.device, pad_id: int | None):
    tokens = torch.from_numpy(batch).to(device)  # [b, s+1]
    inputs, labels = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()  # [b, s]
    positions = torch.arange(inputs.shape[1], device=device).unsqueeze(0).expand_as(inputs)
    mask = (labels != pad_id).float() if pad_id is not None else torch.ones_like(labels, dtype=torch.float)
    return inputs, labels, positions, mask, causal_mask(inputs.shape[1], device)


def causal_mask(seq: int, device: torch.device) -> torch.Tensor:
    """[1, 1, s, s] bool, True where attention is masked (megatron's convention). Passed
    explicitly: with `None`, megatron-core 0.16 builds its default mask with device="cuda"."""
    return torch.triu(torch.ones(seq, seq, dtype=torch.bool, device=device), diagonal=1)[None, None]


def masked_loss(model: torch.nn.Module, batch: np.ndarray, device: torch.device, pad_id: int | None,
                autocast: contextlib.AbstractContextManager) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of token losses, number of counted tokens); megatron returns per-token losses [b, s]."""
    inputs, labels, positions, mask, attn_mask = _inputs(batch, device, pad_id)
    with autocast:
        per_token = model(inputs, positions, attn_mask, labels=labels)  # [b, s], vocab-parallel CE
    return (per_token.float() * mask).sum(), mask.sum()


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, data: PretrainDataset, step: int,
               micro_batch_size: int, grad_accum: int, dp_rank: int, dp_size: int, device: torch.device,
               pad_id: int | None, autocast: contextlib.AbstractContextManager) -> float:
    """Forward/backward over `grad_accum` microbatches; returns the mean token loss of the step
    over all data-parallel ranks. Gradients are left in `.grad` for clipping and the update."""
    from megatron.core import parallel_state

    optimizer.zero_grad(set_to_none=True)
    batches = [data.batch(microbatch_indices(step, m, micro_batch_size, grad_accum, dp_rank, dp_size))
               for m in range(grad_accum)]
    # Normalise by the step's token count so accumulation equals one large batch.
    counts = [float((b[:, 1:] != pad_id).sum()) if pad_id is not None else float(b[:, 1:].size) for b in batches]
    total = torch.tensor(sum(counts), dtype=torch.float64)
    loss_sum = torch.zeros((), dtype=torch.float64)
    if dp_size > 1:
        torch.distributed.all_reduce(total, group=parallel_state.get_data_parallel_group())
    for batch in batches:
        summed, _ = masked_loss(model, batch, device, pad_id, autocast)
        (summed / total.item() * dp_size).backward()
        loss_sum += summed.detach().double().cpu()
    if dp_size > 1:
        group = parallel_state.get_data_parallel_group()
        for p in model.parameters():
            if p.grad is not None:
                torch.distributed.all_reduce(p.grad, group=group)
                p.grad.div_(dp_size)
        torch.distributed.all_reduce(loss_sum, group=group)
    return float(loss_sum / total)


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: PretrainDataset, samples: int, micro_batch_size: int, dp_rank: int,
             dp_size: int, device: torch.device, pad_id: int | None,
             autocast: contextlib.AbstractContextManager) -> float:
    """Mean token loss over the first `samples` validation samples (split across DP ranks)."""
    from megatron.core import parallel_state

    model.eval()
    sums = torch.zeros(2, dtype=torch.float64)
    mine = list(range(dp_rank, samples, dp_size))
    for start in range(0, len(mine), micro_batch_size):
        summed, count = masked_loss(model, data.batch(mine[start:start + micro_batch_size]), device, pad_id, autocast)
        sums += torch.tensor([float(summed), float(count)], dtype=torch.float64)
    if dp_size > 1:
        torch.distributed.all_reduce(sums, group=parallel_state.get_data_parallel_group())
    model.train()
    return float(sums[0] / max(sums[1], 1.0))
