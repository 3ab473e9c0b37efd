"""Cutting a completion at its task's stop words, for eval's post-processing and RL's rewards
alike (bigcode-evaluation-harness's `_stop_at_stop_token`, `bigcode_eval/tasks/humaneval.py`)."""

from __future__ import annotations

from collections.abc import Iterable


def stop_at_stop_words(text: str, stop_words: Iterable[str]) -> str:
    """The prefix of `text` ending at the earliest stop word."""
    cut = len(text)
    for word in stop_words:
        index = text.find(word)
        if index != -1 and index < cut:
            cut = index
    return text[:cut]
