"""One tokenizer for a model and its data: which tokenizer the model has, and refusals when
shards or checkpoints say another made them (issue 19: "a model and its data must share one
tokenizer").

The model's tokenizer is, in order: the run's `tokenizer:`; else the one recorded in the
checkpoint it starts from (`init_from`, `--resume`: meta.json `tokenizer_fingerprint`); a
Hugging Face `init_from` defaults `tokenizer:` to the directory's own (`hf_import`). Where two
of these exist they must agree (the same fingerprint, starforge/formats/tokenizer.py), and the
shards of every `data.sources` entry must have been made by it (their meta.json,
starforge/formats/shards.py). The fingerprint is then stored in every checkpoint's meta.json,
so `finetune continue` and export check against it later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pretrain import checkpoint, hf
from starforge.errors import PretrainError
from starforge.formats.shards import describe
from starforge.formats.tokenizer import fingerprint_of, tokenizer_fingerprint

KEY = "tokenizer_fingerprint"


def model_tokenizer(cfg: Any, tokenizer: Any, resume: bool) -> tuple[dict[str, Any] | None, str | None]:
    """(fingerprint, where it comes from) of the model's tokenizer; refuses a run whose tokenizer
    differs from its starting checkpoint's or Hugging Face directory's."""
    fingerprint = tokenizer_fingerprint(tokenizer) if tokenizer is not None else None
    where = str(cfg.tokenizer) if tokenizer is not None else None
    source = _starting_checkpoint(cfg, resume)
    if source is not None:
        recorded = checkpoint.read_meta(source).get(KEY)
        if recorded and fingerprint and recorded["sha256"] != fingerprint["sha256"]:
            raise PretrainError(f"{source}: the checkpoint was trained with tokenizer "
                                f"{describe(recorded, 'its meta.json')}, this run's tokenizer is "
                                f"{describe(fingerprint, where)}; set tokenizer: to the checkpoint's")
        if recorded and fingerprint is None:
            fingerprint, where = recorded, f"{source}/meta.json"
    elif (cfg.init_from is not None and not resume and hf.is_hf_dir(cfg.init_from) and fingerprint
          and (Path(cfg.init_from) / "tokenizer.json").is_file()
          and Path(cfg.init_from).resolve() != Path(cfg.tokenizer).resolve()):
        theirs = fingerprint_of(cfg.init_from)
        if theirs["sha256"] != fingerprint["sha256"]:
            raise PretrainError(f"init_from {cfg.init_from}: the model's own tokenizer is "
                                f"{describe(theirs, cfg.init_from)}, this run's tokenizer is "
                                f"{describe(fingerprint, where)}; drop tokenizer: to use the model's")
    return fingerprint, where


def _starting_checkpoint(cfg: Any, resume: bool) -> Path | None:
    if resume:
        last = checkpoint.latest_step(cfg.checkpoint_dir)
        return checkpoint.iter_dir(cfg.checkpoint_dir, last) if last is not None else None
    if cfg.init_from is not None and not hf.is_hf_dir(cfg.init_from):
        return checkpoint.resolve(cfg.init_from)
    return None
