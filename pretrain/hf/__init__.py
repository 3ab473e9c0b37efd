"""Hugging Face model directories <-> our checkpoint tensors, one module per architecture.

Our side is always the *checkpoint form*: the global tensors megatron-core's dist-checkpointing
stores for a `GPTModel` built from `pretrain.model.build_model`, keys without the `model.`
prefix, per-layer tensors stacked on a leading layer axis (`decoder.layers.<name>` [L, ...]),
the word embeddings (and an untied output layer) padded to the tensor-parallel vocabulary.
A family module maps that form to and from one transformers architecture:

    gpt_bigcode.py   GPTBigCodeForCausalLM   StarCoder, StarCoderBase, SantaCoder
    starcoder2.py    Starcoder2ForCausalLM   StarCoder2

and turns a `config.json` into a `ModelConfig` (refusing, with the field named, what our
model cannot hold). `weights.py` reads the safetensors files; `pretrain/hf_import.py` and
`pretrain/export.py` are the two directions as commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

from starforge.errors import PretrainError


def is_hf_dir(path: Path) -> bool:
    """A transformers model directory (config.json) rather than one of our checkpoints (meta.json)."""
    path = Path(path)
    return (path / "config.json").is_file() and not (path / "meta.json").is_file() and not (path / "latest").is_file()


def read_config(hf_dir: Path) -> dict[str, Any]:
    path = Path(hf_dir) / "config.json"
    if not path.is_file():
        raise PretrainError(f"{hf_dir}: no config.json; pass a Hugging Face model directory "
                            "(what `save_pretrained` writes)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise PretrainError(f"{path}: not valid JSON ({exc}); download it again") from None
    if not isinstance(config, dict):
        raise PretrainError(f"{path}: expected a JSON object")
    return config


def families() -> dict[str, ModuleType]:
    from pretrain.hf import gpt_bigcode, starcoder2

    return {gpt_bigcode.ARCHITECTURE: gpt_bigcode, starcoder2.ARCHITECTURE: starcoder2}


def family_of_config(config: dict[str, Any], where: str) -> ModuleType:
    """The family module of a config.json, by `architectures` (else `model_type`)."""
    known = families()
    by_type = {m.MODEL_TYPE: m for m in known.values()}
    archs = config.get("architectures") or []
    for arch in archs:
        if arch in known:
            return known[arch]
    if not archs and config.get("model_type") in by_type:
        return by_type[config["model_type"]]
    found = ", ".join(archs) or f"model_type {config.get('model_type')!r}"
    raise PretrainError(f"{where}: architecture {found} is not one we convert; supported: "
                        f"{', '.join(sorted(known))} (StarCoder, StarCoderBase, SantaCoder, StarCoder2)")


def family_of_model(cfg) -> ModuleType:
    """Learned absolute positions export as GPTBigCode, RoPE as Starcoder2."""
    from pretrain.hf import gpt_bigcode, starcoder2

    return gpt_bigcode if cfg.position_embedding_type == "learned_absolute" else starcoder2
