"""LoRA adapters through peft (`lora.enabled`), merged into the weights on save by default so the
output is a plain model directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from starforge.errors import FinetuneError


@dataclass
class LoraConfig:
    enabled: bool = False
    """Train LoRA adapters (peft) instead of all weights."""
    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: list[str] = field(default_factory=lambda: ["c_attn", "c_proj", "c_fc"])
    """Module names to adapt (GPTBigCode's attention and MLP projections)."""
    merge: bool = True
    """Merge the adapters into the weights on save, so the output is a plain model directory
    (`starforge eval` loads it as is); false saves the adapter only."""


def apply_lora(model, cfg: LoraConfig, where: str):
    """`model` wrapped by peft; a target module the model lacks is a one-line error listing its linear modules."""
    import peft

    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    absent = [t for t in cfg.target_modules if t not in names]
    if absent:
        raise FinetuneError(f"{where}: LoRA target module(s) {', '.join(absent)} not in the model; "
                            f"linear modules there: {', '.join(sorted(_linear_names(model)))}")
    pcfg = peft.LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                           target_modules=list(cfg.target_modules), task_type="CAUSAL_LM")
    return peft.get_peft_model(model, pcfg)


def _linear_names(model) -> set[str]:
    import torch

    return {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}


def save_model(model, tokenizer, output_dir: Path, lora: LoraConfig) -> None:
    if lora.enabled and lora.merge:
        model = model.merge_and_unload()
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
