"""Instruction tuning on TRL's `SFTTrainer` (full fine-tuning or peft LoRA), configured, not
re-written: `sft()` reads the records (`finetune/sft_data.py`: problem, instruction, chat and
commit formats), loads the model (`finetune/models.py`, shared with `finetune rl`: the
tokenizer's own chat template where it has one, else StarChat's), wraps it with LoRA
(`finetune/lora.py`), trains (`finetune/sft_trainer.py`: TRL's trainer, Seq-VCR, pause tokens)
and writes the model, `metrics.jsonl`, `summary.json` and the loss plot (`starforge/plots.py`).

Packing (`packing: true`) uses TRL's best-fit-decreasing packing, which is padding-free:
sequences are concatenated with restarting `position_ids`. Only flash attention turns those
into separate sequences; on the CPU (sdpa/eager) GPTBigCode attends across the packed examples
(shown in `tests/finetune/test_sft.py`), so `sft` refuses packing there instead of training on
that leak.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from finetune.lora import LoraConfig, apply_lora, save_model
from finetune.models import load_model_and_tokenizer, use_cpu
from finetune.sft_config import SFTConfig
from finetune.sft_data import read_sft_records
from finetune.sft_trainer import add_pauses, make_trainer
from starforge.config import save_config, to_dict
from starforge.errors import FinetuneError
from starforge.plots import plot_history_loss
from starforge.run_dir import write_summary

__all__ = ["LoraConfig", "SFTConfig", "load_model_and_tokenizer", "read_sft_records", "sft"]

log = logging.getLogger(__name__)


def sft(model_dir: str | Path, data: str | Path, output_dir: str | Path, cfg: SFTConfig | None = None) -> dict[str, Any]:
    """Fine-tune `model_dir` on `data`; writes the model, `config.yaml`, `metrics.jsonl`,
    `summary.json` under `output_dir` and returns the summary."""
    import torch
    from transformers import EarlyStoppingCallback

    cfg = cfg or SFTConfig()
    use_cpu(cfg.device)  # a bad device fails before anything is written
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    model, tokenizer = load_model_and_tokenizer(model_dir)
    if cfg.num_pause:
        add_pauses([], tokenizer, cfg.num_pause)  # fail before reading data or training
    if cfg.seqvcr is not None:
        cfg.seqvcr.layer_index(model.config.num_hidden_layers)
    pairs = read_sft_records(Path(data), tokenizer)
    if cfg.valid_file is not None:
        valid = read_sft_records(cfg.valid_file, tokenizer)
        train_pairs = pairs
    else:
        import random

        order = list(range(len(pairs)))
        random.Random(cfg.seed).shuffle(order)
        n_valid = max(1, int(len(pairs) * cfg.valid_share)) if cfg.valid_share > 0 and len(pairs) > 1 else 0
        valid = [pairs[i] for i in order[:n_valid]]
        train_pairs = [pairs[i] for i in order[n_valid:]]
    attn = getattr(model.config, "_attn_implementation", None) or ""
    if cfg.packing and not attn.startswith("flash_attention"):
        raise FinetuneError(f"{model_dir}: packing needs flash_attention_2/3 (attention here: {attn or 'eager'}); "
                            "TRL's padding-free packing would let packed examples attend to each other. "
                            "Set packing: false, or load the model with flash attention on a GPU")
    if cfg.lora.enabled:
        model = apply_lora(model, cfg.lora, str(model_dir))
    callbacks = []
    if valid and cfg.early_stopping_patience is not None:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_patience))
    trainer = make_trainer(model, tokenizer, cfg, out, train_pairs, valid, callbacks)
    start = time.monotonic()
    valid_start = trainer.evaluate()["eval_loss"] if valid else math.nan
    result = trainer.train()
    valid_end = trainer.evaluate()["eval_loss"] if valid else math.nan
    seconds = time.monotonic() - start
    save_model(trainer.model, tokenizer, out, cfg.lora)
    history = trainer.state.log_history
    with (out / "metrics.jsonl").open("w", encoding="utf-8") as fh:
        for row in history:
            fh.write(json.dumps(row) + "\n")
    summary = {
        "records": len(pairs), "train_records": len(train_pairs), "valid_records": len(valid),
        "steps": trainer.state.global_step, "train_loss": result.training_loss,
        "valid_loss_start": valid_start, "valid_loss_end": valid_end,
        "tokens_trained": int(trainer.state.num_input_tokens_seen or 0) or _count_tokens(trainer),
        "seconds": round(seconds, 2), "output": str(out), "lora": to_dict(cfg.lora),
    }
    write_summary(out, "finetune", summary, {"model": str(out)}, command="finetune sft")
    plot_history_loss(history, out / "loss.png")
    log.info("sft: %d steps in %.1fs, valid loss %.3f -> %.3f; model in %s", summary["steps"], seconds,
             valid_start, valid_end, out)
    return summary


def _count_tokens(trainer) -> int:
    """Tokens the optimizer saw (non-padding), estimated from the dataset when TRL did not count."""
    ds = trainer.train_dataset
    per_example = sum(len(x) for x in ds["input_ids"]) / max(1, len(ds))
    return int(per_example * trainer.args.per_device_train_batch_size * trainer.state.global_step)
