"""Pause tokens (Goyal et al., arXiv 2310.02226; used with Seq-VCR in arXiv 2411.02344):
`num_pause` copies of one `<pause>` special token between a question and its answer. They give
the model extra positions to compute before it must answer; they are never loss targets, and
they stay in the prompt at inference (the model was trained to see them).

Works with a `tokenizers.Tokenizer` and with a Hugging Face tokenizer (`get_vocab`), so
`pretrain` and `finetune` insert them the same way.
"""

from __future__ import annotations

from typing import Any

from starforge.errors import ConfigError

PAUSE_TOKEN = "<pause>"


def pause_token_id(tokenizer: Any, key: str = "num_pause") -> int:
    """Id of `<pause>`; a one-line ConfigError naming `key` when the tokenizer lacks it."""
    if hasattr(tokenizer, "token_to_id"):  # tokenizers.Tokenizer
        token_id = tokenizer.token_to_id(PAUSE_TOKEN)
    else:  # transformers tokenizer: look the token up, never fall back to <unk>
        token_id = tokenizer.get_vocab().get(PAUSE_TOKEN)
    if token_id is None:
        raise ConfigError(f"{key} > 0 but the tokenizer has no '{PAUSE_TOKEN}' token; add it as a special "
                          f"token to the tokenizer or set {key}: 0")
    return int(token_id)


def with_pauses(question: list[int], answer: list[int], num_pause: int,
                pause_id: int | None) -> tuple[list[int], list[bool]]:
    """question + `num_pause` pauses + answer, and the loss mask over those tokens: true only on
    answer tokens (a token is a loss target when its mask is true; pauses and the question are not)."""
    if num_pause < 0:
        raise ConfigError(f"num_pause={num_pause} must be >= 0")
    if num_pause and pause_id is None:
        raise ConfigError("num_pause > 0 needs the '<pause>' token id; get it with pause_token_id(tokenizer)")
    pauses = [pause_id] * num_pause if num_pause else []
    ids = list(question) + pauses + list(answer)
    mask = [False] * (len(question) + num_pause) + [True] * len(answer)
    return ids, mask


def prompt_with_pauses(question: list[int], num_pause: int, pause_id: int | None) -> list[int]:
    """The inference prompt: the pauses are kept, generation starts after them."""
    return with_pauses(question, [], num_pause, pause_id)[0]
