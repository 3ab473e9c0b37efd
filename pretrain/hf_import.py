"""Hugging Face -> megatron-core: `starforge pretrain import` and `init_from` a Hugging Face directory.

    starforge pretrain import --hf DIR --output CKPT                      # one process, TP 1
    torchrun --nproc-per-node 2 -m starforge pretrain import --hf DIR --output CKPT --tensor-parallel 2

Every rank builds its own shard of the `GPTModel` (`pretrain.model.build_model`) at the asked
layout, fills it from the global tensors the family module makes of the HF weights (each rank
slices what its `sharded_state_dict` says it holds: vocabulary rows, QKV rows, its pipeline
stage's layers), and the ranks write one dist-checkpoint together (`checkpoint.save`, weights
only). `init_from` a Hugging Face directory runs the same loading inside `train`, so
`starforge finetune continue --from HF_DIR` starts from a public checkpoint with no
intermediate files.

    CKPT/latest, CKPT/iter_0000000/       the checkpoint (run_config.yaml, meta.json "weights_only")
    CKPT/tokenizer/                       the HF directory's tokenizer files, copied
    CKPT/model.yaml                       the model preset, when no shipped preset has this shape
    CKPT/import_report.json               source, preset, layout, parameters, logits check

In one process the imported model is run against transformers' own on the same tokens (fp32,
max abs logits difference < 1e-4, as export checks the other way); under torchrun the check
is the round trip (`pretrain export` of the result, `tests/pretrain/test_hf_import.py`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pretrain import checkpoint, hf, parallel
from pretrain.hf.weights import SafetensorsWeights
from pretrain.model import ModelConfig, build_model, load_preset, preset_names
from starforge.config import to_dict
from starforge.errors import ConfigError, PretrainError
from starforge.formats.tokenizer import fingerprint_of

log = logging.getLogger(__name__)

TOLERANCE = 1e-4
# The fields that make a model's shape: two configs agreeing on these hold the same weights.
SHAPE_FIELDS = ("num_layers", "hidden_size", "num_attention_heads", "num_query_groups", "ffn_hidden_size",
                "max_position_embeddings", "vocab_size", "position_embedding_type", "rotary_base",
                "layernorm_epsilon", "tie_word_embeddings", "sliding_window")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
                   "merges.txt", "added_tokens.json", "chat_template.jinja")


@dataclass
class ImportConfig:
    hf: Path | None = None
    """Hugging Face model directory: config.json, model.safetensors (or its sharded index), tokenizer."""
    output: Path | None = None
    """Checkpoint root to write (latest, iter_0000000/, tokenizer/, model.yaml, import_report.json)."""
    preset: str | None = None
    """Model preset the HF shape must equal; null picks the shipped preset of that shape or writes OUTPUT/model.yaml."""
    tensor_parallel: int = 1
    """Tensor-parallel size the checkpoint is written at (run under torchrun with TP x PP processes)."""
    pipeline_parallel: int = 1
    """Pipeline stages the checkpoint is written at."""
    check_tokens: int = 64
    """Tokens per row of the logits check against transformers (one process only); 0 skips it."""


def model_config_of(hf_dir: Path) -> tuple[ModelConfig, Any]:
    """(our ModelConfig, the family module) of a Hugging Face directory."""
    config = hf.read_config(hf_dir)
    where = str(Path(hf_dir) / "config.json")
    family = hf.family_of_config(config, where)
    return family.model_config(config, where), family


def shape_differences(a: ModelConfig, b: ModelConfig) -> list[str]:
    return [f"{name}={getattr(a, name)!r} vs {getattr(b, name)!r}" for name in SHAPE_FIELDS
            if getattr(a, name) != getattr(b, name)]


def matching_preset(cfg: ModelConfig) -> str | None:
    """The shipped preset of exactly this shape, if any."""
    for name in preset_names():
        preset = load_preset(name)
        if preset.vocab_size is not None and not shape_differences(cfg, preset):
            return name
    return None


def load_global(model: torch.nn.Module, tensors: dict[str, torch.Tensor], where: str) -> None:
    """Fill this rank's shard of `model` from checkpoint-form global tensors: each parameter takes
    the slice its megatron `ShardedTensor` names (layer index on the stacked axis, then offsets)."""
    from megatron.core.dist_checkpointing.mapping import ShardedTensor

    local: dict[str, torch.Tensor] = {}
    for name, sharded in model.sharded_state_dict(prefix="").items():
        if not isinstance(sharded, ShardedTensor):
            continue
        full = tensors.get(sharded.key)
        if full is None:
            raise PretrainError(f"{where}: nothing converts to '{sharded.key}'; the model config and the weights "
                                "disagree")
        if tuple(full.shape) != tuple(sharded.global_shape):
            raise PretrainError(f"{where}: '{sharded.key}' converts to {tuple(full.shape)} but the model holds "
                                f"{tuple(sharded.global_shape)}; the model config and the weights disagree")
        n = sharded.prepend_axis_num
        index = tuple(sharded.global_offset[:n]) + tuple(
            slice(offset, offset + size) for offset, size in zip(sharded.global_offset[n:], sharded.local_shape))
        local[name] = full[index]
    missing, unexpected = model.load_state_dict(local, strict=False)
    missing = [k for k in missing if not k.endswith("_extra_state")]
    if missing or unexpected:
        raise RuntimeError(f"shard loading left parameters unset: missing {missing[:3]}, unexpected {unexpected[:3]}")


def load_into(model: torch.nn.Module, hf_dir: Path, cfg: ModelConfig, tensor_parallel: int) -> None:
    """`init_from` a Hugging Face directory: its weights into this rank's shard of `model`."""
    _, family = model_config_of(hf_dir)
    tensors = family.from_hf(SafetensorsWeights(hf_dir), cfg, tensor_parallel, str(hf_dir))
    load_global(model, tensors, str(hf_dir))


def resolve_init_from(cfg):
    """A `TrainConfig` whose `init_from` is a Hugging Face directory, made consistent with it:
    with `preset: null` the architecture comes from its config.json (training knobs such as
    seq_length and dropout stay the run's); a named preset must have the same shape. The run's
    tokenizer defaults to the directory's own."""
    hf_dir = Path(cfg.init_from)
    theirs, family = model_config_of(hf_dir)
    ours = cfg.model
    if cfg.preset is None:
        shape = {name: getattr(theirs, name) for name in SHAPE_FIELDS}
        try:
            model = dataclasses.replace(ours, **shape)
        except ConfigError as exc:
            raise ConfigError(f"init_from {hf_dir}: {exc}") from None
        log.info("init_from %s: %s shape from its config.json (%s parameters)", hf_dir, family.ARCHITECTURE,
                 f"{model.parameters():,}")
    else:
        diffs = shape_differences(theirs, ours) if ours.vocab_size is not None else shape_differences(
            theirs, dataclasses.replace(ours, vocab_size=theirs.vocab_size))
        if diffs:
            raise ConfigError(f"init_from {hf_dir}: its config.json does not fit preset '{cfg.preset}' "
                              f"({'; '.join(diffs[:3])}, config.json vs preset); set preset: null to take "
                              "the shape from config.json")
        model = dataclasses.replace(ours, vocab_size=theirs.vocab_size)
    tokenizer = cfg.tokenizer
    if tokenizer is None and (hf_dir / "tokenizer.json").is_file():
        tokenizer = hf_dir
    return dataclasses.replace(cfg, model=model, tokenizer=tokenizer)


def import_hf(cfg: ImportConfig) -> dict[str, Any]:
    """Convert `cfg.hf` into a checkpoint at `cfg.output`; returns the import report."""
    from pretrain.config import TrainConfig

    if cfg.hf is None or cfg.output is None:
        raise ConfigError("pretrain import needs --hf DIR and --output CKPT")
    hf_dir, out = Path(cfg.hf), Path(cfg.output)
    if not hf_dir.is_dir():
        raise PretrainError(f"--hf {hf_dir}: no such directory; pass a Hugging Face model directory")
    if out.resolve() == hf_dir.resolve() or hf_dir.resolve() in out.resolve().parents:
        raise PretrainError(f"--output {out}: lies in --hf {hf_dir}; write the checkpoint elsewhere")
    if (out / "latest").exists():
        raise PretrainError(f"--output {out}: already holds a checkpoint (latest); choose another directory")
    model_cfg, family = model_config_of(hf_dir)
    if cfg.preset is not None:
        diffs = shape_differences(model_cfg, load_preset(cfg.preset))
        if diffs:
            raise PretrainError(f"{hf_dir / 'config.json'}: does not fit preset '{cfg.preset}' "
                                f"({'; '.join(diffs[:3])}, config.json vs preset); drop --preset to write a "
                                "matching one")
    tp, pp = cfg.tensor_parallel, cfg.pipeline_parallel
    world = parallel.world_size()
    if world != tp * pp:
        raise PretrainError(f"--tensor-parallel {tp} x --pipeline-parallel {pp} needs {tp * pp} processes, "
                            f"this is {world}: run `torchrun --nproc-per-node {tp * pp} -m starforge pretrain "
                            "import ...`")
    weights = SafetensorsWeights(hf_dir)  # opens (and so checks) every file before any work
    tensors = family.from_hf(weights, model_cfg, tp, str(hf_dir))
    preset = cfg.preset or matching_preset(model_cfg)
    tokenizer_dir = out / "tokenizer"
    torch.manual_seed(0)
    parallel.init_parallel(model_cfg, parallel.ParallelConfig(tp, pp), seed=0)
    try:
        rank0 = torch.distributed.get_rank() == 0
        if rank0:
            out.mkdir(parents=True, exist_ok=True)
            if preset is None:
                preset = str(_write_preset(model_cfg, out / "model.yaml", hf_dir))
            copied = _copy_tokenizer(hf_dir, tokenizer_dir)
        shared = [preset, copied if rank0 else None]
        torch.distributed.broadcast_object_list(shared, src=0)
        preset, copied = shared
        model = build_model(model_cfg, tp, pp)
        load_global(model, tensors, str(hf_dir))
        run = TrainConfig(preset=preset, model=model_cfg,
                          tokenizer=tokenizer_dir.resolve() if copied else None,
                          parallel=parallel.ParallelConfig(tp, pp), init_from=None)
        run_config = to_dict(run)
        meta = {"consumed_samples": 0, "global_batch": None, "tensor_parallel": tp, "pipeline_parallel": pp,
                "data_parallel": 1, "imported_from": str(hf_dir.resolve()), "architecture": family.ARCHITECTURE}
        if copied and (tokenizer_dir / "tokenizer.json").is_file():
            meta["tokenizer_fingerprint"] = fingerprint_of(tokenizer_dir)  # what its data must be tokenized with
        path = checkpoint.save(out, 0, model, None, meta, run_config)
        check: dict[str, Any] = {"skipped": f"{world} processes: export the checkpoint to compare"}
        if world == 1 and cfg.check_tokens > 0:
            check = _compare_with_transformers(model.eval(), model_cfg, family, hf_dir, cfg.check_tokens)
    finally:
        parallel.shutdown()
    report = {"hf": str(hf_dir), "architecture": family.ARCHITECTURE, "checkpoint": str(path), "preset": preset,
              "tokenizer": str(tokenizer_dir) if copied else None, "tensor_parallel": tp, "pipeline_parallel": pp,
              "parameters": model_cfg.parameters(), "tolerance": TOLERANCE, **check}
    if rank0:
        (out / "import_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if "max_abs_diff" in check:
        log.info("import: %s -> %s, logits max abs diff %.3e", hf_dir, path, check["max_abs_diff"])
        if not check["max_abs_diff"] <= TOLERANCE:  # NaN fails this, as it fails no `>=`
            raise PretrainError(f"import: logits differ by {check['max_abs_diff']:.3e} (tolerance {TOLERANCE}) between "
                                f"transformers and megatron-core; see {out / 'import_report.json'}")
    return report


def _write_preset(cfg: ModelConfig, path: Path, hf_dir: Path) -> Path:
    import yaml

    header = f"# written by `starforge pretrain import` for {hf_dir.resolve()}: no shipped preset has this shape\n"
    path.write_text(header + yaml.safe_dump(to_dict(cfg), sort_keys=False), encoding="utf-8")
    return path.resolve()


def _copy_tokenizer(hf_dir: Path, dest: Path) -> bool:
    files = [hf_dir / name for name in TOKENIZER_FILES if (hf_dir / name).is_file()]
    if not any(f.name in ("tokenizer.json", "vocab.json") for f in files):
        log.warning("%s: no tokenizer files; importing the model only (give the run a tokenizer)", hf_dir)
        return False
    dest.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy2(f, dest / f.name)
    return True


def _compare_with_transformers(model: torch.nn.Module, cfg: ModelConfig, family: Any, hf_dir: Path,
                               check_tokens: int) -> dict[str, Any]:
    from pretrain.step import causal_mask

    reference = family.model_class().from_pretrained(str(hf_dir), dtype=torch.float32,
                                                     attn_implementation="eager").eval()
    seq = min(check_tokens, cfg.seq_length)
    tokens = torch.randint(0, cfg.vocab_size, (2, seq), generator=torch.Generator().manual_seed(0))
    positions = torch.arange(seq).unsqueeze(0).expand_as(tokens)
    with torch.no_grad():
        ours = model(tokens, positions, causal_mask(seq, tokens.device))[..., : cfg.vocab_size].float()  # [b, s, V]
        theirs = reference(tokens).logits.float()  # [b, s, V]
    return {"max_abs_diff": float((ours - theirs).abs().max()), "compared_tokens": int(tokens.numel()),
            "logits_abs_max": float(ours.abs().max())}
