"""Tensor layout shared by the families: megatron's fused QKV rows, vocabulary padding, the
stacked per-layer form, and reading named tensors with errors that name the file.

Megatron lays the fused QKV rows out per key/value group (`SelfAttention.get_query_key_value_tensors`):
for each group g of G, its H/G query heads, then its key head, then its value head, each head d
rows. transformers keeps query, key and value apart (Starcoder2's q_proj/k_proj/v_proj;
GPTBigCode's multi-query c_attn is [q | k | v]), query head h using key/value head h // (H/G)
(`repeat_kv`), which is the same grouping.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from starforge.errors import PretrainError

LAYER_NORMS = {  # checkpoint name (stacked) -> the local-spec GPTModel name of one layer
    "self_attention.linear_qkv.layer_norm_weight": "input_layernorm.weight",
    "self_attention.linear_qkv.layer_norm_bias": "input_layernorm.bias",
    "mlp.linear_fc1.layer_norm_weight": "pre_mlp_layernorm.weight",
    "mlp.linear_fc1.layer_norm_bias": "pre_mlp_layernorm.bias",
}
LAYER_KEYS = {  # every stacked checkpoint tensor of a layer -> its local-spec GPTModel name
    **LAYER_NORMS,
    "self_attention.linear_qkv.weight": "self_attention.linear_qkv.weight",
    "self_attention.linear_qkv.bias": "self_attention.linear_qkv.bias",
    "self_attention.linear_proj.weight": "self_attention.linear_proj.weight",
    "self_attention.linear_proj.bias": "self_attention.linear_proj.bias",
    "mlp.linear_fc1.weight": "mlp.linear_fc1.weight",
    "mlp.linear_fc1.bias": "mlp.linear_fc1.bias",
    "mlp.linear_fc2.weight": "mlp.linear_fc2.weight",
    "mlp.linear_fc2.bias": "mlp.linear_fc2.bias",
}


def split_qkv(w: torch.Tensor, heads: int, groups: int, head_dim: int) -> tuple[torch.Tensor, ...]:
    """Megatron's per-group [q.., k, v] rows -> (q [H d, ...], k [G d, ...], v [G d, ...])."""
    per = heads // groups
    grouped = w.reshape(groups, per + 2, head_dim, *w.shape[1:])  # [G, H/G + 2, d, (h)]
    q = grouped[:, :per].reshape(heads * head_dim, *w.shape[1:])
    k = grouped[:, per].reshape(groups * head_dim, *w.shape[1:])
    v = grouped[:, per + 1].reshape(groups * head_dim, *w.shape[1:])
    return q, k, v


def merge_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, groups: int,
              head_dim: int) -> torch.Tensor:
    """The inverse of `split_qkv`."""
    per = heads // groups
    rest = q.shape[1:]
    grouped = torch.cat([q.reshape(groups, per, head_dim, *rest), k.reshape(groups, 1, head_dim, *rest),
                         v.reshape(groups, 1, head_dim, *rest)], dim=1)  # [G, H/G + 2, d, (h)]
    return grouped.reshape(groups * (per + 2) * head_dim, *rest)


def pad_rows(w: torch.Tensor, rows: int) -> torch.Tensor:
    """Vocabulary rows padded with zeros to megatron's padded size (`padded_vocab_size`)."""
    if w.shape[0] > rows:
        raise PretrainError(f"{w.shape[0]} vocabulary rows do not fit the padded vocabulary of {rows}")
    return torch.cat([w, w.new_zeros(rows - w.shape[0], *w.shape[1:])]) if w.shape[0] < rows else w


def take(weights: Mapping[str, torch.Tensor], key: str, shape: tuple[int, ...], where: str) -> torch.Tensor:
    """One HF tensor in fp32, its shape checked; a missing one names the directory."""
    if key not in weights:
        raise PretrainError(f"{where}: no tensor '{key}' in its safetensors files; the download is incomplete "
                            "or the files belong to another model")
    value = weights[key]
    if tuple(value.shape) != shape:
        raise PretrainError(f"{where}: '{key}' is {tuple(value.shape)} but config.json implies {shape}; "
                            "config.json and the weights disagree")
    return value.float()


def stack(per_layer: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack(per_layer).contiguous()
