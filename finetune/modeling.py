"""Seq-VCR and pause tokens as finetune uses them: the one place finetune imports them from, so
their move to the shared `starforge/modeling/` package (issue #15: both trainers import them
from there) changes these lines only."""

from pretrain.pause import PAUSE_TOKEN, pause_token_id
from pretrain.seqvcr import SeqVcrConfig, SeqVcrRegularizer

__all__ = ["PAUSE_TOKEN", "SeqVcrConfig", "SeqVcrRegularizer", "pause_token_id"]
