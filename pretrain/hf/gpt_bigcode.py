"""transformers `GPTBigCodeForCausalLM` (StarCoder, StarCoderBase, SantaCoder) <-> checkpoint form.

    embedding.word_embeddings.weight [Vpad, h]  <-> transformer.wte.weight [V, h] (padding rows
                                                    dropped; lm_head tied to it)
    embedding.position_embeddings.weight        <-> transformer.wpe.weight
    decoder.layers.self_attention.linear_qkv.layer_norm_{weight,bias} [L, h]
                                                <-> transformer.h.{i}.ln_1
    decoder.layers.self_attention.linear_qkv.{weight,bias} [L, (H/G + 2) G d, h]
                                                <-> transformer.h.{i}.attn.c_attn
    decoder.layers.self_attention.linear_proj   <-> transformer.h.{i}.attn.c_proj
    decoder.layers.mlp.linear_fc1.layer_norm_*  <-> transformer.h.{i}.ln_2
    decoder.layers.mlp.linear_fc1 / linear_fc2  <-> transformer.h.{i}.mlp.c_fc / c_proj
    decoder.final_layernorm                     <-> transformer.ln_f
    output_layer.weight (untied only)           <-> lm_head.weight

GPTBigCode with `multi_query=True` wants c_attn rows [all query heads | key | value]
(`modeling_gpt_bigcode.py`: `c_attn(x).split((embed_dim, kv_dim, kv_dim))`); with one head per
group (MHA, `multi_query=False`) it views them per head as [q | k | v], which is megatron's
layout unchanged. Grouped-query attention with 1 < G < H has no GPTBigCode equivalent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from pretrain.hf.layout import merge_qkv, pad_rows, split_qkv, stack, take
from pretrain.model import ModelConfig
from starforge.errors import ConfigError, PretrainError

ARCHITECTURE = "GPTBigCodeForCausalLM"
MODEL_TYPE = "gpt_bigcode"
# transformers' names for the tanh approximation of GELU, the MLP activation megatron runs here
# (`pretrain.model._gelu_tanh`); "gelu" (erf) would compute something else.
TANH_GELUS = ("gelu_pytorch_tanh", "gelu_new", "gelu_fast")
_PER_LAYER = {  # checkpoint name -> GPTBigCode name in block i (qkv handled apart)
    "self_attention.linear_qkv.layer_norm_weight": "ln_1.weight",
    "self_attention.linear_qkv.layer_norm_bias": "ln_1.bias",
    "self_attention.linear_proj.weight": "attn.c_proj.weight",
    "self_attention.linear_proj.bias": "attn.c_proj.bias",
    "mlp.linear_fc1.layer_norm_weight": "ln_2.weight",
    "mlp.linear_fc1.layer_norm_bias": "ln_2.bias",
    "mlp.linear_fc1.weight": "mlp.c_fc.weight",
    "mlp.linear_fc1.bias": "mlp.c_fc.bias",
    "mlp.linear_fc2.weight": "mlp.c_proj.weight",
    "mlp.linear_fc2.bias": "mlp.c_proj.bias",
}


def model_config(config: dict[str, Any], where: str) -> ModelConfig:
    """Our `ModelConfig` for a GPTBigCode config.json; what it cannot hold is refused by field."""
    from transformers import GPTBigCodeConfig

    hf = GPTBigCodeConfig.from_dict(config)
    if hf.activation_function not in TANH_GELUS:
        raise ConfigError(f"{where}: activation_function={hf.activation_function!r}: our model runs the tanh GELU "
                          f"({', '.join(TANH_GELUS)}); this checkpoint would compute something else")
    if not hf.scale_attn_weights:
        raise ConfigError(f"{where}: scale_attn_weights=false: megatron-core always scales attention by "
                          "1/sqrt(head_dim)")
    if getattr(hf, "add_cross_attention", False):
        raise ConfigError(f"{where}: add_cross_attention=true: a decoder with cross-attention is not a "
                          "StarCoder model")
    try:
        return ModelConfig(
            num_layers=hf.n_layer, hidden_size=hf.n_embd, num_attention_heads=hf.n_head,
            num_query_groups=1 if hf.multi_query else hf.n_head, ffn_hidden_size=hf.n_inner or 4 * hf.n_embd,
            max_position_embeddings=hf.n_positions, vocab_size=hf.vocab_size,
            position_embedding_type="learned_absolute", layernorm_epsilon=hf.layer_norm_epsilon,
            init_method_std=hf.initializer_range, attention_dropout=float(hf.attn_pdrop),
            hidden_dropout=float(hf.resid_pdrop), tie_word_embeddings=bool(hf.tie_word_embeddings))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def hf_config(cfg: ModelConfig, eos_id: int = 0):
    from transformers import GPTBigCodeConfig

    G, H = cfg.num_query_groups, cfg.num_attention_heads
    if G not in (1, H):
        raise PretrainError(f"model.num_query_groups={G}: GPTBigCode supports only multi-query (1) or "
                            f"multi-head ({H}) attention; this checkpoint cannot be exported to it")
    return GPTBigCodeConfig(
        vocab_size=cfg.vocab_size, n_positions=cfg.max_position_embeddings, n_embd=cfg.hidden_size,
        n_layer=cfg.num_layers, n_head=H, n_inner=cfg.ffn_hidden_size,
        activation_function="gelu_pytorch_tanh", layer_norm_epsilon=cfg.layernorm_epsilon,
        multi_query=G == 1, initializer_range=cfg.init_method_std,
        resid_pdrop=cfg.hidden_dropout, embd_pdrop=cfg.hidden_dropout, attn_pdrop=cfg.attention_dropout,
        bos_token_id=eos_id, eos_token_id=eos_id, tie_word_embeddings=cfg.tie_word_embeddings,
        architectures=[ARCHITECTURE], torch_dtype="float32",
    )


def model_class():
    from transformers import GPTBigCodeForCausalLM

    return GPTBigCodeForCausalLM


def qkv_to_hf(w: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """Megatron per-group [q.., k, v] rows -> GPTBigCode c_attn rows."""
    G, H, d = cfg.num_query_groups, cfg.num_attention_heads, cfg.head_dim
    if G == H:
        return w  # MHA: both are per-head [q | k | v]
    if G != 1:
        raise PretrainError(f"model.num_query_groups={G}: GPTBigCode supports only multi-query (1) or "
                            f"multi-head ({H}) attention; this checkpoint cannot be exported to it")
    return torch.cat(split_qkv(w, H, G, d))  # [q (H d) | k (d) | v (d)]


def qkv_from_hf(w: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    G, H, d = cfg.num_query_groups, cfg.num_attention_heads, cfg.head_dim
    if G == H:
        return w
    q, k, v = torch.split(w, [H * d, G * d, G * d])
    return merge_qkv(q, k, v, H, G, d)


def to_hf(tensors: Mapping[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """Checkpoint form -> a `GPTBigCodeForCausalLM` state dict (fp32)."""
    V = cfg.vocab_size
    out = {"transformer.wte.weight": tensors["embedding.word_embeddings.weight"][:V],
           "transformer.wpe.weight": tensors["embedding.position_embeddings.weight"],
           "transformer.ln_f.weight": tensors["decoder.final_layernorm.weight"],
           "transformer.ln_f.bias": tensors["decoder.final_layernorm.bias"]}
    for i in range(cfg.num_layers):
        for ours, theirs in _PER_LAYER.items():
            out[f"transformer.h.{i}.{theirs}"] = tensors[f"decoder.layers.{ours}"][i]
        for part in ("weight", "bias"):
            out[f"transformer.h.{i}.attn.c_attn.{part}"] = qkv_to_hf(
                tensors[f"decoder.layers.self_attention.linear_qkv.{part}"][i], cfg)
    out["lm_head.weight"] = (out["transformer.wte.weight"] if cfg.tie_word_embeddings
                             else tensors["output_layer.weight"][:V])
    return {k: v.detach().float().contiguous().clone() for k, v in out.items()}


def from_hf(weights: Mapping[str, torch.Tensor], cfg: ModelConfig, tensor_parallel: int,
            where: str) -> dict[str, torch.Tensor]:
    """A GPTBigCode state dict -> checkpoint form, vocabulary padded for `tensor_parallel`."""
    h, f, V, L = cfg.hidden_size, cfg.ffn_hidden_size, cfg.vocab_size, cfg.num_layers
    qkv_rows = h + 2 * cfg.kv_channels
    rows = cfg.padded_vocab_size(tensor_parallel)
    shapes = {"ln_1.weight": (h,), "ln_1.bias": (h,), "ln_2.weight": (h,), "ln_2.bias": (h,),
              "attn.c_proj.weight": (h, h), "attn.c_proj.bias": (h,), "mlp.c_fc.weight": (f, h),
              "mlp.c_fc.bias": (f,), "mlp.c_proj.weight": (h, f), "mlp.c_proj.bias": (h,)}
    out = {"embedding.word_embeddings.weight": pad_rows(take(weights, "transformer.wte.weight", (V, h), where), rows),
           "embedding.position_embeddings.weight": take(weights, "transformer.wpe.weight",
                                                        (cfg.max_position_embeddings, h), where),
           "decoder.final_layernorm.weight": take(weights, "transformer.ln_f.weight", (h,), where),
           "decoder.final_layernorm.bias": take(weights, "transformer.ln_f.bias", (h,), where)}
    for ours, theirs in _PER_LAYER.items():
        out[f"decoder.layers.{ours}"] = stack([take(weights, f"transformer.h.{i}.{theirs}", shapes[theirs], where)
                                               for i in range(L)])
    out["decoder.layers.self_attention.linear_qkv.weight"] = stack([
        qkv_from_hf(take(weights, f"transformer.h.{i}.attn.c_attn.weight", (qkv_rows, h), where), cfg)
        for i in range(L)])
    out["decoder.layers.self_attention.linear_qkv.bias"] = stack([
        qkv_from_hf(take(weights, f"transformer.h.{i}.attn.c_attn.bias", (qkv_rows,), where), cfg)
        for i in range(L)])
    if not cfg.tie_word_embeddings:
        out["output_layer.weight"] = pad_rows(take(weights, "lm_head.weight", (V, h), where), rows)
    return out
