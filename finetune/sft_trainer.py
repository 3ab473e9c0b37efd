"""The SFT trainer: TRL's `SFTTrainer` configured from `SFTConfig`, or its Seq-VCR subclass
(`seqvcr` set), with `<pause>` tokens added to the prompts (`num_pause`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from finetune.modeling import PAUSE_TOKEN, SeqVcrConfig, SeqVcrRegularizer, pause_token_id
from finetune.models import use_cpu
from finetune.sft_config import SFTConfig
from starforge.errors import ConfigError


def add_pauses(pairs: list[dict[str, str]], tokenizer, num_pause: int) -> list[dict[str, str]]:
    """`num_pause` `<pause>` tokens appended to each prompt: prompt tokens, so TRL's
    `completion_only_loss` keeps them out of the loss. One-line ConfigError naming `num_pause`
    when the tokenizer has no `<pause>` (`pause_token_id`)."""
    if num_pause < 0:
        raise ConfigError(f"num_pause={num_pause} must be >= 0")
    if not num_pause:
        return pairs
    pause_token_id(tokenizer, "num_pause")
    return [{**p, "prompt": p["prompt"] + PAUSE_TOKEN * num_pause} for p in pairs]


def _seqvcr_trainer_class():
    """`SFTTrainer` + Seq-VCR: the one place the regulariser enters the HF loss (`compute_loss`)."""
    from trl import SFTTrainer

    class SeqVcrSFTTrainer(SFTTrainer):
        """A forward hook keeps the output of `transformer.h[layer-1]` (before the final LayerNorm
        for the last block, as the megatron-core hook); `compute_loss` adds
        `lambda_var * var + lambda_cov * cov` of its projection to TRL's LM loss in training
        (evaluation losses stay the LM loss). The projection belongs to the trainer (its own
        optimizer group, not clipped with the model, not saved with the model)."""

        def __init__(self, *args, seqvcr: SeqVcrConfig, **kwargs):
            model = kwargs["model"]
            base = model.get_base_model() if hasattr(model, "get_base_model") else model
            blocks = base.transformer.h
            layer = seqvcr.layer_index(len(blocks))
            ref = next(base.parameters())
            # built before SFTTrainer.__init__ reseeds, so the model's run is unchanged by it
            self.seqvcr_reg = SeqVcrRegularizer(seqvcr, base.config.hidden_size).to(ref.device, ref.dtype)
            self._seqvcr_hidden = None
            self._seqvcr_handle = blocks[layer - 1].register_forward_hook(self._seqvcr_hook)
            super().__init__(*args, **kwargs)

        def _seqvcr_hook(self, module, args, output) -> None:
            if self._seqvcr_hidden is None:  # the loss's forward; not TRL's extra no-grad logits pass
                self._seqvcr_hidden = output[0] if isinstance(output, (tuple, list)) else output

        def create_optimizer(self, *args, **kwargs):
            opt = super().create_optimizer(*args, **kwargs)
            opt.add_param_group({"params": list(self.seqvcr_reg.parameters()), "weight_decay": 0.0})
            return opt

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            self._seqvcr_hidden = None
            res = super().compute_loss(model, inputs, return_outputs=return_outputs,
                                       num_items_in_batch=num_items_in_batch)
            loss, outputs = res if return_outputs else (res, None)
            hidden, self._seqvcr_hidden = self._seqvcr_hidden, None
            if self.model.training and hidden is not None and hidden.shape[0] >= 2:
                # right padding stays out of the batch statistics (packed rows carry no mask: no padding)
                mask = inputs.get("attention_mask")
                loss = loss + self.seqvcr_reg(hidden, mask if mask is not None and mask.shape == hidden.shape[:2] else None)
                for k, v in self.seqvcr_reg.last.items():
                    self._metrics["train"][k].append(float(v))
            return (loss, outputs) if return_outputs else loss

        def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
            if self.model.training and "loss" in logs and self.seqvcr_reg.last_hidden is not None:
                m = self.seqvcr_reg.metrics()
                logs.update({k: m[k] for k in ("seqvcr_entropy", "seqvcr_effective_rank")})
            super().log(logs, start_time)

    return SeqVcrSFTTrainer


def make_trainer(model, tokenizer, cfg: SFTConfig, output_dir: Path, train_pairs: list[dict[str, str]],
                 valid: list[dict[str, str]], callbacks: list | None = None):
    """TRL's `SFTTrainer`, or `SeqVcrSFTTrainer` when `cfg.seqvcr` is set; pauses added to the data."""
    from datasets import Dataset
    from trl import SFTTrainer

    train_pairs = add_pauses(train_pairs, tokenizer, cfg.num_pause)
    valid = add_pauses(valid, tokenizer, cfg.num_pause)
    args = trl_sft_args(cfg, output_dir, bool(valid))
    kwargs: dict[str, Any] = dict(model=model, args=args, processing_class=tokenizer,
                                  train_dataset=Dataset.from_list(train_pairs),
                                  eval_dataset=Dataset.from_list(valid) if valid else None,
                                  callbacks=callbacks or [])
    if cfg.seqvcr is None:
        return SFTTrainer(**kwargs)
    return _seqvcr_trainer_class()(seqvcr=cfg.seqvcr, **kwargs)


def trl_sft_args(cfg: SFTConfig, output_dir: Path, has_valid: bool):
    from trl import SFTConfig as TrlSFTConfig

    return TrlSFTConfig(
        output_dir=str(output_dir / "trainer"), max_steps=cfg.max_steps, learning_rate=cfg.lr,
        per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=cfg.batch_size,
        max_length=cfg.max_length, warmup_steps=cfg.warmup_steps, weight_decay=cfg.weight_decay,
        lr_scheduler_type="cosine", packing=cfg.packing, completion_only_loss=True,
        eval_strategy="steps" if has_valid else "no", eval_steps=cfg.eval_steps,
        save_strategy="steps" if has_valid else "no", save_steps=cfg.eval_steps, save_total_limit=2,
        load_best_model_at_end=has_valid and cfg.early_stopping_patience is not None,
        metric_for_best_model="eval_loss", greater_is_better=False,
        logging_steps=max(1, cfg.eval_steps // 5), report_to=[], seed=cfg.seed, data_seed=cfg.seed,
        use_cpu=use_cpu(cfg.device), bf16=False, fp16=False, gradient_checkpointing=False,
        dataloader_num_workers=0, disable_tqdm=True, save_only_model=True,
    )


