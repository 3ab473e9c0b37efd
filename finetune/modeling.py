"""Seq-VCR and pause tokens as finetune uses them, from the shared `starforge/modeling/` (both
trainers import them from there): the one place finetune names them."""

from starforge.modeling.pause import PAUSE_TOKEN, pause_token_id
from starforge.modeling.seqvcr import SeqVcrConfig, SeqVcrRegularizer

__all__ = ["PAUSE_TOKEN", "SeqVcrConfig", "SeqVcrRegularizer", "pause_token_id"]
