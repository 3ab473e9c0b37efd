"""Export a checkpoint to a Hugging Face `GPTBigCodeForCausalLM` directory, checked by logits.

Name and layout mapping (megatron-core checkpoint key -> transformers GPTBigCode):

    embedding.word_embeddings.weight [Vpad, h]  -> transformer.wte.weight [V, h] (padding rows
                                                   dropped; lm_head is tied to it)
    embedding.position_embeddings.weight        -> transformer.wpe.weight
    decoder.layers.self_attention.linear_qkv.layer_norm_{weight,bias} [L, h]
                                                -> transformer.h.{i}.ln_1
    decoder.layers.self_attention.linear_qkv.{weight,bias} [L, (H/G + 2) G d, h]
                                                -> transformer.h.{i}.attn.c_attn
    decoder.layers.self_attention.linear_proj   -> transformer.h.{i}.attn.c_proj
    decoder.layers.mlp.linear_fc1.layer_norm_*  -> transformer.h.{i}.ln_2
    decoder.layers.mlp.linear_fc1 / linear_fc2  -> transformer.h.{i}.mlp.c_fc / c_proj
    decoder.final_layernorm                     -> transformer.ln_f

Megatron lays the fused QKV rows out per key/value group: for each group g, its H/G query heads,
then its key head, then its value head (`SelfAttention.get_query_key_value_tensors`).
GPTBigCode with `multi_query=True` wants [all query heads | key | value]
(`modeling_gpt_bigcode.py`: `c_attn(x).split((embed_dim, kv_dim, kv_dim))`); with one head per
group (MHA) it wants per-head [q | k | v], which is megatron's layout unchanged. Grouped-query
attention with 1 < G < H has no GPTBigCode equivalent and is refused. A tensor-parallel
checkpoint holds the same global tensors: megatron-core shards the fused QKV rows of that layout
across ranks (when G < TP, e.g. MQA at TP 2, each rank all-gathers the QKV output and slices
its heads, `get_query_key_value_tensors`), so export never depends on the TP size.

Both models are then run in fp32 on the same tokens and the max abs difference of the logits
is written to `HF_DIR/export_report.json`.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import torch

from pretrain import checkpoint as ckpt_io
from pretrain import parallel
from pretrain.model import ModelConfig, build_model
from starforge.config import from_dict, read_yaml
from starforge.errors import PretrainError

log = logging.getLogger(__name__)

TOLERANCE = 1e-4
_LAYER_KEYS = {  # checkpoint (stacked over layers) -> (local-spec GPTModel key, GPTBigCode key)
    "self_attention.linear_qkv.layer_norm_weight": ("input_layernorm.weight", "ln_1.weight"),
    "self_attention.linear_qkv.layer_norm_bias": ("input_layernorm.bias", "ln_1.bias"),
    "self_attention.linear_qkv.weight": ("self_attention.linear_qkv.weight", "attn.c_attn.weight"),
    "self_attention.linear_qkv.bias": ("self_attention.linear_qkv.bias", "attn.c_attn.bias"),
    "self_attention.linear_proj.weight": ("self_attention.linear_proj.weight", "attn.c_proj.weight"),
    "self_attention.linear_proj.bias": ("self_attention.linear_proj.bias", "attn.c_proj.bias"),
    "mlp.linear_fc1.layer_norm_weight": ("pre_mlp_layernorm.weight", "ln_2.weight"),
    "mlp.linear_fc1.layer_norm_bias": ("pre_mlp_layernorm.bias", "ln_2.bias"),
    "mlp.linear_fc1.weight": ("mlp.linear_fc1.weight", "mlp.c_fc.weight"),
    "mlp.linear_fc1.bias": ("mlp.linear_fc1.bias", "mlp.c_fc.bias"),
    "mlp.linear_fc2.weight": ("mlp.linear_fc2.weight", "mlp.c_proj.weight"),
    "mlp.linear_fc2.bias": ("mlp.linear_fc2.bias", "mlp.c_proj.bias"),
}


def read_run_config(checkpoint_dir: Path) -> dict[str, Any]:
    path = checkpoint_dir / "run_config.yaml"
    if not path.is_file():
        raise PretrainError(f"{checkpoint_dir}: no run_config.yaml; pass an iter_* directory written by "
                            "`starforge pretrain train`")
    return read_yaml(path)


def resolve_checkpoint(path: Path) -> Path:
    """Accept an iter_* directory or a checkpoints/ directory holding `latest`."""
    return ckpt_io.resolve(path)


def qkv_to_bigcode(w: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """Megatron per-group [q.., k, v] rows -> GPTBigCode c_attn rows."""
    G, H, d = cfg.num_query_groups, cfg.num_attention_heads, cfg.head_dim
    if G == H:
        return w  # MHA: both are per-head [q | k | v]
    if G != 1:
        raise PretrainError(f"model.num_query_groups={G}: GPTBigCode supports only multi-query (1) or "
                            f"multi-head ({H}) attention; this checkpoint cannot be exported to it")
    grouped = w.reshape(G, H // G + 2, d, *w.shape[1:])  # [G, H/G + 2, d, (h)]
    q = grouped[:, : H // G].reshape(H * d, *w.shape[1:])
    k = grouped[:, H // G].reshape(G * d, *w.shape[1:])
    v = grouped[:, H // G + 1].reshape(G * d, *w.shape[1:])
    return torch.cat([q, k, v])  # [q (H d) | k (d) | v (d)]


def load_checkpoint_tensors(checkpoint_dir: Path) -> dict[str, torch.Tensor]:
    """Global model tensors of a checkpoint, keys without the `model.` prefix (needs a process group)."""
    from megatron.core import dist_checkpointing
    from torch.distributed.checkpoint.api import CheckpointException  # a BaseException

    try:
        plain = dist_checkpointing.load_plain_tensors(str(checkpoint_dir))
    except (Exception, CheckpointException) as exc:
        raise PretrainError(f"{checkpoint_dir}: cannot read checkpoint tensors ({type(exc).__name__}: "
                            f"{str(exc)[:160]}); it is corrupt or incomplete") from None
    return {k[len("model."):]: v for k, v in plain.items() if k.startswith("model.") and isinstance(v, torch.Tensor)}


def to_megatron_tp1(tensors: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """Stacked checkpoint tensors -> a TP-1 local-spec `GPTModel.state_dict()` (for the reference)."""
    out = {"embedding.word_embeddings.weight": tensors["embedding.word_embeddings.weight"][: cfg.padded_vocab_size()],
           "decoder.final_layernorm.weight": tensors["decoder.final_layernorm.weight"],
           "decoder.final_layernorm.bias": tensors["decoder.final_layernorm.bias"]}
    if "embedding.position_embeddings.weight" in tensors:
        out["embedding.position_embeddings.weight"] = tensors["embedding.position_embeddings.weight"]
    for src, (local, _) in _LAYER_KEYS.items():
        stacked = tensors[f"decoder.layers.{src}"]
        for i in range(cfg.num_layers):
            out[f"decoder.layers.{i}.{local}"] = stacked[i]
    return out


def to_bigcode(mcore: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    V = cfg.vocab_size
    out = {"transformer.wte.weight": mcore["embedding.word_embeddings.weight"][:V],
           "transformer.wpe.weight": mcore["embedding.position_embeddings.weight"],
           "transformer.ln_f.weight": mcore["decoder.final_layernorm.weight"],
           "transformer.ln_f.bias": mcore["decoder.final_layernorm.bias"]}
    for local, hf in _LAYER_KEYS.values():
        for i in range(cfg.num_layers):
            value = mcore[f"decoder.layers.{i}.{local}"]
            if local.startswith("self_attention.linear_qkv"):
                value = qkv_to_bigcode(value, cfg)
            out[f"transformer.h.{i}.{hf}"] = value
    out["lm_head.weight"] = out["transformer.wte.weight"]
    return {k: v.detach().float().contiguous().clone() for k, v in out.items()}


def bigcode_config(cfg: ModelConfig, tokenizer: Any = None):
    from transformers import GPTBigCodeConfig

    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>") if tokenizer is not None else 0
    return GPTBigCodeConfig(
        vocab_size=cfg.vocab_size, n_positions=cfg.max_position_embeddings, n_embd=cfg.hidden_size,
        n_layer=cfg.num_layers, n_head=cfg.num_attention_heads, n_inner=cfg.ffn_hidden_size,
        activation_function="gelu_pytorch_tanh", layer_norm_epsilon=cfg.layernorm_epsilon,
        multi_query=cfg.num_query_groups == 1, initializer_range=cfg.init_method_std,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=eos, eos_token_id=eos,
        tie_word_embeddings=True, architectures=["GPTBigCodeForCausalLM"], torch_dtype="float32",
    )


def export(checkpoint_dir: str | Path, output_dir: str | Path, tokenizer_dir: str | Path | None = None,
           check_tokens: int = 64) -> dict[str, Any]:
    """Write `output_dir` (model + tokenizer + export_report.json); returns the report."""
    checkpoint_dir = resolve_checkpoint(Path(checkpoint_dir))
    output_dir = Path(output_dir)
    run = read_run_config(checkpoint_dir)
    cfg = from_dict(ModelConfig, run.get("model", {}), where=str(checkpoint_dir / "run_config.yaml"), prefix="model.")
    if cfg.position_embedding_type != "learned_absolute":
        raise PretrainError(f"model.position_embedding_type={cfg.position_embedding_type}: GPTBigCode has "
                            "learned absolute positions only")
    meta = ckpt_io.read_meta(checkpoint_dir)
    tp = int(meta.get("tensor_parallel", 1))
    tok_path = Path(tokenizer_dir) if tokenizer_dir else (Path(run["tokenizer"]) if run.get("tokenizer") else None)
    tokenizer = None
    if tok_path is not None:
        from transformers import AutoTokenizer

        if not tok_path.is_dir():
            raise PretrainError(f"{tok_path}: tokenizer directory not found; pass --tokenizer DIR")
        tokenizer = AutoTokenizer.from_pretrained(str(tok_path))
    else:
        log.warning("no tokenizer in run_config.yaml and none given: exporting the model only")

    torch.manual_seed(0)
    parallel.init_parallel(cfg, parallel.ParallelConfig(), seed=0)
    try:
        tensors = load_checkpoint_tensors(checkpoint_dir)
        expected = cfg.padded_vocab_size(tp)
        got = tuple(tensors["embedding.word_embeddings.weight"].shape)
        if got != (expected, cfg.hidden_size):
            raise PretrainError(f"{checkpoint_dir}: word embeddings are {got}, run_config.yaml says "
                                f"({expected}, {cfg.hidden_size}); the checkpoint and its config disagree")
        mcore_sd = to_megatron_tp1(tensors, cfg)
        reference = build_model(cfg)
        missing, unexpected = reference.load_state_dict(mcore_sd, strict=False)
        missing = [k for k in missing if not k.endswith("_extra_state")]
        if missing or unexpected:
            raise PretrainError(f"{checkpoint_dir}: tensors do not match the model (missing {missing[:3]}, "
                                f"unexpected {unexpected[:3]})")
        hf_sd = to_bigcode(mcore_sd, cfg)
        report = _write_and_compare(reference.eval(), hf_sd, cfg, tokenizer, output_dir, check_tokens)
    finally:
        parallel.shutdown()
    report.update({"checkpoint": str(checkpoint_dir), "output": str(output_dir), "step": meta.get("step"),
                   "source_tensor_parallel": tp, "parameters": cfg.parameters(), "tolerance": TOLERANCE})
    (output_dir / "export_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    log.info("export: %s -> %s, logits max abs diff %.3e (%s)", checkpoint_dir, output_dir, report["max_abs_diff"],
             "ok" if report["max_abs_diff"] < TOLERANCE else "ABOVE TOLERANCE")
    if report["max_abs_diff"] >= TOLERANCE:
        raise PretrainError(f"export: logits differ by {report['max_abs_diff']:.3e} >= {TOLERANCE} between "
                            f"megatron-core and GPTBigCode; see {output_dir / 'export_report.json'}")
    return report


def _write_and_compare(reference: torch.nn.Module, hf_sd: dict[str, torch.Tensor], cfg: ModelConfig,
                       tokenizer: Any, output_dir: Path, check_tokens: int) -> dict[str, Any]:
    from transformers import GPTBigCodeForCausalLM

    from pretrain.step import causal_mask

    hf_cfg = bigcode_config(cfg, tokenizer)
    hf_cfg._attn_implementation = "eager"
    model = GPTBigCodeForCausalLM(hf_cfg)
    missing, unexpected = model.load_state_dict(hf_sd, strict=False)
    if [k for k in missing if k != "lm_head.weight"] or unexpected:
        raise RuntimeError(f"GPTBigCode state dict mismatch: missing {missing}, unexpected {unexpected}")
    if output_dir.exists():
        shutil.rmtree(output_dir)
    output_dir.mkdir(parents=True)
    model.save_pretrained(str(output_dir))
    if tokenizer is not None:
        tokenizer.save_pretrained(str(output_dir))
    # Reload from disk, so the check covers what eval will read.
    reloaded = GPTBigCodeForCausalLM.from_pretrained(str(output_dir), dtype=torch.float32).eval()
    seq = min(check_tokens, cfg.seq_length)
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, cfg.vocab_size, (2, seq), generator=gen)
    if tokenizer is not None:
        text = "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n" * 8
        ids = tokenizer(text)["input_ids"][:seq]
        tokens[0, : len(ids)] = torch.tensor(ids)
    positions = torch.arange(seq).unsqueeze(0).expand_as(tokens)
    with torch.no_grad():
        ours = reference(tokens, positions, causal_mask(seq, tokens.device))[..., : cfg.vocab_size].float()  # [b, s, V]
        theirs = reloaded(tokens).logits.float()  # [b, s, V]
    diff = float((ours - theirs).abs().max())
    return {"max_abs_diff": diff, "compared_tokens": int(tokens.numel()), "vocab_size": cfg.vocab_size,
            "padded_vocab_size": cfg.padded_vocab_size(), "multi_query": cfg.num_query_groups == 1,
            "logits_abs_max": float(ours.abs().max())}

