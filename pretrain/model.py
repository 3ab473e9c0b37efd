"""The one `ModelConfig` of StarCoder-family models and the megatron-core `GPTModel` built from it.

StarCoder (arXiv 2305.06161, section 5): GPT-2 style decoder, multi-query attention (one key/value
head shared by all query heads), learned absolute positions, GELU MLP with a 4x hidden FFN,
biases everywhere, LayerNorm, tied input/output embeddings (GPTBigCode ties `lm_head` to `wte`).
StarCoder2 (arXiv 2402.19173, transformers' `Starcoder2ForCausalLM`) keeps the GELU MLP, biases
and LayerNorm and changes the rest: grouped-query attention, RoPE, a 4,096-token sliding window
over a 16,384-token context, and (15B only) an output layer of its own.
Presets are YAML files in `configs/models/`; everything derived (head size, padded vocab,
parameters, FLOPs per token) is computed here and nowhere else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from starforge.config import from_dict, preset_dir, read_yaml
from starforge.errors import ConfigError, PretrainError

if TYPE_CHECKING:
    import torch

PRESET_DIR = preset_dir() / "models"
"""Model presets: package data (`starforge/configs/models/`, a link to `configs/models/` in a checkout)."""


@dataclass
class ModelConfig:
    num_layers: int = 2
    hidden_size: int = 64
    num_attention_heads: int = 4
    num_query_groups: int = 1
    """Key/value heads: 1 is multi-query attention (StarCoder); >1 grouped-query; = heads is MHA."""
    ffn_hidden_size: int | None = None
    """MLP hidden size; None means 4 x hidden_size as in StarCoder."""
    max_position_embeddings: int = 8192
    """Context the learned position table covers (StarCoder: 8192)."""
    seq_length: int | None = None
    """Training sequence length; None means max_position_embeddings."""
    vocab_size: int | None = 49152
    """Tokenizer vocabulary; None takes it from the run's tokenizer."""
    make_vocab_size_divisible_by: int = 128
    """Megatron pads the embedding rows to a multiple of this times the tensor-parallel size."""
    position_embedding_type: Literal["learned_absolute", "rope"] = "learned_absolute"
    """learned_absolute: StarCoder's position table (exports as GPTBigCode); rope: StarCoder2's
    rotary embedding (exports as Starcoder2)."""
    rotary_base: float = 10000.0
    """RoPE's theta (StarCoder2-3B: 999999.44, 7B: 1e6, 15B: 1e5); only with RoPE."""
    tie_word_embeddings: bool = True
    """Output layer shares the word embeddings (StarCoder, StarCoder2-3B/7B); false gives it
    weights of its own (StarCoder2-15B)."""
    sliding_window: int | None = None
    """Tokens each position attends to, itself included (StarCoder2: 4096, transformers'
    `sliding_window`); None is full causal attention. It binds only when seq_length exceeds it."""
    layernorm_epsilon: float = 1e-5
    init_method_std: float = 0.02
    attention_dropout: float = 0.1
    """StarCoder trained with 0.1 attention and residual dropout."""
    hidden_dropout: float = 0.1

    def __post_init__(self) -> None:
        for name in ("num_layers", "hidden_size", "num_attention_heads", "num_query_groups",
                     "max_position_embeddings"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"model.{name} must be positive, got {getattr(self, name)}")
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(f"model.hidden_size {self.hidden_size} is not divisible by "
                              f"model.num_attention_heads {self.num_attention_heads}")
        if self.num_attention_heads % self.num_query_groups:
            raise ConfigError(f"model.num_attention_heads {self.num_attention_heads} is not divisible by "
                              f"model.num_query_groups {self.num_query_groups}")
        if self.ffn_hidden_size is None:
            self.ffn_hidden_size = 4 * self.hidden_size
        if self.seq_length is None:
            self.seq_length = self.max_position_embeddings
        if self.position_embedding_type == "learned_absolute" and self.seq_length > self.max_position_embeddings:
            raise ConfigError(f"model.seq_length {self.seq_length} exceeds model.max_position_embeddings "
                              f"{self.max_position_embeddings} (learned positions)")
        if self.sliding_window is not None and self.sliding_window <= 0:
            raise ConfigError(f"model.sliding_window must be positive or null, got {self.sliding_window}")

    @property
    def window_binds(self) -> bool:
        """Whether the sliding window masks anything at this sequence length."""
        return self.sliding_window is not None and self.sliding_window < self.seq_length

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def kv_channels(self) -> int:
        """Width of the key (and of the value) projection: one head per query group."""
        return self.num_query_groups * self.head_dim

    def padded_vocab_size(self, tensor_parallel: int = 1) -> int:
        if self.vocab_size is None:
            raise PretrainError("model.vocab_size is unset; give the run a tokenizer or set model.vocab_size")
        multiple = self.make_vocab_size_divisible_by * tensor_parallel
        return int(math.ceil(self.vocab_size / multiple) * multiple)

    def layer_parameters(self) -> int:
        h, f = self.hidden_size, self.ffn_hidden_size
        qkv = h * (h + 2 * self.kv_channels) + (h + 2 * self.kv_channels)
        proj = h * h + h
        mlp = h * f + f + f * h + h
        norms = 2 * 2 * h
        return qkv + proj + mlp + norms

    def parameters(self, tensor_parallel: int = 1) -> int:
        """All trainable parameters, counting a tied embedding once (as transformers does)."""
        embed = self.padded_vocab_size(tensor_parallel) * self.hidden_size
        positions = self.max_position_embeddings * self.hidden_size if self.position_embedding_type == "learned_absolute" else 0
        output = 0 if self.tie_word_embeddings else embed
        return embed + positions + output + self.num_layers * self.layer_parameters() + 2 * self.hidden_size

    def flops_per_token(self, seq_length: int | None = None) -> int:
        """Training FLOPs per token: 6 x (matmul parameters, the output projection included)
        plus causal attention scores and mixing, 12 x layers x hidden x the mean number of keys
        a query sees: s / 2 for full causal attention (6 x layers x seq x hidden, half of the
        dense 12 x layers x seq x hidden of Megatron's formula), W - W^2 / 2s with a window W < s."""
        s = seq_length or self.seq_length
        h, f = self.hidden_size, self.ffn_hidden_size
        matmul = self.num_layers * (h * (h + 2 * self.kv_channels) + h * h + 2 * h * f)
        matmul += self.padded_vocab_size() * h
        w = self.sliding_window
        if w is None or w >= s:
            return 6 * matmul + 6 * self.num_layers * s * h
        return 6 * matmul + round(12 * self.num_layers * h * (w - w * w / (2 * s)))

    def summary(self) -> dict[str, int | str]:
        return {
            "parameters": self.parameters(),
            "flops_per_token": self.flops_per_token(),
            "layers": self.num_layers,
            "hidden": self.hidden_size,
            "heads": self.num_attention_heads,
            "kv_groups": self.num_query_groups,
            "head_dim": self.head_dim,
            "ffn_hidden": self.ffn_hidden_size,
            "seq_length": self.seq_length,
            "vocab_size": self.vocab_size or 0,
            "padded_vocab_size": self.padded_vocab_size(),
            "position_embedding_type": self.position_embedding_type,
            "tie_word_embeddings": str(self.tie_word_embeddings).lower(),
            "sliding_window": self.sliding_window or 0,
        }


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_preset(name: str) -> ModelConfig:
    """A preset by name (`starcoderbase-1b`) or path to a YAML file."""
    path = PRESET_DIR / f"{name}.yaml" if name in preset_names() else Path(name)
    if not path.is_file():
        raise PretrainError(f"unknown model preset '{name}'; choose one of: {', '.join(preset_names())}")
    return from_dict(ModelConfig, read_yaml(path), where=str(path), prefix="model.")


def transformer_config(cfg: ModelConfig, tensor_parallel: int = 1, pipeline_parallel: int = 1,
                       sequence_parallel: bool = False, params_dtype: torch.dtype | None = None,
                       recompute: bool = False, on_gpu: bool = False):
    """megatron-core's `TransformerConfig` for this shape: fusions off on the CPU (they need
    CUDA kernels), CPU initialisation so weights do not depend on the device. `recompute` is
    kept for callers but unused here: `layer_spec` swaps in recomputing layers instead."""
    import torch
    from megatron.core.transformer import TransformerConfig

    dtype = params_dtype or torch.float32
    return TransformerConfig(
        num_layers=cfg.num_layers,
        hidden_size=cfg.hidden_size,
        num_attention_heads=cfg.num_attention_heads,
        num_query_groups=cfg.num_query_groups,
        ffn_hidden_size=cfg.ffn_hidden_size,
        kv_channels=cfg.head_dim,
        # GPTBigCode uses the tanh approximation ("gelu_pytorch_tanh"), as did bigcode's Megatron.
        activation_func=_gelu_tanh,
        add_bias_linear=True,
        add_qkv_bias=True,
        normalization="LayerNorm",
        layernorm_epsilon=cfg.layernorm_epsilon,
        init_method_std=cfg.init_method_std,
        attention_dropout=cfg.attention_dropout,
        hidden_dropout=cfg.hidden_dropout,
        tensor_model_parallel_size=tensor_parallel,
        pipeline_model_parallel_size=pipeline_parallel,
        sequence_parallel=sequence_parallel and tensor_parallel > 1,
        params_dtype=dtype,
        pipeline_dtype=dtype,
        bf16=dtype == torch.bfloat16,
        use_cpu_initialization=True,
        perform_initialization=True,
        # Fused kernels need apex/TE; the tanh GELU has no fused bias-GELU anyway.
        bias_activation_fusion=False,
        masked_softmax_fusion=False,
        bias_dropout_fusion=False,
        gradient_accumulation_fusion=False,
        persist_layer_norm=False,
        apply_rope_fusion=False,
        # megatron's (left, right) span, keys i - left .. i + right: transformers' window W keeps
        # keys i - W + 1 .. i (`masking_utils.sliding_window_overlay`). Passed only where it masks
        # something, so full-length causal attention keeps its fast kernels.
        window_size=(cfg.sliding_window - 1, 0) if cfg.window_binds else None,
        # Recomputation is ours (`attention.RecomputedTransformerLayer`, chosen in `layer_spec`):
        # megatron-core's own loses the autocast dtype and reads the CUDA RNG.
        recompute_granularity=None,
    )


def _gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    import torch.nn.functional as F

    return F.gelu(x, approximate="tanh")


Attention = Literal["auto", "te", "sdpa", "local"]


def resolve_attention(attention: Attention, on_gpu: bool) -> str:
    """auto: TransformerEngine's layer spec on CUDA when TE imports, else the local spec with
    PyTorch SDPA as core attention (`pretrain/attention.py`)."""
    if attention == "auto":
        return "te" if on_gpu and _has_transformer_engine() else "sdpa"
    if attention == "te" and not (on_gpu and _has_transformer_engine()):
        raise PretrainError("attention=te needs TransformerEngine and a CUDA device; set attention: sdpa")
    return attention


def _has_transformer_engine() -> bool:
    try:
        import transformer_engine  # noqa: F401
    except ImportError:
        return False
    return True


def layer_spec(cfg: ModelConfig, on_gpu: bool, attention: Attention = "local", recompute: bool = False):
    """The GPT layer spec: TransformerEngine's, megatron-core's local one, or local with SDPA core
    attention; with `recompute`, layers that recompute their activations in backward."""
    from megatron.core.models.gpt import gpt_layer_specs

    from pretrain.attention import with_recompute, with_sdpa

    kind = resolve_attention(attention, on_gpu)
    if kind == "te":
        spec = gpt_layer_specs.get_gpt_layer_with_transformer_engine_spec()
    else:
        spec = gpt_layer_specs.get_gpt_layer_local_spec(normalization="LayerNorm")
        if kind == "sdpa":
            spec = with_sdpa(spec)
    return with_recompute(spec) if recompute else spec


def build_model(cfg: ModelConfig, tensor_parallel: int = 1, pipeline_parallel: int = 1,
                sequence_parallel: bool = False, params_dtype: torch.dtype | None = None,
                recompute: bool = False, on_gpu: bool = False, attention: Attention = "local"):
    """This rank's `GPTModel` (parallel state must be initialised). Output layer tied to the
    word embeddings unless `tie_word_embeddings` is false; logits padded to
    `padded_vocab_size(tensor_parallel)`. `attention` picks
    the core attention (`resolve_attention`); "local" is megatron-core's stock module."""
    from megatron.core import parallel_state
    from megatron.core.models.gpt import GPTModel

    tcfg = transformer_config(cfg, tensor_parallel, pipeline_parallel, sequence_parallel, params_dtype,
                              recompute, on_gpu)
    model = GPTModel(
        config=tcfg,
        transformer_layer_spec=layer_spec(cfg, on_gpu, attention, recompute),
        vocab_size=cfg.padded_vocab_size(tensor_parallel),
        max_sequence_length=cfg.max_position_embeddings,
        pre_process=parallel_state.is_pipeline_first_stage(),
        post_process=parallel_state.is_pipeline_last_stage(),
        parallel_output=True,
        share_embeddings_and_output_weights=cfg.tie_word_embeddings,
        position_embedding_type=cfg.position_embedding_type,
        rotary_base=cfg.rotary_base,
    )
    return model
