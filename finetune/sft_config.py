"""`finetune sft`'s config (`--help-config` lists it; configs/finetune/*.yaml set it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from finetune.lora import LoraConfig
from finetune.modeling import SeqVcrConfig


@dataclass
class SFTConfig:
    max_steps: int = 200
    """Optimizer steps (early stopping may end sooner)."""
    lr: float = 1e-3
    batch_size: int = 8
    max_length: int = 256
    """Tokens per example (packed row length when packing)."""
    warmup_steps: int = 10
    weight_decay: float = 0.0
    valid_share: float = 0.1
    """Share of records held out as the valid split (at least one record)."""
    valid_file: Path | None = None
    """A separate valid JSONL instead of `valid_share`."""
    eval_steps: int = 25
    """Valid loss every this many steps."""
    early_stopping_patience: int | None = 3
    """Stop after this many evaluations without a better valid loss; null: never."""
    packing: bool = False
    """Pack examples into `max_length` rows without attention across them (padding-free)."""
    seed: int = 0
    device: str = "auto"
    """auto (CUDA when torch sees a GPU, else the CPU), cpu or cuda."""
    threads: int | None = 1
    """torch threads; null leaves torch's default."""
    lora: LoraConfig = field(default_factory=LoraConfig)
    seqvcr: SeqVcrConfig | None = None
    """Seq-VCR regulariser (docs/seqvcr.md) on one block's output; null: off
    (plain `SFTTrainer`, no hook, no projection)."""
    num_pause: int = 0
    """`<pause>` tokens between prompt and completion, never loss targets; the tokenizer must have
    `<pause>`. Keep them in the prompt at inference."""
