"""Fused core attention and activation recomputation for megatron-core's layer specs.

`SdpaAttention` replaces megatron-core's local `DotProductAttention` (the core attention of
`get_gpt_layer_local_spec`) with PyTorch's `scaled_dot_product_attention`. The local module
repeats the key/value heads to every query head, materialises the [b, heads, s, s] scores in a
scratch buffer and runs an unfused softmax (fp32 under bf16); on one H100 with the
StarCoderBase-1B shape that held megatron-core to about 19-21K tokens/s against 59K with SDPA
(FACTS.md, "megatron-core"). Here the single key/value group of multi-query attention (or the
G groups of grouped-query attention) goes to SDPA as is, with `enable_gqa`, so no head is
copied, and SDPA picks its flash / memory-efficient kernel on CUDA (its flash kernel on the CPU).
Causal masking is SDPA's own (`is_causal=True`): the explicit [1, 1, s, s] mask the trainer
passes for the local module is ignored, so this module serves causal self-attention only
(the only mask StarCoder pretraining uses; packed sequences and attention bias are refused).
A sliding window (StarCoder2, `TransformerConfig.window_size`, set only when it binds) is the
same band megatron-core's local softmax builds (`transformer/utils.get_sliding_window_causal_mask`),
passed to SDPA as a boolean mask.
It subclasses `DotProductAttention` for its per-partition head counts, softmax scale and
(empty) sharded state, so checkpoints and export are the same with either module.

`RecomputedTransformerLayer` is activation recomputation of whole layers that works under bf16
autocast. megatron-core's full recompute (`tensor_parallel.random.CheckpointFunction`) reruns
the layer inside backward, outside the caller's autocast, so the recomputed layer runs in
fp32 against bf16 saved tensors (the dtype error FACTS.md records at sequence 8192); it also
reads the CUDA RNG, so it cannot run on the CPU. We wrap each layer's forward in
`torch.utils.checkpoint` (non-reentrant), which restores the autocast state and the CPU/CUDA
RNG for the recomputation, and add megatron's named RNG tracker states (tensor-parallel
dropout streams) through its `context_fn`: the recomputation replays the same dropout masks.
Keeping the layer's class a subclass keeps its parameter names, so checkpoints do not change.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from megatron.core.transformer.dot_product_attention import DotProductAttention
from megatron.core.transformer.enums import AttnMaskType
from megatron.core.transformer.transformer_layer import TransformerLayer


class SdpaAttention(DotProductAttention):
    """Causal core attention through `F.scaled_dot_product_attention`, key/value groups not repeated."""

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                attention_mask: torch.Tensor | None, attn_mask_type: AttnMaskType | None = None,
                attention_bias: torch.Tensor | None = None, packed_seq_params: Any = None) -> torch.Tensor:
        mask_type = attn_mask_type if attn_mask_type is not None else self.attn_mask_type
        if mask_type != AttnMaskType.causal or attention_bias is not None or packed_seq_params is not None:
            raise NotImplementedError("SdpaAttention serves causal self-attention without bias or packing; "
                                      "use attention=local for other masks")
        sq, b = query.shape[0], query.shape[1]
        groups = key.shape[2]
        # [s, b, heads, d] -> [b, heads, s, d]; key/value keep their `groups` heads (1 for MQA).
        q = query.permute(1, 2, 0, 3)
        k = key.permute(1, 2, 0, 3)
        v = value.permute(1, 2, 0, 3)
        p = self.attention_dropout.p if self.training else 0.0
        window = self.scale_mask_softmax.window_size  # this layer's (left, right) span, or None
        band = sliding_window_band(sq, key.shape[0], window, query.device) if window is not None else None
        # Dropout inside the tracker's fork as in DotProductAttention: per-TP-rank streams.
        rng = (_tracker().fork() if p > 0 and not self.config.sequence_parallel else contextlib.nullcontext())
        with rng:
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=band, dropout_p=p, is_causal=band is None,
                                                     scale=self.softmax_scale,
                                                     enable_gqa=q.shape[1] != groups)  # [b, heads, s, d]
        # [b, heads, s, d] -> [s, b, heads * d]
        return context.permute(2, 0, 1, 3).reshape(sq, b, self.hidden_size_per_partition)


def sliding_window_band(sq: int, sk: int, window: tuple[int, int], device: torch.device) -> torch.Tensor:
    """[sq, sk] bool, True where query i may attend key j: i - left <= j - (sk - sq) <= i + right
    (megatron's `get_sliding_window_causal_mask`, inverted: SDPA's True means attend)."""
    i = torch.arange(sq, device=device)[:, None] + (sk - sq)
    j = torch.arange(sk, device=device)[None, :]
    return (j >= i - window[0]) & (j <= i + window[1])


class RecomputedTransformerLayer(TransformerLayer):
    """A `TransformerLayer` whose activations are recomputed in backward, autocast dtype kept."""

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if not (self.training and torch.is_grad_enabled()):
            return super().forward(*args, **kwargs)
        return torch.utils.checkpoint.checkpoint(super().forward, *args, use_reentrant=False,
                                                 context_fn=_tracker_replay, **kwargs)


def _tracker():
    from megatron.core.tensor_parallel import get_cuda_rng_tracker

    return get_cuda_rng_tracker()


def _tracker_replay() -> tuple[contextlib.AbstractContextManager, contextlib.AbstractContextManager]:
    """(forward context, recompute context): the recomputation starts from the tracker states
    the forward started from, and leaves the tracker as it found it."""
    saved = _tracker().get_states()

    @contextlib.contextmanager
    def replay() -> Iterator[None]:
        current = _tracker().get_states()
        _tracker().set_states(saved)
        try:
            yield
        finally:
            _tracker().set_states(current)

    return contextlib.nullcontext(), replay()


def with_sdpa(spec: Any) -> Any:
    """A copy of a local GPT layer spec with `SdpaAttention` as its core attention."""
    spec = copy.deepcopy(spec)
    spec.submodules.self_attention.submodules.core_attention = SdpaAttention
    return spec


def with_recompute(spec: Any) -> Any:
    """A copy of a GPT layer spec whose layers recompute their activations in backward."""
    spec = copy.deepcopy(spec)
    if spec.module is not TransformerLayer:
        raise TypeError(f"recompute wraps megatron-core's TransformerLayer, not {spec.module.__name__}")
    spec.module = RecomputedTransformerLayer
    return spec
