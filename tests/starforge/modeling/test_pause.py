"""Pause tokens (`starforge/modeling/pause.py`): where they sit, and the refusal when the
tokenizer lacks `<pause>`, for a `tokenizers.Tokenizer` and a Hugging Face tokenizer alike."""

import pytest

from starforge.errors import ConfigError
from starforge.modeling.pause import PAUSE_TOKEN, pause_token_id, prompt_with_pauses, with_pauses


def word_tokenizer():
    """A word-level tokenizer without `<pause>` (a real `tokenizers.Tokenizer`, built here)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"<unk>": 0, "a": 1, "b": 2}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tok


def test_pauses_sit_between_question_and_answer_and_are_not_targets():
    ids, mask = with_pauses([5, 6, 7], [8, 9], num_pause=2, pause_id=2)
    assert ids == [5, 6, 7, 2, 2, 8, 9]
    assert mask == [False, False, False, False, False, True, True]


def test_inference_prompt_keeps_the_pauses():
    assert prompt_with_pauses([5, 6], num_pause=3, pause_id=2) == [5, 6, 2, 2, 2]
    assert prompt_with_pauses([5, 6], num_pause=0, pause_id=None) == [5, 6]


def test_tokenizer_without_pause_is_one_line_error_naming_the_key():
    with pytest.raises(ConfigError, match=r"num_pause > 0 but the tokenizer has no '<pause>' token") as info:
        pause_token_id(word_tokenizer())
    assert "\n" not in str(info.value)


def test_hugging_face_tokenizer_without_pause_is_refused_not_mapped_to_unk():
    from transformers import PreTrainedTokenizerFast

    hf = PreTrainedTokenizerFast(tokenizer_object=word_tokenizer(), unk_token="<unk>")
    with pytest.raises(ConfigError, match="finetune.num_pause > 0"):
        pause_token_id(hf, key="finetune.num_pause")
    hf.add_special_tokens({"additional_special_tokens": [PAUSE_TOKEN]})
    assert hf.convert_ids_to_tokens(pause_token_id(hf)) == PAUSE_TOKEN
