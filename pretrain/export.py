"""Export a checkpoint to a Hugging Face directory, checked by logits, with a model card.

Learned absolute positions export as `GPTBigCodeForCausalLM` (StarCoder), RoPE as
`Starcoder2ForCausalLM`; the name and layout mapping of each lives in its family module
(`pretrain/hf/gpt_bigcode.py`, `pretrain/hf/starcoder2.py`), shared with `pretrain import`.
A tensor-parallel checkpoint holds the same global tensors: megatron-core shards the fused QKV
rows of megatron's layout across ranks (when G < TP, e.g. MQA at TP 2, each rank all-gathers
the QKV output and slices its heads, `get_query_key_value_tensors`), so export never depends on
the TP size.

Both models are then run in fp32 on the same tokens and the max abs difference of the logits
is written to `HF_DIR/export_report.json`; `HF_DIR/README.md` is the model card
(`pretrain/model_card.py`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pretrain import checkpoint as ckpt_io
from pretrain import hf, parallel
from pretrain.hf.layout import LAYER_KEYS
from pretrain.model import ModelConfig, build_model
from starforge.config import from_dict, read_yaml
from starforge.errors import PretrainError
from starforge.formats.shards import describe
from starforge.formats.tokenizer import tokenizer_fingerprint
from starforge.run_dir import write_summary

log = logging.getLogger(__name__)

TOLERANCE = 1e-4
FINGERPRINT = "tokenizer_fingerprint"
"""export_report.json's key: the exported tokenizer's fingerprint, which eval's FIM tasks check."""


@dataclass
class ExportConfig:
    checkpoint: Path | None = None
    """An iter_* directory, or a checkpoints/ directory holding `latest`."""
    output: Path | None = None
    """Hugging Face model directory to write."""
    tokenizer: Path | None = None
    """Tokenizer directory (default: the run's, from run_config.yaml)."""
    license: str = "other"
    """The model card's `license:` (a hub licence id, e.g. bigcode-openrail-m or apache-2.0)."""
    eval_dir: Path | None = None
    """A `starforge eval` output folder (or metrics JSON file) whose pass@k go into the model card."""
    model_name: str | None = None
    """The model card's title and model-index name (default: the output folder's name)."""
    check_tokens: int = 64
    """Tokens per row of the logits check."""


def read_run_config(checkpoint_dir: Path) -> dict[str, Any]:
    path = checkpoint_dir / "run_config.yaml"
    if not path.is_file():
        raise PretrainError(f"{checkpoint_dir}: no run_config.yaml; pass an iter_* directory written by "
                            "`starforge pretrain train`")
    return read_yaml(path)


def resolve_checkpoint(path: Path) -> Path:
    """Accept an iter_* directory or a checkpoints/ directory holding `latest`."""
    return ckpt_io.resolve(path)


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
    if not cfg.tie_word_embeddings:
        out["output_layer.weight"] = tensors["output_layer.weight"][: cfg.padded_vocab_size()]
    for src, local in LAYER_KEYS.items():
        stacked = tensors[f"decoder.layers.{src}"]
        for i in range(cfg.num_layers):
            out[f"decoder.layers.{i}.{local}"] = stacked[i]
    return out


def export(checkpoint_dir: str | Path, output_dir: str | Path, tokenizer_dir: str | Path | None = None,
           check_tokens: int = 64, license: str = "other", eval_dir: str | Path | None = None,
           model_name: str | None = None) -> dict[str, Any]:
    """Write `output_dir` (model, tokenizer, README.md, export_report.json); returns the report."""
    from pretrain.model_card import write_model_card

    checkpoint_dir = resolve_checkpoint(Path(checkpoint_dir))
    output_dir = Path(output_dir)
    run = read_run_config(checkpoint_dir)
    cfg = from_dict(ModelConfig, run.get("model", {}), where=str(checkpoint_dir / "run_config.yaml"), prefix="model.")
    family = hf.family_of_model(cfg)
    family.hf_config(cfg)  # a shape the family cannot hold fails before any tensor is read
    meta = ckpt_io.read_meta(checkpoint_dir)
    tp = int(meta.get("tensor_parallel", 1))
    fingerprint = meta.get(FINGERPRINT)
    tok_path = Path(tokenizer_dir) if tokenizer_dir else (Path(run["tokenizer"]) if run.get("tokenizer") else None)
    tokenizer = None
    if tok_path is not None:
        from transformers import AutoTokenizer

        if not tok_path.is_dir():
            raise PretrainError(f"{tok_path}: tokenizer directory not found; pass --tokenizer DIR")
        tokenizer = AutoTokenizer.from_pretrained(str(tok_path))
        fingerprint = tokenizer_fingerprint(tokenizer)
        recorded = meta.get(FINGERPRINT)
        if recorded and recorded["sha256"] != fingerprint["sha256"]:
            raise PretrainError(f"{tok_path}: tokenizer {describe(fingerprint, tok_path)} is not the one the "
                                f"checkpoint was trained with, {describe(recorded, checkpoint_dir / 'meta.json')}; "
                                "pass that tokenizer with --tokenizer")
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
        reference = build_model(cfg)
        missing, unexpected = reference.load_state_dict(to_megatron_tp1(tensors, cfg), strict=False)
        missing = [k for k in missing if not k.endswith("_extra_state")]
        if missing or unexpected:
            raise PretrainError(f"{checkpoint_dir}: tensors do not match the model (missing {missing[:3]}, "
                                f"unexpected {unexpected[:3]})")
        hf_sd = family.to_hf(tensors, cfg)
        report = _write_and_compare(reference.eval(), hf_sd, cfg, family, tokenizer, output_dir, check_tokens)
    finally:
        parallel.shutdown()
    report.update({"checkpoint": str(checkpoint_dir), "output": str(output_dir), "step": meta.get("step"),
                   "architecture": family.ARCHITECTURE, "source_tensor_parallel": tp,
                   "source_pipeline_parallel": int(meta.get("pipeline_parallel", 1)),
                   "parameters": cfg.parameters(), "tolerance": TOLERANCE, FINGERPRINT: fingerprint})
    (output_dir / "export_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    report["model_card"] = str(write_model_card(output_dir, cfg, family.ARCHITECTURE, run, checkpoint_dir, meta,
                                                tokenizer, license, Path(eval_dir) if eval_dir else None,
                                                model_name or output_dir.resolve().name))
    write_summary(output_dir, "pretrain", report, {"model": output_dir, "report": output_dir / "export_report.json"},
                  command="pretrain export")
    within = report["max_abs_diff"] <= TOLERANCE  # False for NaN, which passes no `>=` check
    log.info("export: %s -> %s (%s), logits max abs diff %.3e (%s)", checkpoint_dir, output_dir,
             family.ARCHITECTURE, report["max_abs_diff"], "ok" if within else "ABOVE TOLERANCE")
    if not within:
        raise PretrainError(f"export: logits differ by {report['max_abs_diff']:.3e} (tolerance {TOLERANCE}) between "
                            f"megatron-core and {family.ARCHITECTURE}; see {output_dir / 'export_report.json'}")
    return report


def _write_and_compare(reference: torch.nn.Module, hf_sd: dict[str, torch.Tensor], cfg: ModelConfig, family: Any,
                       tokenizer: Any, output_dir: Path, check_tokens: int) -> dict[str, Any]:
    from pretrain.step import causal_mask

    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>") if tokenizer is not None else 0
    hf_cfg = family.hf_config(cfg, eos if isinstance(eos, int) else 0)
    hf_cfg._attn_implementation = "eager"
    model = family.model_class()(hf_cfg)
    missing, unexpected = model.load_state_dict(hf_sd, strict=False)
    if [k for k in missing if k != "lm_head.weight"] or unexpected:
        raise RuntimeError(f"{family.ARCHITECTURE} state dict mismatch: missing {missing}, unexpected {unexpected}")
    # Files of the same names are replaced; nothing else in the folder is deleted (the output rule,
    # starforge/run_dir.py: the CLI refuses a folder this command did not make without --overwrite).
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(output_dir))
    if tokenizer is not None:
        tokenizer.save_pretrained(str(output_dir))
    # Reload from disk, so the check covers what eval will read.
    reloaded = family.model_class().from_pretrained(str(output_dir), dtype=torch.float32,
                                                    attn_implementation="eager").eval()
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
