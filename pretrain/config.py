"""`TrainConfig`: everything one pretraining run reads, saved with every checkpoint."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pretrain.data import DataConfig, FimConfig
from pretrain.metrics import WandbConfig
from pretrain.model import ModelConfig, load_preset
from pretrain.optim import OptimConfig
from pretrain.parallel import ParallelConfig
from pretrain.seqvcr import SeqVcrConfig
from starforge.config import load_config, parse_scalar, read_yaml, resolve_preset, to_dict
from starforge.errors import ConfigError, PretrainError


@dataclass
class TrainConfig:
    preset: str | None = "tiny"
    """Model preset in configs/models/; keys under `model:` override it."""
    model: ModelConfig = field(default_factory=ModelConfig)
    tokenizer: Path | None = None
    """Hugging Face tokenizer directory (tokenizer.json); gives the vocabulary and FIM's special tokens."""
    data: DataConfig = field(default_factory=DataConfig)
    fim: FimConfig | None = field(default_factory=FimConfig)
    """Fill-in-the-middle per training sample; null turns it off."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    parallel: ParallelConfig = field(default_factory=ParallelConfig)
    out_dir: Path = Path("runs/pretrain")
    """metrics.jsonl, tb/, loss.png and checkpoints/ go here."""
    train_steps: int = 100
    micro_batch_size: int = 4
    grad_accum: int = 1
    """Microbatches per optimizer step (global batch = micro x accum x data-parallel size)."""
    seed: int = 1234
    """Seeds weight init and dropout; data order and FIM use data.seed."""
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    """auto: bf16 autocast on GPU, fp32 on CPU."""
    recompute: bool = False
    """Full activation recomputation of every layer (saves memory, costs a forward); keeps the
    autocast dtype under bf16 (`pretrain/attention.py`)."""
    attention: Literal["auto", "te", "sdpa", "local"] = "auto"
    """Core attention: auto = TransformerEngine's layer spec on GPUs when TE imports, else PyTorch
    SDPA in megatron-core's local spec (also on the CPU); local = megatron-core's unfused module."""
    log_interval: int = 10
    eval_interval: int | None = 50
    """Validation loss every N steps (and at the end); None turns it off."""
    eval_samples: int = 16
    save_interval: int | None = None
    """Checkpoint every N steps; one is always written at the end and on SIGTERM."""
    peak_flops: float = 989e12
    """Peak FLOP/s per device for MFU (default: H100 SXM dense bf16)."""
    tensorboard: bool = True
    wandb: WandbConfig | None = None
    """Weights & Biases logging from global rank 0 (`wandb.project` turns it on, needs the wandb
    package); null (default) is off and never imports wandb."""
    threads: int | None = None
    """torch intra-op threads on the CPU; None leaves torch's default."""
    seqvcr: SeqVcrConfig | None = None
    """Seq-VCR regulariser against representation collapse (arXiv 2411.02344); null (default) is off."""
    init_from: Path | None = None
    """Checkpoint (an iter_* folder, or a checkpoints/ folder with `latest`) or Hugging Face model
    directory (GPTBigCode, Starcoder2; converted on the fly, its shape taken with `preset: null`)
    whose model weights start this run with a fresh optimizer, schedule and step: continued
    pretraining (StarCoderBase -> StarCoder). Ignored on --resume, which restores the run's own
    checkpoint."""

    @property
    def checkpoint_dir(self) -> Path:
        return self.out_dir / "checkpoints"


def load_train_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (),
                      *, flags: dict[str, Any] | None = None, command: str | None = None,
                      **values: Any) -> TrainConfig:
    """YAML + flags + `--set` overrides (starforge.commands), the model starting from its preset;
    keyword values go first."""
    raw: dict[str, Any] = dict(values)
    if path is not None:
        raw.update(read_yaml(resolve_preset(path)))
    preset = (flags or {}).get("preset", raw.get("preset", TrainConfig.preset))
    for item in overrides:
        key, _, value = item.partition("=")
        if key.strip() == "preset":
            preset = parse_scalar(value)
    defaults = {**values}
    if preset:
        defaults["model"] = {**to_dict(load_preset(preset)), **values.get("model", {})}
    return load_config(TrainConfig, path, list(overrides), defaults=defaults, flags=flags, command=command)


def resolve(cfg: TrainConfig, vocab_size: int | None) -> TrainConfig:
    """Fill the model's vocabulary from the tokenizer and check that they agree."""
    model = dataclasses.replace(cfg.model)
    if model.vocab_size is None:
        if vocab_size is None:
            raise PretrainError("model.vocab_size is null and no tokenizer is set; set tokenizer: PATH")
        model.vocab_size = vocab_size
    elif vocab_size is not None and vocab_size > model.vocab_size:
        raise PretrainError(f"tokenizer has {vocab_size} tokens but model.vocab_size={model.vocab_size}; "
                            "set model.vocab_size: null to take it from the tokenizer")
    for name in ("train_steps", "micro_batch_size", "grad_accum", "log_interval"):
        if getattr(cfg, name) < 1:
            raise PretrainError(f"{name}={getattr(cfg, name)} must be >= 1")
    if cfg.seqvcr is not None:
        cfg.seqvcr.layer_index(model.num_layers)
        if cfg.recompute:
            raise ConfigError("seqvcr with recompute=true: recomputed layers run without autograd in the "
                              "forward hook; set recompute: false")
        if cfg.parallel.pipeline_parallel > 1:
            raise ConfigError(f"seqvcr with parallel.pipeline_parallel={cfg.parallel.pipeline_parallel}: the "
                              "Seq-VCR term is added outside the pipeline schedule; use pipeline_parallel: 1")
    return dataclasses.replace(cfg, model=model)
