"""The n x m multiplication task of the Seq-VCR bench (pause tokens themselves:
tests/starforge/modeling/test_pause.py)."""

import numpy as np
import pytest

from pretrain.tasks.multiplication import (
    MultiplicationTask,
    format_example,
    multiplication_tokenizer,
    parse_answer,
)
from starforge.errors import ConfigError


def test_task_needs_pause_token_only_when_pausing():
    task = MultiplicationTask(2, 2, num_heldout=10)
    ids, _ = task.encode([(12, 34)], multiplication_tokenizer(pause=False), num_pause=0)
    assert ids.shape == (1, 11)  # 2 + 2 + 2 question, 4 answer digits, eos
    with pytest.raises(ConfigError, match="num_pause"):
        task.encode([(12, 34)], multiplication_tokenizer(pause=False), num_pause=2)


def test_format_is_lsd_first_one_token_per_digit_product_zero_padded():
    assert format_example(12, 34, 2, 2) == ("2 1 * 4 3 =", "8 0 4 0 <|endoftext|>")
    assert format_example(10, 10, 2, 2)[1] == "0 0 1 0 <|endoftext|>"  # 100 padded to 4 digits
    assert format_example(999, 99, 3, 2)[1] == "1 0 9 8 9 <|endoftext|>"  # 98901


def test_encoded_rows_align_and_mask_only_the_answer():
    task = MultiplicationTask(3, 2, num_heldout=20)
    tok = multiplication_tokenizer()
    ids, mask = task.encode([(123, 45), (999, 99)], tok, num_pause=2)
    assert ids.shape == mask.shape == (2, 3 + 2 + 2 + 2 + 5 + 1)
    assert mask.sum(axis=1).tolist() == [6, 6] and not mask[:, : task.prompt_length(2)].any()
    row = [tok.id_to_token(t) for t in ids[0]]
    assert row[:9] == ["3", "2", "1", "*", "5", "4", "=", "<pause>", "<pause>"]
    assert parse_answer(row[9:], 3, 2) == 123 * 45


def test_train_pairs_never_include_heldout_pairs():
    task = MultiplicationTask(2, 2, num_heldout=2000, seed=3)
    assert len(set(task.heldout)) == 2000
    train = task.train_pairs(np.random.default_rng(0), 20000)
    assert not set(train) & set(task.heldout)
    assert all(10 <= a <= 99 and 10 <= b <= 99 for a, b in train)
    assert MultiplicationTask(2, 2, num_heldout=2000, seed=3).heldout == task.heldout  # split is seeded


def test_parse_answer_rejects_malformed_output():
    assert parse_answer(["1", "2"], 2, 2) is None
    assert parse_answer(["1", "<pause>", "2", "3"], 2, 2) is None


def test_heldout_larger_than_half_the_space_is_refused():
    with pytest.raises(ConfigError, match=r"task.num_heldout=50 must be in 1..40"):
        MultiplicationTask(1, 1, num_heldout=50)


@pytest.mark.slow
def test_bench_prints_one_json_line_with_every_variant(capsys):
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench.seqvcr import main

    main(["--seeds", "2", "--steps", "15", "--batch", "16", "--workers", "1", "--heldout", "40",
          "--projection", "64"])
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("baseline", "pause", "seqvcr", "seqvcr_pause"):
        assert 0.0 <= last[key] <= 1.0 and key in last["spread"] and key in last["entropy"]
    assert last["task"] == "2x2" and last["seeds"] == 2
