"""One optimizer step and one validation pass over megatron-core's `GPTModel`.

On one pipeline stage, microbatches are a plain gradient-accumulation loop (megatron-core's
`forward_backward_no_pipelining` would add nothing but CUDA-only bookkeeping). With pipeline
stages, megatron-core's `forward_backward_pipelining_without_interleaving` (1F1B) runs the
microbatches: every stage reads the same batches (each takes what it needs: tokens and
positions on the first, labels and loss mask on the last), the last stage's loss function
returns the already-normalised loss with `calculate_per_token_loss` set so the schedule does
not rescale it, and the step loss is summed over the pipeline group so every rank logs it.
After backward, the tied word-embedding gradients of the first and last stage are all-reduced
over megatron's embedding group (its `finalize_model_grads` does this for DDP-wrapped models,
which the CPU cannot build), and data-parallel gradients are averaged with one all-reduce.
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


def seqvcr_loss(model: torch.nn.Module, capture, autocast: contextlib.AbstractContextManager) -> torch.Tensor:
    """The Seq-VCR term of the forward pass just run (`pretrain/seqvcr_hook.py`: hook in `capture`)."""
    with autocast:
        return model.seqvcr(capture.pop())


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, data: PretrainDataset, step: int,
               micro_batch_size: int, grad_accum: int, dp_rank: int, dp_size: int, device: torch.device,
               pad_id: int | None, autocast: contextlib.AbstractContextManager, seqvcr_capture=None) -> float:
    """Forward/backward over `grad_accum` microbatches; returns the mean token loss of the step
    over all data-parallel ranks. Gradients are left in `.grad` for clipping and the update.
    With `seqvcr_capture` (a `pretrain.seqvcr_hook.LayerCapture`), each microbatch adds the Seq-VCR
    term / grad_accum (averaged, not summed, over microbatches and data-parallel ranks)."""
    from megatron.core import parallel_state

    optimizer.zero_grad(set_to_none=True)
    pipeline = parallel_state.get_pipeline_model_parallel_world_size() > 1
    batches = [data.batch(microbatch_indices(step, m, micro_batch_size, grad_accum, dp_rank, dp_size))
               for m in range(grad_accum)]
    # Normalise by the step's token count so accumulation equals one large batch.
    counts = [float((b[:, 1:] != pad_id).sum()) if pad_id is not None else float(b[:, 1:].size) for b in batches]
    total = torch.tensor(sum(counts), dtype=torch.float64)
    loss_sum = torch.zeros((), dtype=torch.float64)
    if dp_size > 1:
        torch.distributed.all_reduce(total, group=parallel_state.get_data_parallel_group())
    if pipeline:  # seqvcr is refused with pipeline stages (`config.resolve`)
        loss_sum += pipeline_losses(model, batches, device, pad_id, autocast, dp_size / total.item(), False)
        torch.distributed.all_reduce(loss_sum, group=parallel_state.get_pipeline_model_parallel_group())
        allreduce_tied_embedding_grads(model)
    else:
        for batch in batches:
            summed, _ = masked_loss(model, batch, device, pad_id, autocast)
            loss = summed / total.item() * dp_size
            if seqvcr_capture is not None:
                loss = loss + seqvcr_loss(model, seqvcr_capture, autocast) / grad_accum
            loss.backward()
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
    batches = [data.batch(mine[start:start + micro_batch_size]) for start in range(0, len(mine), micro_batch_size)]
    if parallel_state.get_pipeline_model_parallel_world_size() > 1:
        # Equal micro-batches only (the schedule's p2p buffers have one shape): drop a ragged tail.
        batches = [b for b in batches if len(b) == micro_batch_size]
        sums[0] = pipeline_losses(model, batches, device, pad_id, autocast, 1.0, True)
        sums[1] = sum(float((b[:, 1:] != pad_id).sum()) if pad_id is not None else float(b[:, 1:].size)
                      for b in batches)
        torch.distributed.all_reduce(sums[:1], group=parallel_state.get_pipeline_model_parallel_group())
    else:
        for batch in batches:
            summed, count = masked_loss(model, batch, device, pad_id, autocast)
            sums += torch.tensor([float(summed), float(count)], dtype=torch.float64)
    if dp_size > 1:
        torch.distributed.all_reduce(sums, group=parallel_state.get_data_parallel_group())
    model.train()
    return float(sums[0] / max(sums[1], 1.0))


def pipeline_losses(model: torch.nn.Module, batches: list[np.ndarray], device: torch.device, pad_id: int | None,
                    autocast: contextlib.AbstractContextManager, scale: float, forward_only: bool) -> float:
    """Run `batches` through megatron-core's 1F1B schedule; backward of (token-loss sum x `scale`)
    unless `forward_only`. Returns the token-loss sum on the last stage, 0 elsewhere."""
    from megatron.core.pipeline_parallel.schedules import forward_backward_pipelining_without_interleaving

    if not batches:
        return 0.0
    config = model.config
    config.calculate_per_token_loss = True  # our loss is normalised already: the schedule must not divide it

    def forward_step(data_iterator, model):
        inputs, labels, positions, mask, attn_mask = _inputs(next(data_iterator), device, pad_id)
        with autocast:
            output = model(inputs, positions, attn_mask, labels=labels)  # last stage [b, s] losses, else [s, b, h]

        def loss_func(per_token: torch.Tensor):
            summed = (per_token.float() * mask).sum()
            return summed * scale, mask.sum().int(), {"loss_sum": summed.detach()}

        return output, loss_func

    inputs_shape = batches[0].shape  # [b, s+1]
    store = forward_backward_pipelining_without_interleaving(
        forward_step_func=forward_step, data_iterator=iter(batches), model=[model], num_microbatches=len(batches),
        seq_length=inputs_shape[1] - 1, micro_batch_size=inputs_shape[0], forward_only=forward_only)
    return float(sum(float(d["loss_sum"]) for d in store))


def allreduce_tied_embedding_grads(model: torch.nn.Module) -> None:
    """Sum the word-embedding gradients of the first stage and the output-layer copy of the last
    (megatron-core `distributed/finalize_model_grads._allreduce_word_embedding_grads`)."""
    from megatron.core import parallel_state

    if not parallel_state.is_rank_in_embedding_group(ignore_virtual=True):
        return
    if not getattr(model, "share_embeddings_and_output_weights", False):
        return
    weight = model.shared_embedding_or_output_weight()
    if weight.grad is None:
        weight.grad = torch.zeros_like(weight)
    torch.distributed.all_reduce(weight.grad, group=parallel_state.get_embedding_group())
