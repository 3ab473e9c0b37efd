"""Loading and saving the Hugging Face model both trainers fine-tune (`finetune sft` and
`finetune rl`), and the device they train on.

The chat template is the tokenizer's own where it has one (`tokenizer.chat_template`, as the
model's authors wrote it); a tokenizer without one (a base model such as StarCoderBase, or our
exports) gets StarChat's (`<|system|>`, `<|user|>`, `<|assistant|>`, `<|end|>`, the tokens a
model lacks added as special tokens and the embeddings resized), saved with the tokenizer, so
the output directory loads in `starforge eval` and `transformers` as is. StarCoder's commit
tokens are added the same way (the commit SFT format uses them).
"""

from __future__ import annotations

import logging
from pathlib import Path

from starforge.errors import FinetuneError, FormatError
from starforge.formats.hf_model import check_weights
from starforge.formats.tokenizer import CHAT_TOKENS, COMMIT_TOKENS

log = logging.getLogger(__name__)

STARCHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
"""StarChat's layout: `<|role|>\\ncontent<|end|>\\n` per turn (HuggingFaceH4/starchat-alpha)."""
DEVICES = ("auto", "cpu", "cuda")


def use_cpu(device: str, key: str = "device") -> bool:
    """Whether the HF Trainer runs on the CPU: `auto` means CUDA when torch sees a GPU."""
    import torch

    if device not in DEVICES:
        raise FinetuneError(f"{key}={device!r}: choose from {', '.join(DEVICES)}")
    if device == "cuda" and not torch.cuda.is_available():
        raise FinetuneError(f"{key}=cuda but torch sees no CUDA device; set {key}: cpu (or auto)")
    return device == "cpu" or (device == "auto" and not torch.cuda.is_available())


def load_tokenizer(model_dir: str | Path):
    """The model's tokenizer with a pad token, a chat template (its own, else StarChat's) and the
    commit tokens; tokens it lacked are added (`load_model_and_tokenizer` resizes the model for them)."""
    from transformers import AutoTokenizer

    path = Path(model_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError, KeyError) as exc:
        raise FinetuneError(f"{path}: model directory does not load ({str(exc).splitlines()[0]})") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    own_template = bool(getattr(tokenizer, "chat_template", None))
    wanted = COMMIT_TOKENS + (() if own_template else CHAT_TOKENS)
    missing = [t for t in wanted if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing})
    if own_template:
        log.info("finetune: %s has its own chat template; chat and instruction records use it", path)
    else:
        tokenizer.chat_template = STARCHAT_TEMPLATE
    return tokenizer


def load_model_and_tokenizer(model_dir: str | Path):
    """An HF causal LM (fp32) + `load_tokenizer`'s tokenizer, the embeddings resized for added
    tokens; anything that does not load is a one-line `FinetuneError` (a truncated
    `model.safetensors` named, not safetensors' traceback)."""
    from transformers import AutoModelForCausalLM

    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise FinetuneError(f"{path}: not a Hugging Face model directory (no config.json); "
                            "export a checkpoint with `starforge pretrain export`")
    try:
        check_weights(path)
    except FormatError as exc:
        raise FinetuneError(f"--model {model_dir}: {exc}") from None
    tokenizer = load_tokenizer(path)
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype="float32")
    except (OSError, ValueError, KeyError) as exc:
        raise FinetuneError(f"{path}: model directory does not load ({str(exc).splitlines()[0]})") from None
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer))
    return model, tokenizer
