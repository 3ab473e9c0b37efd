"""Instruction tuning on TRL's `SFTTrainer` (full fine-tuning or peft LoRA), configured, not
re-written.

Every record becomes a prompt/completion pair, so TRL computes the loss on the completion only
(`completion_only_loss`, its default for such data):

- problem: `{"prompt", "solution"}` (the generated family, `finetune/problems.py`), or plain
  `{"prompt", "completion"}`: code continuation, the completion ends with `<|endoftext|>`;
- instruction: `{"instruction", "input"?, "response"}`, rendered with the chat template;
- chat: `{"messages": [{"role", "content"}, ...]}`; the loss covers the last assistant turn,
  earlier turns are context (a limit: multi-turn data trains on its final answer only);
- commit: `{"before", "message", "after"}` (CommitPack's `old_contents`, `subject`/`message`,
  `new_contents` accepted), as StarCoder's `<commit_before>..<commit_msg>..<commit_after>..`.

The chat template uses StarChat's tokens (`<|system|>`, `<|user|>`, `<|assistant|>`, `<|end|>`);
tokens a model lacks are added as special tokens (embeddings resized) and the template is saved
with the tokenizer, so the output directory loads in `starforge eval` and `transformers` as is.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pretrain.pause import PAUSE_TOKEN, pause_token_id
from pretrain.seqvcr import SeqVcrConfig
from starforge.config import save_config, to_dict
from starforge.errors import ConfigError, FinetuneError, FormatError
from starforge.formats.tokenizer import CHAT_TOKENS, COMMIT_TOKENS
from starforge.run_dir import write_summary

log = logging.getLogger(__name__)

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
"""StarChat's layout: `<|role|>\\ncontent<|end|>\\n` per turn."""


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
    threads: int | None = 1
    """torch threads; null leaves torch's default."""
    lora: LoraConfig = field(default_factory=LoraConfig)
    seqvcr: SeqVcrConfig | None = None
    """Seq-VCR regulariser (`pretrain/seqvcr.py`, docs/seqvcr.md) on one block's output; null: off
    (plain `SFTTrainer`, no hook, no projection)."""
    num_pause: int = 0
    """`<pause>` tokens between prompt and completion, never loss targets; the tokenizer must have
    `<pause>`. Keep them in the prompt at inference."""


# -- data --------------------------------------------------------------------------------------

def record_to_pair(rec: Any, eos: str, where: str) -> dict[str, str]:
    """One input record as {"prompt", "completion"}; `FormatError` names `where` if it fits no format."""
    if not isinstance(rec, dict):
        raise FormatError(f"{where}: expected a JSON object")

    def text(key: str, *alts: str, required: bool = True) -> str:
        for k in (key, *alts):
            if k in rec:
                if not isinstance(rec[k], str):
                    raise FormatError(f"{where}: field '{k}' must be a string, got {type(rec[k]).__name__}")
                return rec[k]
        if required:
            raise FormatError(f"{where}: missing field '{key}'")
        return ""

    if "messages" in rec:
        msgs = rec["messages"]
        if not isinstance(msgs, list) or not msgs:
            raise FormatError(f"{where}: 'messages' must be a non-empty list of {{role, content}}")
        for i, m in enumerate(msgs):
            if not (isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)):
                raise FormatError(f"{where}: messages[{i}] needs string 'role' and 'content'")
        if msgs[-1]["role"] != "assistant":
            raise FormatError(f"{where}: the last message must be the assistant's (the trained response)")
        return {"prompt": render_chat(msgs[:-1], add_generation_prompt=True),
                "completion": msgs[-1]["content"] + "<|end|>\n" + eos}
    if "instruction" in rec:
        instruction, extra = text("instruction"), text("input", required=False)
        user = instruction + (f"\n\n{extra}" if extra else "")
        return {"prompt": render_chat([{"role": "user", "content": user}], add_generation_prompt=True),
                "completion": text("response", "output") + "<|end|>\n" + eos}
    if any(k in rec for k in ("before", "old_contents")):
        before = text("before", "old_contents")
        msg = text("message", "subject")
        return {"prompt": f"<commit_before>{before}<commit_msg>{msg}<commit_after>",
                "completion": text("after", "new_contents") + eos}
    if "prompt" in rec and ("solution" in rec or "completion" in rec):
        return {"prompt": text("prompt"), "completion": text("completion", "solution") + eos}
    raise FormatError(f"{where}: record fits no SFT format; expected instruction/response, messages, "
                      "before/message/after (commit) or prompt/solution")


def render_chat(messages: list[dict[str, str]], add_generation_prompt: bool = False) -> str:
    out = "".join(f"<|{m['role']}|>\n{m['content']}<|end|>\n" for m in messages)
    return out + ("<|assistant|>\n" if add_generation_prompt else "")


def read_sft_records(path: Path, eos: str) -> list[dict[str, str]]:
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: SFT data file not found")
    pairs = []
    for lineno, line in enumerate(path.open(encoding="utf-8"), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FormatError(f"{path}:{lineno}: not JSON ({exc.msg})") from None
        pairs.append(record_to_pair(rec, eos, f"{path}:{lineno}"))
    if not pairs:
        raise FormatError(f"{path}: no SFT records")
    return pairs


# -- model -------------------------------------------------------------------------------------

def load_model_and_tokenizer(model_dir: str | Path):
    """An HF causal LM + tokenizer; anything that does not load is a one-line `FinetuneError`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise FinetuneError(f"{path}: not a Hugging Face model directory (no config.json); "
                            "export a checkpoint with `starforge pretrain export`")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype="float32")
    except (OSError, ValueError, KeyError) as exc:
        raise FinetuneError(f"{path}: model directory does not load ({str(exc).splitlines()[0]})") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    missing = [t for t in CHAT_TOKENS + COMMIT_TOKENS if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing})
        model.resize_token_embeddings(len(tokenizer))
    tokenizer.chat_template = CHAT_TEMPLATE
    return model, tokenizer


def apply_lora(model, cfg: LoraConfig, where: str):
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


# -- training ----------------------------------------------------------------------------------

def add_pauses(pairs: list[dict[str, str]], tokenizer, num_pause: int) -> list[dict[str, str]]:
    """`num_pause` `<pause>` tokens appended to each prompt: prompt tokens, so TRL's
    `completion_only_loss` keeps them out of the loss. One-line ConfigError naming `num_pause`
    when the tokenizer has no `<pause>` (`pretrain.pause.pause_token_id`)."""
    if num_pause < 0:
        raise ConfigError(f"num_pause={num_pause} must be >= 0")
    if not num_pause:
        return pairs
    pause_token_id(tokenizer, "num_pause")
    return [{**p, "prompt": p["prompt"] + PAUSE_TOKEN * num_pause} for p in pairs]


def _seqvcr_trainer_class():
    """`SFTTrainer` + Seq-VCR: the one place the regulariser enters the HF loss (`compute_loss`)."""
    from trl import SFTTrainer

    from pretrain.seqvcr import SeqVcrRegularizer

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
        use_cpu=True, bf16=False, fp16=False, gradient_checkpointing=False,
        dataloader_num_workers=0, disable_tqdm=True, save_only_model=True,
    )


def sft(model_dir: str | Path, data: str | Path, output_dir: str | Path, cfg: SFTConfig | None = None) -> dict[str, Any]:
    """Fine-tune `model_dir` on `data`; writes the model, `config.yaml`, `metrics.jsonl`,
    `summary.json` under `output_dir` and returns the summary."""
    import torch
    from transformers import EarlyStoppingCallback

    cfg = cfg or SFTConfig()
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
    pairs = read_sft_records(Path(data), tokenizer.eos_token)
    if cfg.valid_file is not None:
        valid = read_sft_records(cfg.valid_file, tokenizer.eos_token)
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
    _plot(history, out / "loss.png")
    log.info("sft: %d steps in %.1fs, valid loss %.3f -> %.3f; model in %s", summary["steps"], seconds,
             valid_start, valid_end, out)
    return summary


def _count_tokens(trainer) -> int:
    """Tokens the optimizer saw (non-padding), estimated from the dataset when TRL did not count."""
    ds = trainer.train_dataset
    per_example = sum(len(x) for x in ds["input_ids"]) / max(1, len(ds))
    return int(per_example * trainer.args.per_device_train_batch_size * trainer.state.global_step)


def _plot(history: list[dict[str, Any]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(5, 3))
    for key in ("loss", "eval_loss"):
        pts = [(r["step"], r[key]) for r in history if key in r]
        if pts:
            ax.plot(*zip(*pts), label=key)
    ax.set_xlabel("step")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
