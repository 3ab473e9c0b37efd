"""transformers `Starcoder2ForCausalLM` (StarCoder2-3B/7B/15B) <-> checkpoint form.

    embedding.word_embeddings.weight [Vpad, h]  <-> model.embed_tokens.weight [V, h]
    decoder.layers.self_attention.linear_qkv.layer_norm_{weight,bias}
                                                <-> model.layers.{i}.input_layernorm
    decoder.layers.self_attention.linear_qkv.{weight,bias} [L, (H/G + 2) G d, h]
                                                <-> model.layers.{i}.self_attn.{q,k,v}_proj
    decoder.layers.self_attention.linear_proj   <-> model.layers.{i}.self_attn.o_proj
    decoder.layers.mlp.linear_fc1.layer_norm_*  <-> model.layers.{i}.post_attention_layernorm
    decoder.layers.mlp.linear_fc1 / linear_fc2  <-> model.layers.{i}.mlp.c_fc / c_proj
    decoder.final_layernorm                     <-> model.norm
    output_layer.weight (untied, 15B)           <-> lm_head.weight

RoPE needs no permutation: megatron-core's default rotary embedding rotates the two halves of
each head (`rotary_interleaved=False`, "LLaMa style"), as transformers' `rotate_half` does, with
the same inverse frequencies base^(-2i/d). The sliding window is transformers' `sliding_window`
(keys i - W + 1 .. i), megatron's `window_size=(W - 1, 0)` (`pretrain.model.transformer_config`).
Starcoder2's LayerNorms always have a bias; `use_bias` covers the linear layers only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from pretrain.hf.gpt_bigcode import TANH_GELUS
from pretrain.hf.layout import merge_qkv, pad_rows, split_qkv, stack, take
from pretrain.model import ModelConfig
from starforge.errors import ConfigError

ARCHITECTURE = "Starcoder2ForCausalLM"
MODEL_TYPE = "starcoder2"
_PER_LAYER = {  # checkpoint name -> Starcoder2 name in layer i (qkv handled apart)
    "self_attention.linear_qkv.layer_norm_weight": "input_layernorm.weight",
    "self_attention.linear_qkv.layer_norm_bias": "input_layernorm.bias",
    "self_attention.linear_proj.weight": "self_attn.o_proj.weight",
    "self_attention.linear_proj.bias": "self_attn.o_proj.bias",
    "mlp.linear_fc1.layer_norm_weight": "post_attention_layernorm.weight",
    "mlp.linear_fc1.layer_norm_bias": "post_attention_layernorm.bias",
    "mlp.linear_fc1.weight": "mlp.c_fc.weight",
    "mlp.linear_fc1.bias": "mlp.c_fc.bias",
    "mlp.linear_fc2.weight": "mlp.c_proj.weight",
    "mlp.linear_fc2.bias": "mlp.c_proj.bias",
}


def _rope(config: dict[str, Any]) -> tuple[str, float, float]:
    """(rope type, theta, partial rotary factor) from transformers 5's `rope_parameters` or 4's
    top-level `rope_theta` / `rope_scaling` (the published StarCoder2 config.json files)."""
    params = config.get("rope_parameters") or {}
    scaling = config.get("rope_scaling") or {}
    kind = params.get("rope_type") or scaling.get("rope_type") or scaling.get("type") or "default"
    theta = params.get("rope_theta", config.get("rope_theta", 10000.0))
    partial = params.get("partial_rotary_factor", config.get("partial_rotary_factor", 1.0))
    return kind, float(theta), float(partial)


def model_config(config: dict[str, Any], where: str) -> ModelConfig:
    """Our `ModelConfig` for a Starcoder2 config.json; what it cannot hold is refused by field."""
    from transformers import Starcoder2Config

    hf = Starcoder2Config.from_dict(config)
    kind, theta, partial = _rope(config)
    if hf.hidden_act not in TANH_GELUS:
        raise ConfigError(f"{where}: hidden_act={hf.hidden_act!r}: our model runs the tanh GELU "
                          f"({', '.join(TANH_GELUS)}); this checkpoint would compute something else")
    if kind != "default":
        raise ConfigError(f"{where}: rope_type={kind!r}: only plain RoPE (rope_type 'default') is supported; "
                          "megatron-core's rotary embedding here has no scaled variants")
    if partial != 1.0:
        raise ConfigError(f"{where}: partial_rotary_factor={partial}: only full-width RoPE is supported")
    if not hf.use_bias:
        raise ConfigError(f"{where}: use_bias=false: our StarCoder models keep biases on every linear layer")
    head_dim = getattr(hf, "head_dim", None)
    if head_dim is not None and head_dim * hf.num_attention_heads != hf.hidden_size:
        raise ConfigError(f"{where}: head_dim={head_dim} x num_attention_heads={hf.num_attention_heads} != "
                          f"hidden_size={hf.hidden_size}: megatron-core derives head_dim = hidden / heads here")
    try:
        return ModelConfig(
            num_layers=hf.num_hidden_layers, hidden_size=hf.hidden_size, num_attention_heads=hf.num_attention_heads,
            num_query_groups=hf.num_key_value_heads or hf.num_attention_heads,
            ffn_hidden_size=hf.intermediate_size, max_position_embeddings=hf.max_position_embeddings,
            vocab_size=hf.vocab_size, position_embedding_type="rope", rotary_base=theta,
            layernorm_epsilon=hf.norm_epsilon, init_method_std=hf.initializer_range,
            attention_dropout=float(hf.attention_dropout), hidden_dropout=float(hf.residual_dropout),
            tie_word_embeddings=bool(hf.tie_word_embeddings), sliding_window=hf.sliding_window)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def hf_config(cfg: ModelConfig, eos_id: int = 0):
    from transformers import Starcoder2Config

    return Starcoder2Config(
        vocab_size=cfg.vocab_size, hidden_size=cfg.hidden_size, intermediate_size=cfg.ffn_hidden_size,
        num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_attention_heads,
        num_key_value_heads=cfg.num_query_groups, hidden_act="gelu_pytorch_tanh",
        max_position_embeddings=cfg.max_position_embeddings, initializer_range=cfg.init_method_std,
        norm_epsilon=cfg.layernorm_epsilon, bos_token_id=eos_id, eos_token_id=eos_id,
        rope_parameters={"rope_type": "default", "rope_theta": float(cfg.rotary_base)},
        sliding_window=cfg.sliding_window, attention_dropout=cfg.attention_dropout,
        residual_dropout=cfg.hidden_dropout, embedding_dropout=cfg.hidden_dropout, use_bias=True,
        tie_word_embeddings=cfg.tie_word_embeddings, architectures=[ARCHITECTURE], torch_dtype="float32",
    )


def model_class():
    from transformers import Starcoder2ForCausalLM

    return Starcoder2ForCausalLM


def to_hf(tensors: Mapping[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """Checkpoint form -> a `Starcoder2ForCausalLM` state dict (fp32)."""
    V, H, G, d = cfg.vocab_size, cfg.num_attention_heads, cfg.num_query_groups, cfg.head_dim
    out = {"model.embed_tokens.weight": tensors["embedding.word_embeddings.weight"][:V],
           "model.norm.weight": tensors["decoder.final_layernorm.weight"],
           "model.norm.bias": tensors["decoder.final_layernorm.bias"]}
    for i in range(cfg.num_layers):
        for ours, theirs in _PER_LAYER.items():
            out[f"model.layers.{i}.{theirs}"] = tensors[f"decoder.layers.{ours}"][i]
        for part in ("weight", "bias"):
            q, k, v = split_qkv(tensors[f"decoder.layers.self_attention.linear_qkv.{part}"][i], H, G, d)
            for name, value in (("q_proj", q), ("k_proj", k), ("v_proj", v)):
                out[f"model.layers.{i}.self_attn.{name}.{part}"] = value
    out["lm_head.weight"] = (out["model.embed_tokens.weight"] if cfg.tie_word_embeddings
                             else tensors["output_layer.weight"][:V])
    return {k: v.detach().float().contiguous().clone() for k, v in out.items()}


def from_hf(weights: Mapping[str, torch.Tensor], cfg: ModelConfig, tensor_parallel: int,
            where: str) -> dict[str, torch.Tensor]:
    """A Starcoder2 state dict -> checkpoint form, vocabulary padded for `tensor_parallel`."""
    h, f, V, L = cfg.hidden_size, cfg.ffn_hidden_size, cfg.vocab_size, cfg.num_layers
    H, G, d = cfg.num_attention_heads, cfg.num_query_groups, cfg.head_dim
    rows = cfg.padded_vocab_size(tensor_parallel)
    shapes = {"input_layernorm.weight": (h,), "input_layernorm.bias": (h,),
              "post_attention_layernorm.weight": (h,), "post_attention_layernorm.bias": (h,),
              "self_attn.o_proj.weight": (h, H * d), "self_attn.o_proj.bias": (h,),
              "mlp.c_fc.weight": (f, h), "mlp.c_fc.bias": (f,), "mlp.c_proj.weight": (h, f), "mlp.c_proj.bias": (h,)}
    out = {"embedding.word_embeddings.weight": pad_rows(take(weights, "model.embed_tokens.weight", (V, h), where),
                                                        rows),
           "decoder.final_layernorm.weight": take(weights, "model.norm.weight", (h,), where),
           "decoder.final_layernorm.bias": take(weights, "model.norm.bias", (h,), where)}
    for ours, theirs in _PER_LAYER.items():
        out[f"decoder.layers.{ours}"] = stack([take(weights, f"model.layers.{i}.{theirs}", shapes[theirs], where)
                                               for i in range(L)])
    for part, tail in (("weight", (h,)), ("bias", ())):
        per_layer = []
        for i in range(L):
            prefix = f"model.layers.{i}.self_attn"
            q = take(weights, f"{prefix}.q_proj.{part}", (H * d, *tail), where)
            k = take(weights, f"{prefix}.k_proj.{part}", (G * d, *tail), where)
            v = take(weights, f"{prefix}.v_proj.{part}", (G * d, *tail), where)
            per_layer.append(merge_qkv(q, k, v, H, G, d))
        out[f"decoder.layers.self_attention.linear_qkv.{part}"] = stack(per_layer)
    if not cfg.tie_word_embeddings:
        out["output_layer.weight"] = pad_rows(take(weights, "lm_head.weight", (V, h), where), rows)
    return out
